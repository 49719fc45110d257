import type { Selectable } from 'kysely'
import { type Kysely, type Database, type HashListChangeTable, bytesToHex, sql } from '@arachnid/core'
import { type Algorithm, type PerceptualAlgorithm, PERCEPTUAL_ALGORITHMS, isPerceptual, normaliseHash } from './algorithms.js'
import { hexToWords } from './hamming.js'
import { HammingIndex, type HammingIndexOptions } from './hamming-index.js'

export interface MatcherOptions {
  /** Largest blockhash distance (of 256 bits) that counts as a match, for lists without their own. Default 24. */
  readonly blockhashThreshold?: number
  /** Largest PDQ distance that counts as a match, for lists without their own. Default 31. */
  readonly pdqThreshold?: number
  /** PDQ probes of lower quality are not matched. Default 50. */
  readonly pdqMinQuality?: number
  /**
   * How often, at most, a match call polls the change log (one small query) for new, retracted or
   * re-versioned hashes. Default 200 ms; 0 polls on every call with perceptual probes.
   */
  readonly refreshIntervalMs?: number
  /**
   * A version activation with more perceptual rows than this loads in the background while the
   * previous version keeps matching; smaller ones are applied before the match call returns. Default 100000.
   */
  readonly backgroundLoadRows?: number
  /** Rows per page when loading a version (one query each, so PGlite's single connection keeps serving others). Default 100000. */
  readonly loadPageRows?: number
  /** Index tuning (chunk bits of the multi-index hash); the default is what measured fastest. */
  readonly index?: HammingIndexOptions
}

export const DEFAULT_MATCHER_OPTIONS = {
  blockhashThreshold: 24, pdqThreshold: 31, pdqMinQuality: 50, refreshIntervalMs: 200,
  backgroundLoadRows: 100_000, loadPageRows: 100_000, index: {} as HammingIndexOptions,
} as const

export interface Probe {
  readonly algorithm: Algorithm
  /** Hex, any case. */
  readonly hash: string
  /** PDQ quality of the probe; probes below the minimum are not matched. */
  readonly quality?: number
  /**
   * PDQ only: the dihedral hashes of the same image (rotations and flips, as the hasher returns them
   * with `dihedral: true`). The probe matches an entry when any of them is within the threshold; the
   * smallest distance is reported, with `transform` its index in this array.
   */
  readonly dihedral?: readonly string[]
}

export interface KnownMatch {
  readonly knownHashId: number
  readonly listId: number
  readonly list: string
  readonly listVersion: number
  readonly algorithm: Algorithm
  /** The list entry's hash, lowercase hex. */
  readonly hash: string
  readonly distance: number
  readonly category: string | null
  readonly externalId: string | null
  /** Which of the probe's dihedral hashes matched (index into `Probe.dihedral`); absent for the hash itself. */
  readonly transform?: number
}

/** What the matcher holds in memory, for monitoring and the benchmark. */
export interface MatcherStats {
  readonly entries: Readonly<Record<PerceptualAlgorithm, number>>
  readonly segments: number
  /** Bytes of hashes and index tables. */
  readonly indexBytes: number
  /** Last change-log id applied. */
  readonly changeId: string
  /** Whole versions loaded so far (initial load and activations); deltas do not count. */
  readonly versionLoads: number
}

interface ListState {
  readonly listId: number
  readonly name: string
  readonly versionId: number
  readonly version: number
  readonly pdqThreshold: number | null
  readonly blockhashThreshold: number | null
}

/** An immutable slice of a list's perceptual hashes with its index; retraction only sets `dead`. */
interface Segment {
  readonly index: HammingIndex
  readonly ids: Int32Array
  readonly versionIds: Int32Array
  readonly dead: Uint8Array
  readonly versions: ReadonlySet<number>
}

interface Rows { ids: number[]; versionIds: number[]; chunks: Uint8Array[] }

const TAIL_MAX = 2048
const MAX_SEGMENTS = 8
/** Change-log rows read per query. */
const POLL_PAGE = 1000

