import { type IndexKey, INDEX_KEYS } from './algorithms.js'
import { hexToWords } from './hamming.js'
import type { BatchHits } from './batched-search.js'
import { HammingIndex, type HammingIndexOptions } from './hamming-index.js'
import { DEFAULT_HAMMING_THREADS, HammingThreads } from './hamming-threads.js'

/** A list whose active version the index holds, with its own thresholds (null: the index's defaults). */
export interface LiveList {
  readonly listId: number
  readonly name: string
  readonly versionId: number
  readonly version: number
  readonly pdqThreshold: number | null
  readonly blockhashThreshold: number | null
}

export interface PerceptualIndexOptions {
  /** Largest blockhash distance for lists without their own. */
  readonly blockhashThreshold: number
  /** Largest PDQ distance for lists without their own. */
  readonly pdqThreshold: number
  /** Tuning of each segment's multi-index hash, and the threads that search it. */
  readonly index: HammingIndexOptions & PerceptualThreadOptions
}

export interface PerceptualThreadOptions {
  /**
   * Worker threads for `searchMany` on large segments (0: the calling thread only). Default: one
   * per core, at most 4 (`DEFAULT_HAMMING_THREADS`). Started on first use; `close()` ends them.
   */
  readonly threads?: number
  /** Segments with fewer entries are searched on the calling thread (threads do not pay below it). Default 200000. */
  readonly threadsAbove?: number
}

export const DEFAULT_PERCEPTUAL_THREAD_OPTIONS = { threadsAbove: 200_000 } as const

/** A candidate list entry for one probe: its distance, and which of the probe's hashes found it (0: the hash itself). */
export interface Candidate {
  readonly distance: number
  readonly transform: number
}

/** An immutable slice of a list's perceptual hashes with its index; retraction only sets `dead`. */
interface Segment {
  readonly index: HammingIndex
  readonly ids: Int32Array
  readonly versionIds: Int32Array
  readonly dead: Uint8Array
  readonly versions: ReadonlySet<number>
}

/** Additions this small join the tail segment (copied, brute-force searched) instead of getting their own index. */
const TAIL_MAX = 2048
/** More segments than this are merged (all but the largest into one). */
const MAX_SEGMENTS = 8

/**
 * Every perceptual (PDQ, blockhash) entry of the active list versions, in memory: per algorithm, a
 * few immutable segments each with its multi-index Hamming index. Entries are added in whole
 * versions or in small deltas, retracted by marking them dead, and dropped with their version.
 * Which versions are live, and each list's thresholds, are known here too, so a search returns
 * only entries within their own list's threshold. It holds no database: the change-log follower
 * feeds it, and the matcher confirms its candidates against Postgres.
 */
export class PerceptualIndex {
  readonly #options: PerceptualIndexOptions
  readonly #segments = new Map<IndexKey, Segment[]>(INDEX_KEYS.map((a) => [a, []]))
  /** Active version id -> its list, for every list whose version is loaded. */
  #live = new Map<number, LiveList>()
  #pool: HammingThreads | undefined
  #closed = false

  constructor(options: PerceptualIndexOptions) {
    this.#options = options
  }

