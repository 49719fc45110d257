import { assertPixels, type Pixels } from './pixels.js'

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
 * itself. This does the same multiplications and additions in the same order per block, with the
 * per-row and per-column block indices and weights computed once, so the sums are identical.
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
  readonly firstWeight: Float64Array
  readonly secondWeight: Float64Array
}

/** Per-coordinate block indices and weights, with exactly the reference's expressions. */
function axisWeights(size: number): AxisWeights {
  const blockSize = size / BITS
  const even = size % BITS === 0
  const first = new Int32Array(size)
  const second = new Int32Array(size)
  const firstWeight = new Float64Array(size)
  const secondWeight = new Float64Array(size)
  for (let i = 0; i < size; i++) {
    if (even) {
      first[i] = second[i] = Math.floor(i / blockSize)
      firstWeight[i] = 1
      secondWeight[i] = 0
      continue
    }
    const mod = (i + 1) % blockSize
    const frac = mod - Math.floor(mod)
    const int = mod - frac
    firstWeight[i] = 1 - frac
    secondWeight[i] = frac
    if (int > 0 || i + 1 === size) {
      first[i] = second[i] = Math.floor(i / blockSize)
    } else {
      first[i] = Math.floor(i / blockSize)
      second[i] = Math.ceil(i / blockSize)
    }
  }
  return { first, second, firstWeight, secondWeight }
}

function blockhashPrecise(pixels: Pixels): string {
  const { width, height, channels, data } = pixels
  const rows = axisWeights(height)
  const cols = axisWeights(width)
  const { first: lefts, second: rights, firstWeight: wLefts, secondWeight: wRights } = cols
  const blocks = new Float64Array(BITS * BITS)
  for (let y = 0; y < height; y++) {
    const top = rows.first[y]! * BITS
    const bottom = rows.second[y]! * BITS
    const wTop = rows.firstWeight[y]!
    const wBottom = rows.secondWeight[y]!
    const sameBand = top === bottom
    // Running sums of the current left block in the top and bottom block rows, kept in locals
    // rather than re-read from memory each pixel. Each block still receives the same additions in
    // the same order as in the reference: pixel by pixel, and per pixel top-left, top-right,
    // bottom-left, bottom-right. Adding an exact 0 changes nothing, so zero-weight terms are skipped.
    let current = lefts[0]!
    let accTop = blocks[top + current]!
    let accBottom = sameBand ? 0 : blocks[bottom + current]!
    let p = y * width * channels
    for (let x = 0; x < width; x++, p += channels) {
      const left = lefts[x]!
      if (left !== current) {
        blocks[top + current] = accTop
        if (!sameBand) blocks[bottom + current] = accBottom
        current = left
        accTop = blocks[top + current]!
        if (!sameBand) accBottom = blocks[bottom + current]!
      }
      // The reference's pixel value: r+g+b, or 765 (white) where alpha is 0.
      const v = channels === 4 && data[p + 3] === 0 ? 765 : data[p]! + data[p + 1]! + data[p + 2]!
      const wLeft = wLefts[x]!
      const wRight = wRights[x]!
      const right = rights[x]!
      const vTop = v * wTop
      accTop += vTop * wLeft
      if (wRight !== 0) {
        if (right === left) accTop += vTop * wRight
        else blocks[top + right]! += vTop * wRight
      }
      if (wBottom !== 0) {
        const vBottom = v * wBottom
        if (sameBand) {
          accTop += vBottom * wLeft
          if (wRight !== 0) {
            if (right === left) accTop += vBottom * wRight
            else blocks[top + right]! += vBottom * wRight
          }
        } else {
          accBottom += vBottom * wLeft
          if (wRight !== 0) {
            if (right === left) accBottom += vBottom * wRight
            else blocks[bottom + right]! += vBottom * wRight
          }
        }
      }
    }
    blocks[top + current] = accTop
    if (!sameBand) blocks[bottom + current] = accBottom
  }
  return blocksToHex(blocks, (width / BITS) * (height / BITS))
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