type ChangeRow = Pick<Selectable<HashListChangeTable>, 'id' | 'list_id' | 'version_id' | 'kind' | 'first_id' | 'last_id' | 'known_hash_ids'>

/**
 * Matches hashes against the active versions of every list. Exact algorithms go through the
 * database's (algorithm, hash) index; perceptual ones through an in-memory multi-index hash over
 * every active PDQ and blockhash entry, kept fresh from Postgres (the source of truth) by applying
 * the change log as deltas. Each batch costs one query (plus, at most every `refreshIntervalMs`, one
 * change-log poll): exact lookups and the confirmation of perceptual candidates (still active, not
 * retracted, with category and external id) are one statement, so a retraction or a version switch
 * is honoured at once even before the poll.
 *
 * @example
 * const matcher = new Matcher(db, { pdqThreshold: 31 })
 * const [found] = await matcher.match([{ algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' }])
 */
export class Matcher {
  readonly #db: Kysely<Database>
  readonly #options: Required<MatcherOptions>
  readonly #segments = new Map<PerceptualAlgorithm, Segment[]>(PERCEPTUAL_ALGORITHMS.map((a) => [a, []]))
  /** Active version id -> its list, for every list whose version is loaded. */
  #live = new Map<number, ListState>()
  #ready = false
  #versionLoads = 0
  #changeId = '0'
  #lastPoll = 0
  #syncing: Promise<void> | undefined
  #heavyStarted: (() => void) | undefined
  #heavyGate: Promise<void> = new Promise(() => {})

  constructor(db: Kysely<Database>, options: MatcherOptions = {}) {
    this.#db = db
    this.#options = { ...DEFAULT_MATCHER_OPTIONS, ...options }
  }

  get options(): Required<MatcherOptions> {
    return this.#options
  }

