import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { BatchHits, HammingTables } from './batched-search.js'

/** A batch for a worker: the probes `probes[0..count*8]`, searched in `tables` within `threshold`. */
export interface SearchRequest {
  readonly id: number
  readonly tables: HammingTables
  readonly probes: Uint32Array
  readonly count: number
  readonly threshold: number
}

export type SearchResponse =
  | { readonly id: number; readonly ok: true; readonly hits: BatchHits }
  | { readonly id: number; readonly ok: false; readonly error: string }

interface Slot {
  readonly worker: Worker
  readonly pending: Map<number, { resolve: (hits: BatchHits) => void; reject: (error: Error) => void }>
}

/** Fewest probes per thread of one batch. */
const MIN_PART = 2048

/** Worker threads by default: one per core, at most 4. */
export const DEFAULT_HAMMING_THREADS = Math.min(4, availableParallelism())

/**
 * Worker threads that run the batched Hamming search (`searchTables`) over an index held in
 * SharedArrayBuffers: a batch's probes are split into one contiguous part per thread, so each
 * core sweeps the same tables for its own probes. Started on first use; idle workers do not keep
 * the process alive; `close()` ends them.
 *
 * @example
 * const threads = new HammingThreads(2)
 * const hits = await threads.search(index.tables, probeWords, probeWords.length / 8, 31)
 * await threads.close()
 */
export class HammingThreads {
  readonly threads: number
  #slots: Slot[] = []
  #nextId = 0
  #turn = 0
  #closed = false

  constructor(threads = DEFAULT_HAMMING_THREADS) {
    this.threads = Math.max(1, threads)
  }

  /** Same hits as `searchTables(tables, probes, count, threshold)`, found by the workers. */
  async search(tables: HammingTables, probes: Uint32Array, count: number, threshold: number): Promise<BatchHits> {
    if (this.#closed) throw new Error('HammingThreads is closed')
    while (this.#slots.length < this.threads) this.#slots.push(this.#spawn())
    // A part too small makes the sweeps sparse: 1000 probes measured slower on 2 threads than on
    // one; small batches go to one worker each, taking turns, so concurrent calls use every core.
    const parts = Math.min(this.threads, Math.max(1, Math.ceil(count / MIN_PART)))
    const per = Math.ceil(count / parts)
    const first = this.#turn++
    const results = await Promise.all(Array.from({ length: parts }, (_, k) => {
      const from = Math.min(count, k * per)
      const to = Math.min(count, from + per)
      return this.#post(this.#slots[(first + k) % this.#slots.length]!, tables, probes.slice(from * 8, to * 8), to - from, threshold)
        .then((hits) => ({ from, hits }))
    }))
    // Each part is sorted by probe and the parts are in probe order, so concatenation keeps the order.
    const length = results.reduce((n, r) => n + r.hits.length, 0)
    const out = { length, probes: new Uint32Array(length), positions: new Uint32Array(length), distances: new Uint16Array(length) }
    let at = 0
    for (const { from, hits } of results) {
      for (let x = 0; x < hits.length; x++) out.probes[at + x] = hits.probes[x]! + from
      out.positions.set(hits.positions.subarray(0, hits.length), at)
      out.distances.set(hits.distances.subarray(0, hits.length), at)
      at += hits.length
    }
    return out
  }

  /** Ends the workers; searches in flight fail. */
  async close(): Promise<void> {
    this.#closed = true
    const slots = this.#slots
    this.#slots = []
    await Promise.all(slots.map((s) => s.worker.terminate()))
  }

  #post(slot: Slot, tables: HammingTables, probes: Uint32Array, count: number, threshold: number): Promise<BatchHits> {
    const id = this.#nextId++
    return new Promise<BatchHits>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject })
      if (slot.pending.size === 1) slot.worker.ref()
      const request: SearchRequest = { id, tables, probes, count, threshold }
      slot.worker.postMessage(request, [probes.buffer as ArrayBuffer])
    })
  }

  #spawn(): Slot {
    const worker = new Worker(new URL('./hamming-worker-loader.mjs', import.meta.url))
    const slot: Slot = { worker, pending: new Map() }
    worker.unref() // idle workers must not keep the process alive; ref'd while a search is in flight
    worker.on('message', (response: SearchResponse) => {
      const entry = slot.pending.get(response.id)
      if (entry === undefined) return
      slot.pending.delete(response.id)
      if (slot.pending.size === 0) worker.unref()
      if (response.ok) entry.resolve(response.hits)
      else entry.reject(new Error(`Hamming search worker failed: ${response.error}`))
    })
    const fail = (error: Error): void => {
      // A dead worker is replaced on the next search; what it held fails now.
      this.#slots = this.#slots.filter((s) => s !== slot)
      for (const { reject } of slot.pending.values()) reject(error)
      slot.pending.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`Hamming search worker exited with code ${code}`)))
    return slot
  }
}
