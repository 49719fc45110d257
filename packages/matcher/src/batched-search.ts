import { type Chunk, chunkRadii, chunkValue } from './hamming-index.js'
import { nativeKernel } from './native/index.js'

/**
 * The plain typed arrays of a `HammingIndex` (in SharedArrayBuffers when it is large), all that a
 * search needs: a worker thread gets them by `postMessage` without copying.
 */
export interface HammingTables {
  /** 8 big-endian words per entry. */
  readonly words: Uint32Array
  readonly size: number
  /** Empty: the entries are searched by brute force. */
  readonly chunks: readonly Chunk[]
  /** Per chunk: bucket b holds `positions[offsets[b]..offsets[b+1]]`. */
  readonly offsets: readonly Uint32Array[]
  readonly positions: readonly Uint32Array[]
}

/** Every (probe, entry) pair within the threshold of one batch, sorted by probe then position, each once. */
export interface BatchHits {
  readonly length: number
  /** Index of the probe in the batch. */
  readonly probes: Uint32Array
  /** Entry position in the index. */
  readonly positions: Uint32Array
  readonly distances: Uint16Array
}

/**
 * Probes per pass: enough to make the sweeps dense (1024 -> 4096 measured 1.3x faster at 1M and
 * 10M; 16384 little more), small enough to keep the candidate arrays near 100 MiB at 10M entries.
 */
const SUB_BATCH = 4096
/** Bucket-table slice per key bin: 2^8 offsets (1 KiB), so a bin's lookups stay in cache (8 and 12 measured; 8 faster). */
const KEY_BIN_SHIFT = 8
/** Entries per candidate bin: 2^6 (2 KiB of hashes; 6, 9 and 12 measured, 6 fastest). */
const POSITION_BIN_SHIFT = 6

/**
 * Every entry within `threshold` of each of the `count` probes in `probes` (8 words each), batched:
 * per chunk table, the ball keys of all the probes are bucket-sorted by key so the table is read in
 * memory order, the candidates of every table are then bucket-sorted by entry position, and each is
 * verified by a popcount that gives up once past the threshold. Same results as one search per
 * probe (the multi-index hashing argument is unchanged), far fewer cache misses. Indexed tables are
 * searched by the native kernel when it was built (`searchTablesNative`, identical results), else
 * here in TypeScript (`searchTablesTypeScript`).
 */
export function searchTables(tables: HammingTables, probes: Uint32Array, count: number, threshold: number): BatchHits {
  if (nativeKernel !== undefined && tables.chunks.length > 0 && tables.size > 0 && Number.isInteger(threshold) && threshold >= 0
    && threshold <= 256 && tables.chunks.every((c) => c.bits <= 24) && count * 8 <= probes.length) {
    return searchTablesNative(tables, probes, count, threshold)
  }
  return searchTablesTypeScript(tables, probes, count, threshold)
}

/**
 * `searchTables` by the native kernel (packages/matcher/native, C++ built at install): the same
 * algorithm (per chunk table, the probes' ball keys bucket-sorted and the table swept in key
 * order), each candidate verified as it is found with its hash prefetched (no sort by position),
 * and the popcount instruction. Same hits, same order. Throws when the kernel was not built.
 */
export function searchTablesNative(tables: HammingTables, probes: Uint32Array, count: number, threshold: number): BatchHits {
  if (nativeKernel === undefined) throw new Error('the native Hamming kernel is not loaded')
  if (threshold < 0 || tables.size === 0 || count === 0) return new HitList().finish()
  if (tables.chunks.length === 0) return searchTablesTypeScript(tables, probes, count, threshold)
  const chunks = new Uint32Array(tables.chunks.length * 2)
  tables.chunks.forEach((c, k) => { chunks[2 * k] = c.start; chunks[2 * k + 1] = c.bits })
  const [hitProbes, positions, distances] = nativeKernel.search(tables.words, tables.offsets, tables.positions, chunks, probes, count, threshold)
  return { length: hitProbes.length, probes: hitProbes, positions, distances }
}

/** `searchTables` in TypeScript alone (the path without the native kernel). */
export function searchTablesTypeScript(tables: HammingTables, probes: Uint32Array, count: number, threshold: number): BatchHits {
  const out = new HitList()
  if (threshold < 0 || tables.size === 0) return out.finish()
  for (let from = 0; from < count; from += SUB_BATCH) {
    const to = Math.min(count, from + SUB_BATCH)
    if (tables.chunks.length === 0) bruteForce(tables, probes, from, to, threshold, out)
    else indexed(tables, probes, from, to, threshold, out)
  }
  return out.finish()
}

function bruteForce(tables: HammingTables, probes: Uint32Array, from: number, to: number, threshold: number, out: HitList): void {
  const words = tables.words
  for (let i = from; i < to; i++) {
    for (let j = 0; j < tables.size; j++) {
      const d = distance(probes, i * 8, words, j * 8, threshold)
      if (d <= threshold) out.push(i, j, d)
    }
  }
}

