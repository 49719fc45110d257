import { type BatchHits, type HammingTables, searchTables } from './batched-search.js'
import { popcount32 } from './hamming.js'
import { adviseHugePages } from './native/index.js'

/** One slice of the 256 bits: `bits` bits starting at bit `start` (bit 0 = most significant bit of word 0). */
export interface Chunk {
  readonly start: number
  readonly bits: number
}

export interface HammingIndexOptions {
  /**
   * Bits per chunk of the multi-index hash. Default: log2(entries) + 2, between 12 and 24, so most
   * buckets are empty (the choice that measured fastest at 1M; see bench/matcher/README.md).
   */
  readonly chunkBits?: number
  /** Below this many entries the segment is scanned by brute force (no tables). Default 2048. */
  readonly bruteForceBelow?: number
}

export const DEFAULT_HAMMING_INDEX_OPTIONS = { bruteForceBelow: 2048 } as const

/** Called with each entry position within `threshold`, and its distance. */
export type HitCallback = (position: number, distance: number) => void

/**
 * An immutable set of 256-bit hashes (8 big-endian words each) searched for every entry within a
 * Hamming distance, with 100% recall. Multi-index hashing: the 256 bits are cut into m chunks and
 * each chunk gets a bucket table (CSR: offsets + positions). If every chunk i of an entry differed
 * from the probe's by more than r_i bits, the whole distance would be at least sum(r_i + 1); so with
 * radii chosen to make that sum threshold + 1, every entry within the threshold is in the ball of
 * radius r_i around the probe's chunk i for some i (generalised pigeonhole). Candidates from those
 * balls are then verified by a full popcount, so no result is beyond the threshold either.
 */
export class HammingIndex {
  readonly words: Uint32Array
  readonly size: number
  readonly #chunks: readonly Chunk[]
  readonly #offsets: Uint32Array[] = []
  readonly #positions: Uint32Array[] = []
  readonly #radiiCache = new Map<number, number[]>()

  private constructor(words: Uint32Array, chunks: readonly Chunk[]) {
    this.words = words
    this.size = words.length / 8
    this.#chunks = chunks
  }

  /**
   * Builds the index over `words` (8 per entry). Yields to the event loop between chunk tables so a
   * large build never stalls matching for long.
   *
   * @example
   * const index = await HammingIndex.build(words)
   * index.search(probeWords, 0, 31, (position, distance) => console.log(position, distance))
   */
  static async build(words: Uint32Array, options: HammingIndexOptions = {}): Promise<HammingIndex> {
    const size = words.length / 8
    const bruteForceBelow = options.bruteForceBelow ?? DEFAULT_HAMMING_INDEX_OPTIONS.bruteForceBelow
    if (size < bruteForceBelow) return new HammingIndex(words, [])
    const bits = options.chunkBits ?? Math.min(24, Math.max(12, Math.round(Math.log2(size)) + 2))
    // Shared memory, so worker threads can search the same tables without a copy.
    if (!(words.buffer instanceof SharedArrayBuffer)) words = shared(words)
    const index = new HammingIndex(words, planChunks(bits))
    for (const chunk of index.#chunks) {
      const buckets = 2 ** chunk.bits
      const offsets = new Uint32Array(new SharedArrayBuffer((buckets + 1) * 4))
      adviseHugePages(offsets)
      for (let j = 0; j < size; j++) offsets[chunkValue(words, j * 8, chunk) + 1]!++
      for (let b = 0; b < buckets; b++) offsets[b + 1]! += offsets[b]!
      const fill = offsets.slice(0, buckets)
      const positions = new Uint32Array(new SharedArrayBuffer(size * 4))
      adviseHugePages(positions)
      for (let j = 0; j < size; j++) positions[fill[chunkValue(words, j * 8, chunk)]!++] = j
      index.#offsets.push(offsets)
      index.#positions.push(positions)
      if (size > 100_000) await new Promise((resolve) => setImmediate(resolve))
    }
    return index
  }

