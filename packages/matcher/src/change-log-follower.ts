import type { Selectable } from 'kysely'
import { type Database, type HashListChangeTable, type Kysely, sql } from '@arachnid/core'
import type { PerceptualAlgorithm } from './algorithms.js'
import { bytesToWords } from './hamming.js'
import type { LiveList, PerceptualIndex } from './perceptual-index.js'

export interface ChangeLogFollowerOptions {
  /** How often, at most, `fresh()` polls the change log (one small query); 0 polls on every call. */
  readonly refreshIntervalMs: number
  /**
   * A version activation with more perceptual rows than this loads in the background while the
   * previous version keeps matching; smaller ones are applied before `fresh()` returns.
   */
  readonly backgroundLoadRows: number
  /** Rows per page when loading a version (one query each, so PGlite's single connection keeps serving others). */
  readonly loadPageRows: number
  /** Frames of video entries with a lower PDQ quality are not indexed (vPDQ compares good frames only). */
  readonly pdqMinQuality: number
}

/** Change-log rows read per query. */
const POLL_PAGE = 1000

type ChangeRow = Pick<Selectable<HashListChangeTable>, 'id' | 'list_id' | 'version_id' | 'kind' | 'first_id' | 'last_id' | 'known_hash_ids'>

/**
 * Keeps a `PerceptualIndex` equal to the perceptual entries of the active list versions in
 * Postgres (the source of truth): loads every active version once, then follows the change log
 * (`hash_list_changes`, written in commit order by `recordChanges`) and applies each change as a
 * delta: a version activated (loaded in full, in the background when large), rows added,
 * rows retracted, a list's thresholds changed. The cursor moves past every change read, applied
 * or skipped, so none is read twice.
 */
export class ChangeLogFollower {
  readonly #db: Kysely<Database>
  readonly #index: PerceptualIndex
  readonly #options: ChangeLogFollowerOptions
  #ready = false
  #versionLoads = 0
  #changeId = '0'
  #lastPoll = 0
  #syncing: Promise<void> | undefined
  #heavyStarted: (() => void) | undefined
  #heavyGate: Promise<void> = new Promise(() => {})

  constructor(db: Kysely<Database>, index: PerceptualIndex, options: ChangeLogFollowerOptions) {
    this.#db = db
    this.#index = index
    this.#options = options
  }

  /** Last change-log id applied. */
  get changeId(): string {
    return this.#changeId
  }

  /** Whole versions loaded so far (initial load and activations); deltas do not count. */
  get versionLoads(): number {
    return this.#versionLoads
  }

  /** Applies every change committed so far (loading new versions in full) before returning. */
  async refresh(): Promise<void> {
    // A sync under way may have read the log before the latest commit: wait for it, and for any
    // that another caller started meanwhile (two at once would apply the same rows twice), then
    // start one of our own; nothing runs between the loop's last check and #startSync.
    while (this.#syncing !== undefined) await this.#syncing.catch(() => {})
    this.#lastPoll = Date.now()
    await this.#startSync()
  }

  /**
   * Waits for the change log to be applied (polling it at most every `refreshIntervalMs`), unless
   * only a large version load is left: then the previous version answers meanwhile.
   */
  fresh(): Promise<void> {
    if (this.#syncing === undefined && this.#ready && Date.now() - this.#lastPoll < this.#options.refreshIntervalMs) return Promise.resolve()
    if (this.#syncing === undefined) {
      this.#lastPoll = Date.now()
      void this.#startSync().catch(() => {})
    }
    if (!this.#ready) return this.#syncing!
    return Promise.race([this.#syncing!, this.#heavyGate])
  }

  #startSync(): Promise<void> {
    this.#heavyGate = new Promise((resolve) => { this.#heavyStarted = resolve })
    const syncing = (this.#ready ? this.#poll() : this.#initialLoad()).finally(() => {
      this.#syncing = undefined
      this.#heavyStarted = undefined
    })
    this.#syncing = syncing
    syncing.catch(() => {}) // awaited by callers; never an unhandled rejection when only the gate was awaited
    return syncing
  }

  async #listStates(): Promise<Map<number, LiveList>> {
    const rows = await this.#db.selectFrom('hash_lists as l').innerJoin('hash_list_versions as v', 'v.id', 'l.active_version_id')
      .select(['l.id', 'l.name', 'l.active_version_id', 'v.version', 'l.pdq_threshold', 'l.blockhash_threshold']).execute()
    return new Map(rows.map((r) => [r.id, {
      listId: r.id, name: r.name, versionId: r.active_version_id!, version: r.version,
      pdqThreshold: r.pdq_threshold, blockhashThreshold: r.blockhash_threshold,
    }]))
  }

  async #initialLoad(): Promise<void> {
    // Changes up to here are in the rows read below; later ones are applied as deltas (idempotently).
    const head = await this.#db.selectFrom('hash_list_changes').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst()
    const lists = await this.#listStates()
    for (const state of lists.values()) await this.#loadVersion(state)
    this.#index.setLive(lists.values())
    this.#changeId = String(head?.id ?? '0')
    this.#ready = true
  }

  /** Applies the change log after the cursor, 1,000 changes per read, until it is read to the end. */
  async #poll(): Promise<void> {
    for (;;) {
      const changes = await this.#db.selectFrom('hash_list_changes').where('id', '>', this.#changeId)
        .select(['id', 'list_id', 'version_id', 'kind', 'first_id', 'last_id', 'known_hash_ids']).orderBy('id').limit(POLL_PAGE).execute()
      if (changes.length === 0) return
      const lists = await this.#listStates()
      for (const change of changes) {
        await this.#apply(change, lists.get(change.list_id))
        // Past every change read, applied or skipped: a skipped one is never read again.
        this.#changeId = String(change.id)
      }
      // Names and thresholds (kind 'settings') are refreshed for every live version.
      this.#index.updateLists(lists.values())
      if (changes.length < POLL_PAGE) return
    }
  }

