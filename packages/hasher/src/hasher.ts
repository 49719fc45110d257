import { Worker } from 'node:worker_threads'
import { withDefaults } from '@arachnid/core/with-defaults'
import { HasherUnavailableError, HashTimeoutError, hashErrorFromJSON } from './hash-error.js'
import { hashImage } from './hash-image.js'
import { DEFAULT_HASH_OPTIONS, type HashOptions, resolveHashOptions } from './hash-options.js'
import type { ImageHashes } from './image-hashes.js'
import type { WorkerRequest, WorkerResponse, WorkerSetup } from './worker-protocol.js'

/** Options of a `Hasher`: the per-image bounds of `hashImage` plus how work is spread. */
export interface HasherOptions extends HashOptions {
  /**
   * Worker threads. 0 hashes on the calling thread (sharp still decodes on libuv's thread pool).
   * Default 0: measured on 2 cores, workers did not pay (see bench/hasher/README.md).
   */
  readonly workers?: number
  /**
   * Inputs in flight at once per worker (or on the calling thread when `workers` is 0), so that
   * one input's decode overlaps another's hashing. Further calls wait in a queue. Default 4.
   */
  readonly concurrency?: number
  /**
   * Extra time, past `timeoutMs`, after which a worker that has not answered is terminated and
   * replaced (its input fails with TIMEOUT). Only with `workers` > 0. Default 5000 ms.
   */
  readonly watchdogGraceMs?: number
}

/** The defaults, in one place. */
export const DEFAULT_HASHER_OPTIONS: Required<HasherOptions> = {
  ...DEFAULT_HASH_OPTIONS,
  workers: 0,
  concurrency: 4,
  watchdogGraceMs: 5000,
}

interface Job {
  readonly bytes: Uint8Array
  readonly resolve: (hashes: ImageHashes) => void
  readonly reject: (error: unknown) => void
}

interface Slot {
  readonly worker: Worker
  readonly inFlight: Map<number, { job: Job; timer: NodeJS.Timeout }>
}

/**
 * Hashes many inputs with bounded concurrency, on the calling thread or on a pool of worker
 * threads. Owns its workers: `close()` waits for accepted inputs and then ends them.
 *
 * @example
 * const hasher = new Hasher({ workers: 2 })
 * try {
 *   const hashes = await Promise.all(images.map((bytes) => hasher.hash(bytes)))
 * } finally {
 *   await hasher.close()
 * }
 */
export class Hasher {
  readonly #options: Required<HasherOptions>
  readonly #hashOptions: Required<HashOptions>
  readonly #slots: Slot[] = []
  readonly #queue: Job[] = []
  #inProcess = 0
  #nextId = 1
  #closing = false
  #drained: (() => void) | undefined

  constructor(options: HasherOptions = {}) {
    const { workers, concurrency, watchdogGraceMs, ...hashOptions } = withDefaults(DEFAULT_HASHER_OPTIONS, options)
    for (const [key, value] of [['workers', workers], ['concurrency', concurrency], ['watchdogGraceMs', watchdogGraceMs]] as const) {
      if (!Number.isInteger(value) || value < (key === 'workers' ? 0 : 1)) throw new RangeError(`${key} must be an integer >= ${key === 'workers' ? 0 : 1}, got ${value}`)
    }
    this.#hashOptions = resolveHashOptions(hashOptions)
    this.#options = { ...this.#hashOptions, workers, concurrency, watchdogGraceMs }
    for (let i = 0; i < workers; i++) this.#slots.push(this.#spawn())
  }