  /** Bytes held by this index (hashes and tables). */
  get bytes(): number {
    let n = this.words.byteLength
    for (const o of this.#offsets) n += o.byteLength
    for (const p of this.#positions) n += p.byteLength
    return n
  }

  /** The typed arrays a search reads (shared memory when indexed), for a worker thread. */
  get tables(): HammingTables {
    return { words: this.words, size: this.size, chunks: this.#chunks, offsets: this.#offsets, positions: this.#positions }
  }

  /**
   * Every entry within `threshold` of each of the `count` probes in `probes` (8 words each), on
   * this thread: the same hits as `search` on each probe, found batch-wise (see `searchTables`).
   *
   * @example
   * const hits = index.searchBatch(probeWords, probeWords.length / 8, 31)
   * for (let x = 0; x < hits.length; x++) console.log(hits.probes[x], hits.positions[x], hits.distances[x])
   */
  searchBatch(probes: Uint32Array, count: number, threshold: number): BatchHits {
    return searchTables(this.tables, probes, count, threshold)
  }

  /** Calls `hit` for every entry within `threshold` of the probe at `probe[at..at+8]`, each once. */
  search(probe: Uint32Array, at: number, threshold: number, hit: HitCallback): void {
    const words = this.words
    if (this.#chunks.length === 0) {
      for (let j = 0, o = 0; j < this.size; j++, o += 8) {
        const d = distanceAt(probe, at, words, o, threshold)
        if (d <= threshold) hit(j, d)
      }
      return
    }
    // Hits are rare, so duplicates (an entry near the probe in several chunks) are removed among the
    // hits only; a per-entry "seen" mark would cost a cache miss on every candidate instead.
    const found: number[] = []
    const radii = this.#radii(threshold)
    for (let c = 0; c < this.#chunks.length; c++) {
      const radius = radii[c]!
      if (radius < 0) continue
      const chunk = this.#chunks[c]!
      const bits = chunk.bits
      const key = chunkValue(probe, at, chunk)
      const offsets = this.#offsets[c]!
      const positions = this.#positions[c]!
      this.#scan(offsets, positions, key, probe, at, threshold, found)
      if (radius === 0) continue
      for (let b1 = 0; b1 < bits; b1++) {
        const k1 = key ^ (1 << b1)
        this.#scan(offsets, positions, k1, probe, at, threshold, found)
        if (radius === 1) continue
        for (let b2 = b1 + 1; b2 < bits; b2++) {
          const k2 = k1 ^ (1 << b2)
          this.#scan(offsets, positions, k2, probe, at, threshold, found)
          if (radius > 2) enumerateBall(k2, bits, b2 + 1, radius - 2, (k) => this.#scan(offsets, positions, k, probe, at, threshold, found))
        }
      }
    }
    for (let i = 0; i < found.length; i += 2) hit(found[i]!, found[i + 1]!)
  }

  #scan(offsets: Uint32Array, positions: Uint32Array, bucket: number, probe: Uint32Array, at: number, threshold: number, found: number[]): void {
    const words = this.words
    for (let p = offsets[bucket]!, end = offsets[bucket + 1]!; p < end; p++) {
      const j = positions[p]!
      const d = distanceAt(probe, at, words, j * 8, threshold)
      if (d <= threshold) {
        let seen = false
        for (let i = 0; i < found.length; i += 2) if (found[i] === j) { seen = true; break }
        if (!seen) found.push(j, d)
      }
    }
  }

  #radii(threshold: number): number[] {
    let radii = this.#radiiCache.get(threshold)
    if (radii === undefined) {
      radii = chunkRadii(this.#chunks.length, threshold)
      this.#radiiCache.set(threshold, radii)
    }
    return radii
  }
}

/** Hamming distance, giving up (returning threshold + 1 or more) once it is past the threshold. */
function distanceAt(a: Uint32Array, ai: number, b: Uint32Array, bi: number, threshold: number): number {
  let d = popcount32((a[ai]! ^ b[bi]!) >>> 0) + popcount32((a[ai + 1]! ^ b[bi + 1]!) >>> 0)
    + popcount32((a[ai + 2]! ^ b[bi + 2]!) >>> 0) + popcount32((a[ai + 3]! ^ b[bi + 3]!) >>> 0)
  if (d > threshold) return d
  d += popcount32((a[ai + 4]! ^ b[bi + 4]!) >>> 0) + popcount32((a[ai + 5]! ^ b[bi + 5]!) >>> 0)
    + popcount32((a[ai + 6]! ^ b[bi + 6]!) >>> 0) + popcount32((a[ai + 7]! ^ b[bi + 7]!) >>> 0)
  return d
}

/** Cuts 256 bits into chunks of about `bits` bits (the first ones one bit longer when it does not divide). */
function planChunks(bits: number): Chunk[] {
  const m = Math.round(256 / bits)
  const base = Math.floor(256 / m)
  const longer = 256 - base * m
  const chunks: Chunk[] = []
  let start = 0
  for (let c = 0; c < m; c++) {
    const len = base + (c < longer ? 1 : 0)
    chunks.push({ start, bits: len })
    start += len
  }
  return chunks
}

/**
 * Search radius per chunk so that sum(r_i + 1) = threshold + 1: every entry within the threshold has
 * some chunk within its radius. The longer chunks come first and get the smaller radius. A radius of
 * -1 means the chunk need not be searched at all.
 */
export function chunkRadii(m: number, threshold: number): number[] {
  const q = Math.floor((threshold + 1) / m)
  const rem = (threshold + 1) - q * m
  return Array.from({ length: m }, (_, c) => (c >= m - rem ? q : q - 1))
}

/** A copy of `words` in a SharedArrayBuffer. */
function shared(words: Uint32Array): Uint32Array {
  const copy = new Uint32Array(new SharedArrayBuffer(words.byteLength))
  // Before the first write: the pages are then faulted in as huge pages where the kernel allows.
  adviseHugePages(copy)
  copy.set(words)
  return copy
}

/** The chunk's bits of the hash at `words[at..at+8]`, as an unsigned integer (at most 24 bits). */
export function chunkValue(words: Uint32Array, at: number, chunk: Chunk): number {
  const w = chunk.start >>> 5
  const off = chunk.start & 31
  const hi = words[at + w]!
  if (off + chunk.bits <= 32) return (hi >>> (32 - off - chunk.bits)) & ((1 << chunk.bits) - 1)
  const lo = words[at + w + 1]!
  const fromHi = 32 - off
  const fromLo = chunk.bits - fromHi
  return ((((hi & ((1 << fromHi) - 1)) << fromLo) | (lo >>> (32 - fromLo))) >>> 0)
}

/** Calls `visit` with every value made by flipping 1..`left` more bits of `key`, at positions from `from` up. */
function enumerateBall(key: number, bits: number, from: number, left: number, visit: (value: number) => void): void {
  for (let b = from; b < bits; b++) {
    const next = key ^ (1 << b)
    visit(next)
    if (left > 1) enumerateBall(next, bits, b + 1, left - 1, visit)
  }
}
