import { assertPixels, type Pixels } from './pixels.js'
import { LANE_WORDS, wordBytesSum } from './word-lanes.js'

/** blockhash methods as the reference implementations number them. */
export const BLOCKHASH_METHODS = [1, 2] as const
/** 1: "quick", whole-pixel blocks (blockhash-core's bmvbhashEven); 2: "precise", fractional blocks (bmvbhash), the stored default. */
export type BlockhashMethod = (typeof BLOCKHASH_METHODS)[number]

/** Bits per side: 16 gives the 256-bit hash the project stores. */
const BITS = 16

/**
 * 256-bit blockhash (16 bits per side) of decoded pixels, as 64 hex characters, bit for bit what
 * `blockhash-core` returns (a test holds it to that on the fixtures and on random sizes).
 *
 * Why not call `blockhash-core` directly: its precise method spends ~30 ns per pixel on float
 * modulo, floor/ceil and nested arrays (24 ms for a 1023x767 image here), more than the decode
 * itself. This computes the same block totals exactly (integer weights, one add per byte; see
 * blockhashPrecise for why the reference's totals are exact too), so the bits are identical.
 * Fully transparent pixels count as white, as in the reference; RGB input is read as opaque.
 *
 * @example
 * blockhash256({ width, height, channels: 4, data }) // method 2, 'precise'
 * blockhash256({ width, height, channels: 4, data }, 1) // method 1, 'quick'
 */
export function blockhash256(pixels: Pixels, method: BlockhashMethod = 2): string {
  assertPixels(pixels)
  const { width, height } = pixels
  if (method === 1 || (width % BITS === 0 && height % BITS === 0)) return blockhashEven(pixels)
  return blockhashPrecise(pixels)
}

function blockhashEven(pixels: Pixels): string {
  const { width, height, channels, data } = pixels
  const bw = Math.floor(width / BITS)
  const bh = Math.floor(height / BITS)
  // Integer sums below 2^53: exact in any order.
  const blocks = new Float64Array(BITS * BITS)
  for (let y = 0; y < bh * BITS; y++) {
    const rowBase = Math.floor(y / bh) * BITS
    let p = y * width * channels
    for (let bx = 0; bx < BITS; bx++) {
      let total = 0
      if (channels === 3) {
        for (let end = p + bw * 3; p < end; p += 3) total += data[p]! + data[p + 1]! + data[p + 2]!
      } else {
        for (let ix = 0; ix < bw; ix++, p += 4) total += data[p + 3] === 0 ? 765 : data[p]! + data[p + 1]! + data[p + 2]!
      }
      blocks[rowBase + bx]! += total
    }
  }
  return blocksToHex(blocks, bw * bh)
}

interface AxisWeights {
  readonly first: Int32Array
  readonly second: Int32Array
  /** The reference's weights times 16: integers 0..16 (its weights are multiples of 1/16, see blockhashPrecise). */
  readonly firstWeight: Int32Array
  readonly secondWeight: Int32Array
}

/** Per-coordinate block indices and weights, with exactly the reference's expressions. */
function axisWeights(size: number): AxisWeights {
  const blockSize = size / BITS
  const even = size % BITS === 0
  const first = new Int32Array(size)
  const second = new Int32Array(size)
  const firstWeight = new Int32Array(size)
  const secondWeight = new Int32Array(size)
  for (let i = 0; i < size; i++) {
    if (even) {
      first[i] = second[i] = Math.floor(i / blockSize)
      firstWeight[i] = BITS
      secondWeight[i] = 0
      continue
    }
    const mod = (i + 1) % blockSize
    const frac = mod - Math.floor(mod)
    const int = mod - frac
    firstWeight[i] = (1 - frac) * BITS
    secondWeight[i] = frac * BITS
    if (int > 0 || i + 1 === size) {
      first[i] = second[i] = Math.floor(i / blockSize)
    } else {
      first[i] = Math.floor(i / blockSize)
      second[i] = Math.ceil(i / blockSize)
    }
  }
  return { first, second, firstWeight, secondWeight }
}

/**
 * A row's pixels grouped for blockhashPrecise: runs of whole pixels of one block column (weight
 * 16), and the pixels split between two block columns.
 */
interface ColumnPlan {
  /** Per run: block column, first x, end x (exclusive). */
  readonly runs: Int32Array
  /** Per split pixel: x, first block column, its weight, second block column, its weight. */
  readonly splits: Int32Array
}

function columnPlan(width: number): ColumnPlan {
  const { first, second, firstWeight, secondWeight } = axisWeights(width)
  const runs: number[] = []
  const splits: number[] = []
  for (let x = 0; x < width; x++) {
    const whole = first[x] === second[x] || secondWeight[x] === 0
    if (!whole) {
      splits.push(x, first[x]!, firstWeight[x]!, second[x]!, secondWeight[x]!)
      continue
    }
    const block = first[x]!
    const last = runs.length - 3
    if (last >= 0 && runs[last] === block && runs[last + 2] === x) runs[last + 2] = x + 1
    else runs.push(block, x, x + 1)
  }
  return { runs: Int32Array.from(runs), splits: Int32Array.from(splits) }
}