  /** Hashes one input; rejects with a `HashError` like `hashImage`, or code CLOSED after `close()`. */
  hash(bytes: Uint8Array): Promise<ImageHashes> {
    if (this.#closing) return Promise.reject(new HasherUnavailableError('CLOSED', 'hasher is closed'))
    return new Promise<ImageHashes>((resolve, reject) => {
      this.#queue.push({ bytes, resolve, reject })
      this.#pump()
    })
  }

  /** Stops accepting inputs, waits for the accepted ones, then ends the workers. Idempotent. */
  async close(): Promise<void> {
    this.#closing = true
    if (this.#busy()) await new Promise<void>((resolve) => (this.#drained = resolve))
    const slots = this.#slots.splice(0)
    await Promise.all(slots.map((slot) => slot.worker.terminate()))
  }

  #busy(): boolean {
    return this.#queue.length > 0 || this.#inProcess > 0 || this.#slots.some((slot) => slot.inFlight.size > 0)
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      if (this.#options.workers === 0) {
        if (this.#inProcess >= this.#options.concurrency) break
        this.#runInProcess(this.#queue.shift()!)
        continue
      }
      const slot = this.#slots.reduce<Slot | undefined>((best, s) => (best === undefined || s.inFlight.size < best.inFlight.size ? s : best), undefined)
      if (slot === undefined || slot.inFlight.size >= this.#options.concurrency) break
      this.#post(slot, this.#queue.shift()!)
    }
    if (!this.#busy() && this.#drained !== undefined) {
      this.#drained()
      this.#drained = undefined
    }
  }

  #runInProcess(job: Job): void {
    this.#inProcess++
    hashImage(job.bytes, this.#hashOptions)
      .then(job.resolve, job.reject)
      .finally(() => {
        this.#inProcess--
        this.#pump()
      })
  }

  #post(slot: Slot, job: Job): void {
    const id = this.#nextId++
    const timer = setTimeout(() => this.#watchdog(slot, id), this.#options.timeoutMs + this.#options.watchdogGraceMs)
    slot.inFlight.set(id, { job, timer })
    if (slot.inFlight.size === 1) slot.worker.ref()
    // An exact-size copy, transferred: the caller's buffer stays usable and no larger backing store
    // is cloned. Not job.bytes.slice(): on a Buffer that is a view of the same memory, and
    // transferring it detached the caller's bytes (an HTTP body, say).
    const bytes = new Uint8Array(job.bytes)
    slot.worker.postMessage({ id, bytes } satisfies WorkerRequest, [bytes.buffer])
  }

  #spawn(): Slot {
    const setup: WorkerSetup = { options: this.#hashOptions }
    const worker = new Worker(new URL('./hash-worker-loader.mjs', import.meta.url), { workerData: setup })
    const slot: Slot = { worker, inFlight: new Map() }
    worker.unref() // idle workers must not keep the process alive; ref'd while work is in flight
    worker.on('message', (response: WorkerResponse) => {
      const entry = slot.inFlight.get(response.id)
      if (entry === undefined) return
      this.#settle(slot, response.id)
      if (response.ok) entry.job.resolve(response.hashes)
      else entry.job.reject(hashErrorFromJSON(response.error))
      this.#pump()
    })
    worker.on('error', (error) => this.#replace(slot, error))
    worker.on('exit', (code) => this.#replace(slot, new Error(`hash worker exited with code ${code}`)))
    return slot
  }

  #settle(slot: Slot, id: number): void {
    const entry = slot.inFlight.get(id)
    if (entry === undefined) return
    clearTimeout(entry.timer)
    slot.inFlight.delete(id)
    if (slot.inFlight.size === 0) slot.worker.unref()
  }

  /** A worker that stopped answering: its input fails with TIMEOUT, the others on it go back to the queue. */
  #watchdog(slot: Slot, id: number): void {
    const entry = slot.inFlight.get(id)
    if (entry === undefined) return
    this.#settle(slot, id)
    entry.job.reject(new HashTimeoutError(`hash worker did not answer within ${this.#options.timeoutMs + this.#options.watchdogGraceMs} ms; worker replaced`))
    const others = [...slot.inFlight.keys()].map((other) => {
      const job = slot.inFlight.get(other)!.job
      this.#settle(slot, other)
      return job
    })
    this.#queue.unshift(...others)
    this.#retire(slot)
    void slot.worker.terminate()
  }

  /** A worker died: what it held fails with INTERNAL (retryable), and a new one takes its place. */
  #replace(slot: Slot, cause: unknown): void {
    for (const [id, { job }] of [...slot.inFlight]) {
      this.#settle(slot, id)
      job.reject(new HasherUnavailableError('INTERNAL', `hash worker failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause }))
    }
    this.#retire(slot)
  }

  #retire(slot: Slot): void {
    const index = this.#slots.indexOf(slot)
    if (index === -1) return
    this.#slots.splice(index, 1)
    if (!this.#closing || this.#busy()) this.#slots.push(this.#spawn())
    this.#pump()
  }
}