  /** The matches of each probe, in probe order, nearest first. Malformed probes match nothing. */
  async match(probes: readonly Probe[]): Promise<KnownMatch[][]> {
    const results: KnownMatch[][] = probes.map(() => [])
    const exact: { index: number; algorithm: Algorithm; hex: string }[] = []
    const perceptual: { index: number; algorithm: PerceptualAlgorithm; hexes: string[] }[] = []
    probes.forEach((probe, index) => {
      const norm = normaliseHash(probe.algorithm, probe.hash)
      if ('error' in norm) return
      if (isPerceptual(probe.algorithm)) {
        if (probe.algorithm === 'pdq' && probe.quality !== undefined && probe.quality < this.#options.pdqMinQuality) return
        const hexes = [norm.hex]
        if (probe.algorithm === 'pdq') {
          for (const d of probe.dihedral ?? []) {
            const n = normaliseHash('pdq', d)
            hexes.push('error' in n ? '' : n.hex)
          }
        }
        perceptual.push({ index, algorithm: probe.algorithm, hexes })
      } else exact.push({ index, algorithm: probe.algorithm, hex: norm.hex })
    })

    // Perceptual candidates: probe index -> known hash id -> { distance, transform }.
    const candidates = new Map<number, Map<number, { distance: number; transform: number }>>()
    if (perceptual.length > 0) {
      await this.#fresh()
      const words = new Uint32Array(8)
      for (const p of perceptual) {
        const found = new Map<number, { distance: number; transform: number }>()
        const max = this.#maxThreshold(p.algorithm)
        p.hexes.forEach((hex, t) => {
          if (hex === '') return
          hexToWords(hex, words)
          for (const segment of this.#segments.get(p.algorithm)!) {
            segment.index.search(words, 0, max, (j, distance) => {
              if (segment.dead[j] === 1) return
              const state = this.#live.get(segment.versionIds[j]!)
              if (state === undefined || distance > this.#threshold(state, p.algorithm)) return
              const id = segment.ids[j]!
              const seen = found.get(id)
              if (seen === undefined || distance < seen.distance) found.set(id, { distance, transform: t })
            })
          }
        })
        if (found.size > 0) candidates.set(p.index, found)
      }
    }

    const ids = [...new Set([...candidates.values()].flatMap((m) => [...m.keys()]))]
    if (exact.length > 0 || ids.length > 0) {
      const rows = await sql<{ i: number; id: number; list_id: number; name: string; version: number; algorithm: Algorithm; hash: Uint8Array; category: string | null; external_id: string | null }>`
        select p.i, k.id, k.list_id, l.name, v.version, k.algorithm, k.hash, k.category, k.external_id
        from unnest(${exact.map((e) => e.index)}::int[], ${exact.map((e) => e.algorithm)}::text[], ${exact.map((e) => e.hex)}::text[]) as p(i, algorithm, hex)
        join known_hashes k on k.algorithm = p.algorithm and k.hash = decode(p.hex, 'hex')
        join hash_lists l on l.active_version_id = k.version_id
        join hash_list_versions v on v.id = k.version_id
        where k.retracted_at is null
        union all
        select -1, k.id, k.list_id, l.name, v.version, k.algorithm, k.hash, k.category, k.external_id
        from known_hashes k
        join hash_lists l on l.active_version_id = k.version_id
        join hash_list_versions v on v.id = k.version_id
        where k.id = any(${ids}::int[]) and k.retracted_at is null`.execute(this.#db)
      const confirmed = new Map<number, (typeof rows.rows)[number]>()
      for (const r of rows.rows) {
        if (r.i >= 0) {
          results[r.i]!.push({
            knownHashId: r.id, listId: r.list_id, list: r.name, listVersion: r.version, algorithm: r.algorithm,
            hash: bytesToHex(r.hash), distance: 0, category: r.category, externalId: r.external_id,
          })
        } else confirmed.set(r.id, r)
      }
      for (const [i, found] of candidates) {
        for (const [id, { distance, transform }] of found) {
          const r = confirmed.get(id)
          if (r === undefined) continue
          results[i]!.push({
            knownHashId: r.id, listId: r.list_id, list: r.name, listVersion: r.version, algorithm: r.algorithm,
            hash: bytesToHex(r.hash), distance, category: r.category, externalId: r.external_id,
            ...(transform > 0 ? { transform: transform - 1 } : {}),
          })
        }
      }
    }
    return results.map(nearestPerEntry)
  }

  /** Applies every change committed so far (loading new versions in full) before returning. */
  async refresh(): Promise<void> {
    if (this.#syncing !== undefined) await this.#syncing.catch(() => {})
    this.#lastPoll = Date.now()
    await this.#startSync()
  }

  stats(): MatcherStats {
    let indexBytes = 0
    let segments = 0
    const entries = { blockhash: 0, pdq: 0 }
    for (const [algorithm, list] of this.#segments) {
      for (const s of list) {
        segments++
        indexBytes += s.index.bytes + s.ids.byteLength + s.versionIds.byteLength + s.dead.byteLength
        for (let j = 0; j < s.ids.length; j++) if (s.dead[j] === 0 && this.#live.has(s.versionIds[j]!)) entries[algorithm]++
      }
    }
    return { entries, segments, indexBytes, changeId: this.#changeId, versionLoads: this.#versionLoads }
  }

  #threshold(state: ListState, algorithm: PerceptualAlgorithm): number {
    return algorithm === 'pdq' ? state.pdqThreshold ?? this.#options.pdqThreshold : state.blockhashThreshold ?? this.#options.blockhashThreshold
  }

  #maxThreshold(algorithm: PerceptualAlgorithm): number {
    let max = -1
    for (const state of this.#live.values()) max = Math.max(max, this.#threshold(state, algorithm))
    return max
  }

  /** Waits for the change log to be applied, unless only a large version load is left (then the old version answers). */
  #fresh(): Promise<void> {
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

  async #listStates(): Promise<Map<number, ListState>> {
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
    this.#live = new Map([...lists.values()].map((s) => [s.versionId, s]))
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
      for (const state of lists.values()) if (this.#live.has(state.versionId)) this.#live.set(state.versionId, state)
      if (changes.length < POLL_PAGE) return
    }
  }

  async #apply(change: ChangeRow, state: ListState | undefined): Promise<void> {
    if (change.kind === 'activate') {
      // Only the version active now matters; an activation already superseded (or loaded) is skipped.
      if (state === undefined || state.versionId !== change.version_id || this.#live.has(state.versionId)) return
      const rows = await this.#db.selectFrom('hash_list_versions').where('id', '=', state.versionId).select('rows').executeTakeFirst()
      if ((rows?.rows ?? 0) > this.#options.backgroundLoadRows) this.#heavyStarted?.()
      await this.#loadVersion(state)
      for (const [versionId, s] of this.#live) if (s.listId === state.listId) this.#live.delete(versionId)
      this.#live.set(state.versionId, state)
      this.#dropDeadSegments()
    } else if (change.kind === 'add') {
      // Rows added to a version no longer (or not yet) live are not matched; its activation loads them in full.
      if (!this.#live.has(change.version_id) || change.first_id === null || change.last_id === null) return
      await this.#loadRange(change.version_id, change.first_id, change.last_id, true)
    } else if (change.kind === 'retract') {
      await this.#retract(change.known_hash_ids ?? [])
    }
  }

  async #loadVersion(state: ListState): Promise<void> {
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

  /** Loads the live perceptual rows of a version with ids in first..last, page by page, into new segments. */
  async #loadRange(versionId: number, first: number, last: number, dedupe: boolean): Promise<void> {
    const acc = new Map<PerceptualAlgorithm, Rows>()
    const step = this.#options.loadPageRows
    for (let from = first; from <= last; from += step) {
      const to = Math.min(last, from + step - 1)
      const page = await sql<{ algorithm: PerceptualAlgorithm; ids: number[]; hashes: Uint8Array }>`
        select algorithm, array_agg(id order by id) as ids, string_agg(hash, ''::bytea order by id) as hashes
        from known_hashes
        where id between ${from} and ${to} and version_id = ${versionId} and retracted_at is null and algorithm in ('pdq', 'blockhash')
        group by algorithm`.execute(this.#db)
      for (const r of page.rows) {
        const rows = acc.get(r.algorithm) ?? { ids: [], versionIds: [], chunks: [] }
        for (const id of r.ids) { rows.ids.push(Number(id)); rows.versionIds.push(versionId) }
        rows.chunks.push(r.hashes)
        acc.set(r.algorithm, rows)
      }
    }
    for (const [algorithm, rows] of acc) {
      let words = bytesToWords(rows.chunks, rows.ids.length)
      let ids = Int32Array.from(rows.ids)
      if (dedupe) {
        // An add whose rows a concurrent full load already read: keep only the rows not present.
        const keep: number[] = []
        for (let j = 0; j < ids.length; j++) if (this.#find(algorithm, words, j * 8, ids[j]!) === undefined) keep.push(j)
        if (keep.length < ids.length) {
          words = Uint32Array.from(keep.flatMap((j) => [...words.subarray(j * 8, j * 8 + 8)]))
          ids = Int32Array.from(keep.map((j) => ids[j]!))
        }
        if (ids.length === 0) continue
      }
      await this.#addEntries(algorithm, words, ids, new Int32Array(ids.length).fill(versionId), dedupe)
    }
  }

  /** Adds entries; small additions join the brute-force tail segment, large ones get their own index. */
  async #addEntries(algorithm: PerceptualAlgorithm, words: Uint32Array, ids: Int32Array, versionIds: Int32Array, delta: boolean): Promise<void> {
    const segments = this.#segments.get(algorithm)!
    const tail = segments.at(-1)
    let next: Segment
    if (delta && tail !== undefined && tail.ids.length + ids.length <= TAIL_MAX) {
      // The tail is small enough that copying it is cheaper than any bookkeeping.
      const w = new Uint32Array((tail.ids.length + ids.length) * 8)
      w.set(tail.index.words); w.set(words, tail.ids.length * 8)
      const dead = new Uint8Array(tail.ids.length + ids.length)
      dead.set(tail.dead)
      next = await makeSegment(w, concatInt32(tail.ids, ids), concatInt32(tail.versionIds, versionIds), dead, this.#options.index)
      segments[segments.length - 1] = next
    } else {
      next = await makeSegment(words, ids, versionIds, new Uint8Array(ids.length), this.#options.index)
      segments.push(next)
    }
    if (segments.length > MAX_SEGMENTS) await this.#merge(algorithm)
  }

  /** Merges every segment but the largest into one, leaving out dead entries. */
  async #merge(algorithm: PerceptualAlgorithm): Promise<void> {
    const segments = this.#segments.get(algorithm)!
    const largest = segments.reduce((a, b) => (b.ids.length > a.ids.length ? b : a))
    const rest = segments.filter((s) => s !== largest)
    const keep: { s: Segment; j: number }[] = []
    for (const s of rest) for (let j = 0; j < s.ids.length; j++) if (s.dead[j] === 0 && this.#live.has(s.versionIds[j]!)) keep.push({ s, j })
    const words = new Uint32Array(keep.length * 8)
    keep.forEach(({ s, j }, k) => words.set(s.index.words.subarray(j * 8, j * 8 + 8), k * 8))
    const merged = await makeSegment(words, Int32Array.from(keep.map(({ s, j }) => s.ids[j]!)),
      Int32Array.from(keep.map(({ s, j }) => s.versionIds[j]!)), new Uint8Array(keep.length), this.#options.index)
    this.#segments.set(algorithm, [largest, merged])
  }

  #dropDeadSegments(): void {
    for (const [algorithm, segments] of this.#segments) {
      this.#segments.set(algorithm, segments.filter((s) => [...s.versions].some((v) => this.#live.has(v))))
    }
  }

  /** Where the entry with this id and hash is held, if it is. */
  #find(algorithm: PerceptualAlgorithm, words: Uint32Array, at: number, id: number): { segment: Segment; position: number } | undefined {
    let found: { segment: Segment; position: number } | undefined
    for (const segment of this.#segments.get(algorithm)!) {
      segment.index.search(words, at, 0, (j) => { if (segment.ids[j] === id) found = { segment, position: j } })
      if (found) return found
    }
    return undefined
  }

  async #retract(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return
    const rows = await this.#db.selectFrom('known_hashes').where('id', 'in', [...ids]).where('algorithm', 'in', ['pdq', 'blockhash'])
      .select(['id', 'algorithm', 'hash']).execute()
    for (const r of rows) {
      const at = this.#find(r.algorithm as PerceptualAlgorithm, bytesToWords([r.hash], 1), 0, r.id)
      if (at) at.segment.dead[at.position] = 1
    }
  }
}

/**
 * Sorts a probe's matches nearest first and keeps one per list entry (list, algorithm and hash): a
 * list holding the same hash twice (rows stored before repeats were dropped at import) is one
 * match, not two.
 */
function nearestPerEntry(matches: KnownMatch[]): KnownMatch[] {
  if (matches.length < 2) return matches
  matches.sort((a, b) => a.distance - b.distance || a.knownHashId - b.knownHashId)
  const seen = new Set<string>()
  return matches.filter((m) => {
    const key = `${m.listId}:${m.algorithm}:${m.hash}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

async function makeSegment(words: Uint32Array, ids: Int32Array, versionIds: Int32Array, dead: Uint8Array, options: HammingIndexOptions): Promise<Segment> {
  return { index: await HammingIndex.build(words, options), ids, versionIds, dead, versions: new Set(versionIds) }
}

function concatInt32(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length)
  out.set(a); out.set(b, a.length)
  return out
}

/** Concatenated 32-byte hashes as 8 big-endian words each. */
export function bytesToWords(chunks: readonly Uint8Array[], count: number): Uint32Array {
  const words = new Uint32Array(count * 8)
  let w = 0
  for (const chunk of chunks) {
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    for (let o = 0; o + 4 <= chunk.byteLength; o += 4) words[w++] = view.getUint32(o)
  }
  return words
}