/** Scratch arrays kept between calls (one search at a time per thread); they only grow. */
const scratch: Record<'keys' | 'keyProbes' | 'candidates' | 'candidateProbes', Uint32Array> = {
  keys: new Uint32Array(1 << 16), keyProbes: new Uint32Array(1 << 16),
  candidates: new Uint32Array(1 << 20), candidateProbes: new Uint32Array(1 << 20),
}

function indexed(tables: HammingTables, probes: Uint32Array, from: number, to: number, threshold: number, out: HitList): void {
  const n = to - from
  const radii = chunkRadii(tables.chunks.length, threshold)
  const probeKeys = new Uint32Array(n)
  let cand = 0
  for (let c = 0; c < tables.chunks.length; c++) {
    const radius = radii[c]!
    if (radius < 0) continue
    const chunk = tables.chunks[c]!
    const ball = ballOf(chunk.bits, radius)
    const masks = ball.masks
    const shift = Math.min(chunk.bits, KEY_BIN_SHIFT)
    const bins = 1 << (chunk.bits - shift)
    for (let i = 0; i < n; i++) probeKeys[i] = chunkValue(probes, (from + i) * 8, chunk)

    // Bin counts without computing every key: a key's bin is the probe's top bits xor the mask's.
    const fill = new Uint32Array(bins + 1)
    const tops = ball.tops(shift)
    const topValues = tops.values
    const topCounts = tops.counts
    for (let i = 0; i < n; i++) {
      const top = probeKeys[i]! >>> shift
      for (let u = 0; u < topValues.length; u++) fill[(top ^ topValues[u]!) + 1]! += topCounts[u]!
    }
    for (let b = 0; b < bins; b++) fill[b + 1]! += fill[b]!
    const total = fill[bins]!
    if (scratch.keys.length < total) {
      scratch.keys = new Uint32Array(Math.ceil(total * 1.25))
      scratch.keyProbes = new Uint32Array(scratch.keys.length)
    }
    const keys = scratch.keys
    const keyProbes = scratch.keyProbes
    for (let i = 0; i < n; i++) {
      const key = probeKeys[i]!
      for (let u = 0; u < masks.length; u++) {
        const k = key ^ masks[u]!
        const slot = fill[k >>> shift]!++
        keys[slot] = k
        keyProbes[slot] = i
      }
    }

    // Sweep the table in key order, collecting (position, probe) candidates.
    cand = sweep(tables.offsets[c]!, tables.positions[c]!, keys, keyProbes, total, cand)
  }
  const candidates = scratch.candidates
  const candidateProbes = scratch.candidateProbes

  const { sorted, sortedProbes } = sortByPosition(candidates, candidateProbes, cand, tables.size)
  verify(tables, probes, from, sorted, sortedProbes, cand, threshold, out)
}

/** Appends the (position, probe) pairs of every key's bucket to the scratch candidates; returns their new count. */
function sweep(offsets: Uint32Array, positions: Uint32Array, keys: Uint32Array, keyProbes: Uint32Array, total: number, cand: number): number {
  let candidates = scratch.candidates
  let candidateProbes = scratch.candidateProbes
  for (let s = 0; s < total; s++) {
    const k = keys[s]!
    const end = offsets[k + 1]!
    let p = offsets[k]!
    if (p === end) continue
    if (cand + (end - p) > candidates.length) ({ candidates, candidateProbes } = grow(cand + (end - p)))
    const i = keyProbes[s]!
    for (; p < end; p++) {
      candidates[cand] = positions[p]!
      candidateProbes[cand++] = i
    }
  }
  return cand
}

/** The candidates bucket-sorted by position, so the hashes are read nearly in memory order. */
function sortByPosition(candidates: Uint32Array, candidateProbes: Uint32Array, cand: number, size: number): { sorted: Uint32Array; sortedProbes: Uint32Array } {
  const sorted = new Uint32Array(cand)
  const sortedProbes = new Uint32Array(cand)
  const pbins = (size >>> POSITION_BIN_SHIFT) + 1
  const pfill = new Uint32Array(pbins + 1)
  for (let x = 0; x < cand; x++) pfill[(candidates[x]! >>> POSITION_BIN_SHIFT) + 1]!++
  for (let b = 0; b < pbins; b++) pfill[b + 1]! += pfill[b]!
  for (let x = 0; x < cand; x++) {
    const slot = pfill[candidates[x]! >>> POSITION_BIN_SHIFT]!++
    sorted[slot] = candidates[x]!
    sortedProbes[slot] = candidateProbes[x]!
  }
  return { sorted, sortedProbes }
}