  async #apply(change: ChangeRow, state: LiveList | undefined): Promise<void> {
    if (change.kind === 'activate') {
      // Only the version active now matters; an activation already superseded (or loaded) is skipped.
      if (state === undefined || state.versionId !== change.version_id || this.#index.isLive(state.versionId)) return
      const rows = await this.#db.selectFrom('hash_list_versions').where('id', '=', state.versionId).select('rows').executeTakeFirst()
      if ((rows?.rows ?? 0) > this.#options.backgroundLoadRows) this.#heavyStarted?.()
      await this.#loadVersion(state)
      this.#index.activate(state)
    } else if (change.kind === 'add') {
      // Rows added to a version no longer (or not yet) live are not matched; its activation loads them in full.
      if (!this.#index.isLive(change.version_id) || change.first_id === null || change.last_id === null) return
      await this.#loadRange(change.version_id, change.first_id, change.last_id, true)
    } else if (change.kind === 'retract') {
      await this.#retract(change.known_hash_ids ?? [])
    }
  }

  async #loadVersion(state: LiveList): Promise<void> {
    this.#versionLoads++
    const v = await this.#db.selectFrom('hash_list_versions').where('id', '=', state.versionId).select(['first_id', 'last_id']).executeTakeFirst()
    let first = v?.first_id ?? null
    let last = v?.last_id ?? null
    if (first === null || last === null) {
      // Versions imported before first_id/last_id existed.
      const range = await this.#db.selectFrom('known_hashes').where('version_id', '=', state.versionId)
        .select((eb) => [eb.fn.min('id').as('first'), eb.fn.max('id').as('last')]).executeTakeFirst()
      first = range?.first ?? null
      last = range?.last ?? null
    }
    if (first === null || last === null) return
    await this.#loadRange(state.versionId, first, last, false)
  }

  /** Loads the live perceptual rows of a version with ids in first..last, page by page, into the index. */
  async #loadRange(versionId: number, first: number, last: number, delta: boolean): Promise<void> {
    const acc = new Map<PerceptualAlgorithm, { ids: number[]; chunks: Uint8Array[] }>()
    const step = this.#options.loadPageRows
    for (let from = first; from <= last; from += step) {
      const to = Math.min(last, from + step - 1)
      const page = await sql<{ algorithm: PerceptualAlgorithm; ids: number[]; hashes: Uint8Array }>`
        select algorithm, array_agg(id order by id) as ids, string_agg(hash, ''::bytea order by id) as hashes
        from known_hashes
        where id between ${from} and ${to} and version_id = ${versionId} and retracted_at is null and algorithm in ('pdq', 'blockhash')
        group by algorithm`.execute(this.#db)
      for (const r of page.rows) {
        const rows = acc.get(r.algorithm) ?? { ids: [], chunks: [] }
        for (const id of r.ids) rows.ids.push(Number(id))
        rows.chunks.push(r.hashes)
        acc.set(r.algorithm, rows)
      }
    }
    for (const [algorithm, rows] of acc) {
      await this.#index.add(algorithm, bytesToWords(rows.chunks, rows.ids.length), Int32Array.from(rows.ids), versionId, delta)
    }
    await this.#loadVideoRange(versionId, first, last, delta)
  }

  /**
   * The frames of the video entries (`vpdq`) with ids in first..last: each good frame is indexed
   * under its entry's id, so a search finds the videos a query frame is near.
   */
  async #loadVideoRange(versionId: number, first: number, last: number, delta: boolean): Promise<void> {
    const ids: number[] = []
    const chunks: Uint8Array[] = []
    const step = Math.max(1, Math.floor(this.#options.loadPageRows / 100))
    for (let from = first; from <= last; from += step) {
      const to = Math.min(last, from + step - 1)
      const rows = await this.#db.selectFrom('known_hashes').where('id', '>=', from).where('id', '<=', to)
        .where('version_id', '=', versionId).where('retracted_at', 'is', null).where('algorithm', '=', 'vpdq')
        .select(['id', 'frames', 'frame_qualities']).execute()
      for (const r of rows) {
        const frames = r.frames ?? new Uint8Array(0)
        const qualities = r.frame_qualities ?? new Uint8Array(0)
        for (let f = 0; f * 32 + 32 <= frames.length; f++) {
          if ((qualities[f] ?? 0) < this.#options.pdqMinQuality) continue
          ids.push(r.id)
          chunks.push(frames.subarray(f * 32, f * 32 + 32))
        }
      }
    }
    if (ids.length > 0) await this.#index.add('vpdq', bytesToWords(chunks, ids.length), Int32Array.from(ids), versionId, delta)
  }

  async #retract(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return
    const rows = await this.#db.selectFrom('known_hashes').where('id', 'in', [...ids]).where('algorithm', 'in', ['pdq', 'blockhash'])
      .select(['id', 'algorithm', 'hash']).execute()
    for (const r of rows) this.#index.retract(r.algorithm as PerceptualAlgorithm, bytesToWords([r.hash], 1), 0, r.id)
    const videos = await this.#db.selectFrom('known_hashes').where('id', 'in', [...ids]).where('algorithm', '=', 'vpdq').select('id').execute()
    for (const r of videos) this.#index.retractId('vpdq', r.id)
  }
}