/**
 * blockhash-core's precise method (bmvbhash) for sizes not divisible by 16, separably: each row's
 * 16 column-block sums first, then each row added to its one or two block rows.
 *
 * Why this gives the reference's totals exactly although it adds in another order: the block
 * size is size / 16, exact in binary, so every weight the reference computes ((i + 1) % size/16
 * and 1 minus its fraction) is a multiple of 1/16, each of its terms v · w_row · w_col (v <= 765)
 * a multiple of 1/256 below 2^10, and every partial sum a multiple of 1/256 far below 2^53: the
 * reference's float additions are exact, so any order gives the same real numbers. Here the
 * weights are the integers 16 · w and the totals integers (at most 256 · 765 · pixels), divided
 * by 256 at the end (exact). One add per byte instead of four weighted multiply-adds per pixel.
 */
function blockhashPrecise(pixels: Pixels): string {
  const { width, height, channels, data } = pixels
  const rows = axisWeights(height)
  const { runs, splits } = columnPlan(width)
  const blocks = new Float64Array(BITS * BITS)
  const rowSums = new Float64Array(BITS)
  const bytes = channels === 3 ? byteSummer(data) : undefined
  for (let y = 0; y < height; y++) {
    rowSums.fill(0)
    const base = y * width * channels
    for (let r = 0; r < runs.length; r += 3) {
      let sum = 0
      if (bytes !== undefined) {
        // r+g+b of every pixel of the run: every byte of it.
        sum = bytes(base + runs[r + 1]! * 3, base + runs[r + 2]! * 3)
      } else {
        for (let p = base + runs[r + 1]! * 4, end = base + runs[r + 2]! * 4; p < end; p += 4) sum += pixelValue4(data, p)
      }
      rowSums[runs[r]!]! += BITS * sum
    }
    for (let s = 0; s < splits.length; s += 5) {
      const p = base + splits[s]! * channels
      const v = channels === 3 ? data[p]! + data[p + 1]! + data[p + 2]! : pixelValue4(data, p)
      rowSums[splits[s + 1]!]! += splits[s + 2]! * v
      rowSums[splits[s + 3]!]! += splits[s + 4]! * v
    }
    const top = rows.first[y]! * BITS
    const wTop = rows.firstWeight[y]!
    for (let bx = 0; bx < BITS; bx++) blocks[top + bx]! += wTop * rowSums[bx]!
    const wBottom = rows.secondWeight[y]!
    if (wBottom !== 0) {
      const bottom = rows.second[y]! * BITS
      for (let bx = 0; bx < BITS; bx++) blocks[bottom + bx]! += wBottom * rowSums[bx]!
    }
  }
  for (let i = 0; i < blocks.length; i++) blocks[i] = blocks[i]! / (BITS * BITS)
  return blocksToHex(blocks, (width / BITS) * (height / BITS))
}

/**
 * The sum of data[start..end), reading the whole 32-bit words inside the range as two 16-bit lanes
 * (word-lanes.ts): about a third of the time of a byte loop.
 */
function byteSummer(data: Uint8Array): (start: number, end: number) => number {
  const misalign = data.byteOffset & 3
  const words = new Uint32Array(data.buffer, data.byteOffset - misalign, (misalign + data.length) >>> 2)
  return (start, end) => {
    let sum = 0
    let b = start
    while (b < end && ((b + misalign) & 3) !== 0) sum += data[b++]!
    let w = (b + misalign) >>> 2
    const wordEnd = Math.max(w, (end + misalign) >>> 2)
    for (; w < wordEnd; w += LANE_WORDS) sum += wordBytesSum(words, w, Math.min(wordEnd, w + LANE_WORDS))
    for (b = Math.max(b, wordEnd * 4 - misalign); b < end; b++) sum += data[b]!
    return sum
  }
}

/** The reference's pixel value for RGBA: r+g+b, or 765 (white) where alpha is 0. */
function pixelValue4(data: Uint8Array, p: number): number {
  return data[p + 3] === 0 ? 765 : data[p]! + data[p + 1]! + data[p + 2]!
}

/**
 * The hash from the 16x16 block totals of the whole-pixel method (the same totals blockhashEven
 * adds up; hashImage gets them from the one-pass scan in folded-scan.ts).
 */
export function blockhashFromBlockSums(blocks: Float64Array, pixelsPerBlock: number): string {
  return blocksToHex(blocks, pixelsPerBlock)
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort()
  const n = sorted.length
  return n % 2 === 0 ? (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2 : sorted[Math.floor(n / 2)]!
}

/**
 * One bit per block: brighter than the median of its horizontal band (a quarter of the rows).
 * Blocks within 1 of the median go to the median's side of half brightness, as in the reference,
 * so that near-uniform images do not hash to all zeros or all ones.
 */
function blocksToHex(blocks: Float64Array, pixelsPerBlock: number): string {
  const half = (pixelsPerBlock * 256 * 3) / 2
  const band = blocks.length / 4
  const bits = new Uint8Array(blocks.length)
  for (let b = 0; b < 4; b++) {
    const m = median(blocks.subarray(b * band, (b + 1) * band))
    for (let j = b * band; j < (b + 1) * band; j++) {
      const v = blocks[j]!
      bits[j] = v > m || (Math.abs(v - m) < 1 && m > half) ? 1 : 0
    }
  }
  let hex = ''
  for (let i = 0; i < bits.length; i += 4) hex += ((bits[i]! << 3) | (bits[i + 1]! << 2) | (bits[i + 2]! << 1) | bits[i + 3]!).toString(16)
  return hex
}