/** Full distance of each candidate; an entry found through several chunks is verified again but reported once. */
function verify(tables: HammingTables, probes: Uint32Array, from: number, sorted: Uint32Array, sortedProbes: Uint32Array, cand: number, threshold: number, out: HitList): void {
  const words = tables.words
  const size = tables.size
  let seen: Set<number> | undefined
  for (let x = 0; x < cand; x++) {
    const j = sorted[x]!
    const i = sortedProbes[x]!
    const d = distance(probes, (from + i) * 8, words, j * 8, threshold)
    if (d > threshold) continue
    const key = i * size + j
    seen ??= new Set()
    if (seen.has(key)) continue
    seen.add(key)
    out.push(from + i, j, d)
  }
}
function grow(need: number): typeof scratch {
  const size = Math.max(need, scratch.candidates.length * 2)
  const c = new Uint32Array(size); c.set(scratch.candidates); scratch.candidates = c
  const cp = new Uint32Array(size); cp.set(scratch.candidateProbes); scratch.candidateProbes = cp
  return scratch
}

/** Hamming distance, giving up (returning more than the threshold) once it is past the threshold. */
function distance(a: Uint32Array, ai: number, b: Uint32Array, bi: number, threshold: number): number {
  let d = pop(a[ai]! ^ b[bi]!) + pop(a[ai + 1]! ^ b[bi + 1]!)
  if (d > threshold) return d
  d += pop(a[ai + 2]! ^ b[bi + 2]!) + pop(a[ai + 3]! ^ b[bi + 3]!)
  if (d > threshold) return d
  return d + pop(a[ai + 4]! ^ b[bi + 4]!) + pop(a[ai + 5]! ^ b[bi + 5]!)
    + pop(a[ai + 6]! ^ b[bi + 6]!) + pop(a[ai + 7]! ^ b[bi + 7]!)
}

function pop(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  x = (x + (x >>> 4)) & 0x0f0f0f0f
  return Math.imul(x, 0x01010101) >>> 24
}

/** The xor masks of every value within `radius` bits of a `bits`-bit key, and their top parts per bin shift. */
class Ball {
  readonly masks: Uint32Array
  readonly #tops = new Map<number, { values: Uint32Array; counts: Uint32Array }>()

  constructor(masks: Uint32Array) {
    this.masks = masks
  }

  /** The distinct `mask >>> shift` values and how many masks share each. */
  tops(shift: number): { values: Uint32Array; counts: Uint32Array } {
    let t = this.#tops.get(shift)
    if (t === undefined) {
      const counts = new Map<number, number>()
      for (const m of this.masks) counts.set(m >>> shift, (counts.get(m >>> shift) ?? 0) + 1)
      t = { values: Uint32Array.from(counts.keys()), counts: Uint32Array.from(counts.values()) }
      this.#tops.set(shift, t)
    }
    return t
  }
}

const balls = new Map<number, Ball>()

function ballOf(bits: number, radius: number): Ball {
  const id = bits * 256 + radius
  let ball = balls.get(id)
  if (ball === undefined) {
    const masks: number[] = [0]
    const visit = (mask: number, from: number, left: number): void => {
      for (let b = from; b < bits; b++) {
        const next = (mask | (1 << b)) >>> 0
        masks.push(next)
        if (left > 1) visit(next, b + 1, left - 1)
      }
    }
    if (radius > 0) visit(0, 0, Math.min(radius, bits))
    // Sorted, so one probe's keys land in few bins in turn.
    ball = new Ball(Uint32Array.from(masks).sort())
    balls.set(id, ball)
  }
  return ball
}

/** A growable list of hits, returned sorted by probe then position. */
class HitList {
  #probes = new Uint32Array(64)
  #positions = new Uint32Array(64)
  #distances = new Uint16Array(64)
  #length = 0

  push(probe: number, position: number, d: number): void {
    if (this.#length === this.#probes.length) {
      const size = this.#length * 2
      const p = new Uint32Array(size); p.set(this.#probes); this.#probes = p
      const q = new Uint32Array(size); q.set(this.#positions); this.#positions = q
      const r = new Uint16Array(size); r.set(this.#distances); this.#distances = r
    }
    this.#probes[this.#length] = probe
    this.#positions[this.#length] = position
    this.#distances[this.#length++] = d
  }

  finish(): BatchHits {
    const n = this.#length
    const order = Array.from({ length: n }, (_, x) => x)
    order.sort((a, b) => this.#probes[a]! - this.#probes[b]! || this.#positions[a]! - this.#positions[b]!)
    const probes = new Uint32Array(n)
    const positions = new Uint32Array(n)
    const distances = new Uint16Array(n)
    order.forEach((x, k) => { probes[k] = this.#probes[x]!; positions[k] = this.#positions[x]!; distances[k] = this.#distances[x]! })
    return { length: n, probes, positions, distances }
  }
}