  /**
   * The entries within their list's threshold of any of `hexes` (the probe's hash, then its
   * dihedral variants; '' for one that is malformed): known hash id -> nearest distance and which
   * hash found it.
   */
  search(algorithm: IndexKey, hexes: readonly string[]): Map<number, Candidate> {
    const found = new Map<number, Candidate>()
    const max = this.#maxThreshold(algorithm)
    const words = new Uint32Array(8)
    hexes.forEach((hex, t) => {
      if (hex === '') return
      hexToWords(hex, words)
      for (const segment of this.#segments.get(algorithm)!) {
        segment.index.search(words, 0, max, (j, distance) => {
          if (segment.dead[j] === 1) return
          const state = this.#live.get(segment.versionIds[j]!)
          if (state === undefined || distance > this.#threshold(state, algorithm)) return
          const id = segment.ids[j]!
          const seen = found.get(id)
          if (seen === undefined || distance < seen.distance) found.set(id, { distance, transform: t })
        })
      }
    })
    return found
  }

  /**
   * `search` for many probes at once (each the probe's hash, then its dihedral variants), the same
   * results for each, found batch-wise: one batched search per segment for every hash of every
   * probe, on worker threads for large segments.
   */
  async searchMany(algorithm: IndexKey, probes: readonly (readonly string[])[]): Promise<Map<number, Candidate>[]> {
    const found = probes.map(() => new Map<number, Candidate>())
    const max = this.#maxThreshold(algorithm)
    if (max < 0) return found
    let count = 0
    for (const hexes of probes) for (const hex of hexes) if (hex !== '') count++
    const words = new Uint32Array(count * 8)
    const probeOf = new Uint32Array(count)
    const transformOf = new Uint32Array(count)
    count = 0
    probes.forEach((hexes, p) => hexes.forEach((hex, t) => {
      if (hex === '') return
      hexToWords(hex, words, count * 8)
      probeOf[count] = p
      transformOf[count++] = t
    }))
    if (count === 0) return found
    const threadsAbove = this.#options.index.threadsAbove ?? DEFAULT_PERCEPTUAL_THREAD_OPTIONS.threadsAbove
    for (const segment of [...this.#segments.get(algorithm)!]) {
      const hits: BatchHits = segment.index.size >= threadsAbove && this.#threads() !== undefined
        ? await this.#threads()!.search(segment.index.tables, words, count, max)
        : segment.index.searchBatch(words, count, max)
      for (let x = 0; x < hits.length; x++) {
        const j = hits.positions[x]!
        const distance = hits.distances[x]!
        if (segment.dead[j] === 1) continue
        const state = this.#live.get(segment.versionIds[j]!)
        if (state === undefined || distance > this.#threshold(state, algorithm)) continue
        const id = segment.ids[j]!
        const flat = hits.probes[x]!
        const t = transformOf[flat]!
        const map = found[probeOf[flat]!]!
        const seen = map.get(id)
        // As `search`: the nearest, and of equally near ones the first hash (lowest transform).
        if (seen === undefined || distance < seen.distance || (distance === seen.distance && t < seen.transform)) map.set(id, { distance, transform: t })
      }
    }
    return found
  }

  /** Ends the worker threads, if any were started. */
  async close(): Promise<void> {
    const threads = this.#pool
    this.#pool = undefined
    this.#closed = true
    await threads?.close()
  }

  /** Whether a version's entries are matched now. */
  isLive(versionId: number): boolean {
    return this.#live.has(versionId)
  }

  /** The lists whose versions are live now (after the initial load). */
  setLive(lists: Iterable<LiveList>): void {
    this.#live = new Map([...lists].map((s) => [s.versionId, s]))
  }

  /** A list's new version (loaded already) replaces its previous one, whose segments go once nothing live is in them. */
  activate(list: LiveList): void {
    for (const [versionId, s] of this.#live) if (s.listId === list.listId) this.#live.delete(versionId)
    this.#live.set(list.versionId, list)
    this.#dropDeadSegments()
  }

  /** Names and thresholds refreshed for the live versions among `lists`. */
  updateLists(lists: Iterable<LiveList>): void {
    for (const list of lists) if (this.#live.has(list.versionId)) this.#live.set(list.versionId, list)
  }

  /**
   * Adds entries (8 words each). A whole version gets its own segment; a delta (`delta: true`)
   * leaves out entries already held (a concurrent full load may have read them) and, when small,
   * joins the tail segment.
   */
  async add(algorithm: IndexKey, words: Uint32Array, ids: Int32Array, versionId: number, delta: boolean): Promise<void> {
    if (delta) {
      const keep: number[] = []
      for (let j = 0; j < ids.length; j++) if (this.#find(algorithm, words, j * 8, ids[j]!) === undefined) keep.push(j)
      if (keep.length < ids.length) {
        words = Uint32Array.from(keep.flatMap((j) => [...words.subarray(j * 8, j * 8 + 8)]))
        ids = Int32Array.from(keep.map((j) => ids[j]!))
      }
      if (ids.length === 0) return
    }
    const versionIds = new Int32Array(ids.length).fill(versionId)
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

  /** Marks an entry (its id and hash, 8 words at `at`) dead: it is never returned again. */
  retract(algorithm: IndexKey, words: Uint32Array, at: number, id: number): void {
    const held = this.#find(algorithm, words, at, id)
    if (held) held.segment.dead[held.position] = 1
  }

  /** Marks every hash held under an id dead (a video entry's frames). */
  retractId(algorithm: IndexKey, id: number): void {
    for (const segment of this.#segments.get(algorithm)!) {
      for (let j = 0; j < segment.ids.length; j++) if (segment.ids[j] === id) segment.dead[j] = 1
    }
  }

  /** Live entries per algorithm, segments, and bytes of hashes and index tables. */
  stats(): { entries: Record<IndexKey, number>; segments: number; indexBytes: number } {
    let indexBytes = 0
    let segments = 0
    const entries = { blockhash: 0, pdq: 0, vpdq: 0 }
    for (const [algorithm, list] of this.#segments) {
      for (const s of list) {
        segments++
        indexBytes += s.index.bytes + s.ids.byteLength + s.versionIds.byteLength + s.dead.byteLength
        for (let j = 0; j < s.ids.length; j++) if (s.dead[j] === 0 && this.#live.has(s.versionIds[j]!)) entries[algorithm]++
      }
    }
    return { entries, segments, indexBytes }
  }

  #threads(): HammingThreads | undefined {
    const threads = this.#options.index.threads ?? DEFAULT_HAMMING_THREADS
    if (threads <= 0 || this.#closed) return undefined
    this.#pool ??= new HammingThreads(threads)
    return this.#pool
  }

  #threshold(state: LiveList, algorithm: IndexKey): number {
    // A video entry's frames are PDQ hashes: its list's PDQ threshold applies to each.
    return algorithm === 'blockhash' ? state.blockhashThreshold ?? this.#options.blockhashThreshold : state.pdqThreshold ?? this.#options.pdqThreshold
  }

  #maxThreshold(algorithm: IndexKey): number {
    let max = -1
    for (const state of this.#live.values()) max = Math.max(max, this.#threshold(state, algorithm))
    return max
  }

  /** Merges every segment but the largest into one, leaving out dead entries. */
  async #merge(algorithm: IndexKey): Promise<void> {
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
  #find(algorithm: IndexKey, words: Uint32Array, at: number, id: number): { segment: Segment; position: number } | undefined {
    let found: { segment: Segment; position: number } | undefined
    for (const segment of this.#segments.get(algorithm)!) {
      segment.index.search(words, at, 0, (j) => { if (segment.ids[j] === id) found = { segment, position: j } })
      if (found) return found
    }
    return undefined
  }
}

async function makeSegment(words: Uint32Array, ids: Int32Array, versionIds: Int32Array, dead: Uint8Array, options: HammingIndexOptions): Promise<Segment> {
  return { index: await HammingIndex.build(words, options), ids, versionIds, dead, versions: new Set(versionIds) }
}

function concatInt32(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length)
  out.set(a); out.set(b, a.length)
  return out
}
