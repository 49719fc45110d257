import { endianness } from 'node:os'
import type { Pixels } from './pixels.js'
import { cachedIntegerPlan, cachedPlan, DOWN } from './pdq-plan.js'
import { EVEN, LANE_WORDS, wordBytesSum } from './word-lanes.js'

/**
 * PDQ's folded blur and decimation, and blockhash's block sums, in one pass over the pixels,
 * read four bytes at a time.
 *
 * Why: the folded downsample read every pixel of a used row once per channel with a float
 * multiply-add (about 1.8 ms per 1024x768 here), and blockhash read the image again (1.2 ms).
 * Both are sums of 8-bit values, so they can be done on 32-bit words holding two 16-bit lanes
 * ("SIMD within a register"): `w & 0x00ff00ff` holds bytes 0 and 2 of a word, `(w >>> 8) &
 * 0x00ff00ff` bytes 1 and 3, and one integer multiply-add then weighs two samples at once.
 *
 * - **Columns first (vertical)**: output row i of the 64 is Σ_r W_i[r] · row r. Inside the image
 *   the two box passes give integer weights over a divisor D_i = window² (1, 2, ..., window, ...,
 *   2, 1; pdq-plan.ts' integer plan), so each lane sums at most 255·D_i; with D_i <= 257 that is
 *   below 2^16 and the lanes never carry. The arithmetic is modulo 2^32 (Math.imul, `| 0`),
 *   which is exact for the final lanes whatever the intermediate words overflow to. The few
 *   output rows with truncated windows whose divisor is larger use float weights per byte.
 * - **Then rows (horizontal)**, on the 64 vertical sums only: luma per column as the integer
 *   299·R + 587·G + 114·B, weighted by the float two-pass weights of the 64 kept columns and
 *   divided by 1000·D_i.
 * - **blockhash** (method 2 on sizes divisible by 16, i.e. its whole-pixel path, and RGB rows
 *   whose 16 blocks start on word boundaries): each row's 16 segment sums are lane sums of the
 *   same words, added to the 16x16 block totals as integers, so exactly blockhash-core's totals.
 *
 * The PDQ samples are the same real numbers as the folded float64 sums (the weights are the same
 * rationals) computed with fewer roundings; both are rounded to float32 at the end. Measured on
 * random textured images of many sizes, the buffers are identical, and so are the hashes (see
 * test/folded-scan.test.ts). Rows that are not a whole number of words, or unaligned pixels,
 * are read from a padded copy. Returns undefined on a big-endian host, and for windows of more
 * than 16 rows, where the lanes would overflow (images taller than about 2,100 pixels).
 */
export interface FoldedScan {
  /** The 64x64 folded buffer, float32 values held in a Float64Array, row-major. */
  readonly down: Float64Array
  /** blockhash's 256 block totals (r+g+b per block, row-major), when asked for and possible. */
  readonly blocks?: Float64Array
  /** Pixels per block, for the blockhash bits (blocks holds totals, not means). */
  readonly pixelsPerBlock?: number
}

const LITTLE_ENDIAN = endianness() === 'LE'
/** 255 · 257 = 65535: the largest divisor whose weighted sums of bytes fit a 16-bit lane. */
const MAX_LANE_DIVISOR = 257
/** blockhash's hash side (16 blocks per side). */
const BITS = 16
/** Up to 128 words of one row (510 per lane each) fit a 16-bit lane; for 4 rows, 64 words (1020 per lane). */
const MAX_BLOCK_WORDS = LANE_WORDS
const MAX_CHUNK_WORDS_4 = 64
/** Output rows with float weights (truncated windows at the edges) that the scan takes on. */
const MAX_FLOAT_ROWS = 4
/** Rows weighed together per pass over the accumulators. */
const GROUP = 4
/** The decimated image's side, as a local binding (an imported one can compile to a getter). */
const SIZE = DOWN

export function foldedScan(pixels: Pixels, withBlocks: boolean): FoldedScan | undefined {
  const { width, height, channels } = pixels
  const rowBytes = width * channels
  if (!LITTLE_ENDIAN || pixels.data.length < rowBytes * height) return undefined
  // Rows that are not a whole number of words (RGB widths not a multiple of 4: most images), or
  // pixels not on a word boundary, are copied once with each row padded by zero bytes to a word
  // (about 0.05 ms for 1000x750): a zero adds nothing to the lanes, and the padding bytes are not
  // columns, so nothing reads their sums.
  const rowStride = (rowBytes + 3) & ~3
  const data = rowStride === rowBytes && pixels.data.byteOffset % 4 === 0 ? pixels.data : padRows(pixels.data, rowBytes, rowStride, height)
  const rowWords = rowStride / 4
  const words = new Uint32Array(data.buffer, data.byteOffset, rowWords * height)
  const rows = cachedIntegerPlan(height, MAX_LANE_DIVISOR)
  const floatRows = cachedPlan(height)
  const cols = cachedPlan(width)
  const { starts, lengths, stride, divisors } = rows
  // Float rows go byte by byte, slower than the float sums' pass: beyond the edge rows (windows
  // over 16 rows, images taller than about 2,100), leave the image to those.
  let floatRowCount = 0
  for (let i = 0; i < SIZE; i++) if (divisors[i] === 0) floatRowCount++
  if (floatRowCount > MAX_FLOAT_ROWS) return undefined

  // For every input row, the output rows that weigh it (ascending) and where its weight sits.
  const counts = new Int32Array(height + 1)
  for (let i = 0; i < SIZE; i++) for (let r = starts[i]!; r < starts[i]! + lengths[i]!; r++) counts[r + 1]!++
  for (let r = 0; r < height; r++) counts[r + 1]! += counts[r]!
  // Accumulators: output rows whose supports meet one group of rows are consecutive, and no more
  // than meet any 4 consecutive rows, so i % slots tells them apart.
  const meeting = new Int32Array(height)
  for (let i = 0; i < SIZE; i++) for (let r = Math.max(0, starts[i]! - GROUP + 1); r < starts[i]! + lengths[i]!; r++) meeting[r]!++
  let slots = 1
  for (let r = 0; r < height; r++) slots = Math.max(slots, meeting[r]!)
  const targetOf = new Int32Array(counts[height]!)
  const weightAt = new Int32Array(counts[height]!)
  const fill = counts.slice(0, height)
  for (let i = 0; i < SIZE; i++) {
    for (let k = 0; k < lengths[i]!; k++) {
      const at = fill[starts[i]! + k]!++
      targetOf[at] = i
      weightAt[at] = i * stride + k
    }
  }
  // RGB lumas are read 4 pixels (3 words) at a time: room for the last, partial group's words.
  const laneWords = channels === 3 ? 3 * Math.ceil(width / 4) : rowWords
  const lows = Array.from({ length: slots }, () => new Int32Array(laneWords))
  const highs = Array.from({ length: slots }, () => new Int32Array(laneWords))
  const floats: (Float64Array | undefined)[] = Array.from({ length: slots }, () => undefined)

  const blockWidth = width / BITS
  const blockWords = (blockWidth * channels) / 4
  const blocksPossible = withBlocks && channels === 3 && width % BITS === 0 && height % BITS === 0 && Number.isInteger(blockWords) && blockWords <= MAX_BLOCK_WORDS
  const blocks = blocksPossible ? new Float64Array(BITS * BITS) : undefined
  const blockHeight = height / BITS

  const down = new Float64Array(SIZE * SIZE)
  const luma = new Float64Array(4 * Math.ceil(width / 4))
  const intWeights = rows.weights
  const floatWeights = floatRows.weights
  // Integer-weighted output rows of the current group of rows, and their 4 weights (0 for rows of
  // the group they do not read).
  const groupTargets = new Int32Array(slots + GROUP)
  const groupWeights = new Int32Array((slots + GROUP) * GROUP)
  for (let r0 = 0; r0 < height; ) {
    // Groups of 4 rows (one pass over 4 rows' words per accumulator), never across a band of
    // blockhash blocks; 1 row where fewer are left.
    const limit = blocks !== undefined ? (Math.floor(r0 / blockHeight) + 1) * blockHeight : height
    const n = limit - r0 >= GROUP ? GROUP : 1
    const p = r0 * rowWords
    let targets = 0
    for (let t = counts[r0]!; t < counts[r0 + n]!; t++) {
      const i = targetOf[t]!
      if (divisors[i] === 0) continue
      let g = 0
      while (g < targets && groupTargets[g] !== i) g++
      if (g === targets) {
        groupTargets[targets++] = i
        groupWeights.fill(0, g * GROUP, g * GROUP + GROUP)
        if (starts[i]! >= r0) {
          lows[i % slots]!.fill(0)
          highs[i % slots]!.fill(0)
        }
      }
      groupWeights[g * GROUP + targetRow(t, counts, r0, n)]! = intWeights[weightAt[t]!]!
    }
    const base = blocks === undefined ? 0 : Math.floor(r0 / blockHeight) * BITS
    for (let g = 0; g < targets; g++) {
      const slot = groupTargets[g]! % slots
      const k = g * GROUP
      if (n === GROUP) {
        if (g === 0 && blocks !== undefined) {
          addRows4WithBlocks(words, p, rowWords, blockWords, groupWeights[k]!, groupWeights[k + 1]!, groupWeights[k + 2]!, groupWeights[k + 3]!, lows[slot]!, highs[slot]!, blocks, base)
        } else {
          addRows4(words, p, rowWords, groupWeights[k]!, groupWeights[k + 1]!, groupWeights[k + 2]!, groupWeights[k + 3]!, lows[slot]!, highs[slot]!)
        }
      } else if (g === 0 && blocks !== undefined) {
        addRowWithBlocks(words, p, blockWords, groupWeights[k]!, lows[slot]!, highs[slot]!, blocks, base)
      } else {
        addRow(words, p, rowWords, groupWeights[k]!, lows[slot]!, highs[slot]!)
      }
    }
    if (targets === 0 && blocks !== undefined) for (let r = r0; r < r0 + n; r++) addBlocks(words, r * rowWords, blockWords, blocks, base)
    // Output rows whose divisor is too large for the lanes: float weights, byte by byte.
    for (let t = counts[r0]!; t < counts[r0 + n]!; t++) {
      const i = targetOf[t]!
      if (divisors[i] !== 0) continue
      const slot = i % slots
      const r = r0 + targetRow(t, counts, r0, n)
      let acc = floats[slot]
      if (acc === undefined) acc = floats[slot] = new Float64Array(rowBytes)
      if (r === starts[i]) acc.fill(0)
      addRowFloat(data, r * rowStride, rowBytes, floatWeights[weightAt[t]!]!, acc)
    }
    r0 += n
    // Output rows whose support ended in this group: their columns are complete.
    for (let t = counts[r0 - n]!; t < counts[r0]!; t++) {
      const i = targetOf[t]!
      if (starts[i]! + lengths[i]! !== r0 - n + 1 + targetRow(t, counts, r0 - n, n)) continue
      const slot = i % slots
      let divisor = 1000
      if (divisors[i] !== 0) {
        if (channels === 3) lumaFromLanes3(lows[slot]!, highs[slot]!, width, luma)
        else lumaFromLanes4(lows[slot]!, highs[slot]!, width, luma)
        divisor *= divisors[i]!
      } else {
        lumaFromFloats(floats[slot]!, width, channels, luma)
      }
      sampleRow(luma, cols.starts, cols.lengths, cols.stride, cols.weights, divisor, down, i * SIZE)
    }
  }
  // The reference's buffer is float32; so is what the DCT and the quality metric read.
  for (let k = 0; k < down.length; k++) down[k] = Math.fround(down[k]!)
  return blocks === undefined ? { down } : { down, blocks, pixelsPerBlock: blockWidth * blockHeight }
}

/** The rows of `data` copied into a word-aligned buffer with `stride` bytes per row (zeros after each row's `rowBytes`). */
function padRows(data: Uint8Array, rowBytes: number, stride: number, height: number): Uint8Array {
  const padded = new Uint8Array(stride * height)
  if (stride === rowBytes) padded.set(data.subarray(0, rowBytes * height))
  else for (let r = 0; r < height; r++) padded.set(data.subarray(r * rowBytes, (r + 1) * rowBytes), r * stride)
  return padded
}

/** Which row of the group (0..n-1) CSR entry t belongs to. */
function targetRow(t: number, counts: Int32Array, r0: number, n: number): number {
  let row = 0
  while (row + 1 < n && t >= counts[r0 + row + 1]!) row++
  return row
}

/** addRow for 4 consecutive rows at once: the accumulators are read and written once per 4 rows. */
function addRows4(words: Uint32Array, p: number, rowWords: number, k0: number, k1: number, k2: number, k3: number, lows: Int32Array, highs: Int32Array): void {
  const p1 = p + rowWords
  const p2 = p1 + rowWords
  const p3 = p2 + rowWords
  for (let a = 0; a < rowWords; a++) {
    const w0 = words[p + a]!
    const w1 = words[p1 + a]!
    const w2 = words[p2 + a]!
    const w3 = words[p3 + a]!
    lows[a] = (lows[a]! + Math.imul(k0, w0 & EVEN) + Math.imul(k1, w1 & EVEN) + Math.imul(k2, w2 & EVEN) + Math.imul(k3, w3 & EVEN)) | 0
    highs[a] = (highs[a]! + Math.imul(k0, (w0 >>> 8) & EVEN) + Math.imul(k1, (w1 >>> 8) & EVEN) + Math.imul(k2, (w2 >>> 8) & EVEN) + Math.imul(k3, (w3 >>> 8) & EVEN)) | 0
  }
}

/**
 * addRows4, and the 4 rows' 16 segment sums added to the block row at `base`. A lane of the
 * per-segment sums takes 4 · 255 per word, so at most 64 words are summed before they are emptied.
 */
function addRows4WithBlocks(words: Uint32Array, p: number, rowWords: number, blockWords: number, k0: number, k1: number, k2: number, k3: number, lows: Int32Array, highs: Int32Array, blocks: Float64Array, base: number): void {
  const p1 = p + rowWords
  const p2 = p1 + rowWords
  const p3 = p2 + rowWords
  let a = 0
  for (let bx = 0; bx < BITS; bx++) {
    const segmentEnd = a + blockWords
    let total = 0
    while (a < segmentEnd) {
      let sumLow = 0
      let sumHigh = 0
      for (const stop = Math.min(segmentEnd, a + MAX_CHUNK_WORDS_4); a < stop; a++) {
        const w0 = words[p + a]!
        const w1 = words[p1 + a]!
        const w2 = words[p2 + a]!
        const w3 = words[p3 + a]!
        const l0 = w0 & EVEN
        const l1 = w1 & EVEN
        const l2 = w2 & EVEN
        const l3 = w3 & EVEN
        const h0 = (w0 >>> 8) & EVEN
        const h1 = (w1 >>> 8) & EVEN
        const h2 = (w2 >>> 8) & EVEN
        const h3 = (w3 >>> 8) & EVEN
        sumLow = (sumLow + l0 + l1 + l2 + l3) | 0
        sumHigh = (sumHigh + h0 + h1 + h2 + h3) | 0
        lows[a] = (lows[a]! + Math.imul(k0, l0) + Math.imul(k1, l1) + Math.imul(k2, l2) + Math.imul(k3, l3)) | 0
        highs[a] = (highs[a]! + Math.imul(k0, h0) + Math.imul(k1, h1) + Math.imul(k2, h2) + Math.imul(k3, h3)) | 0
      }
      total += (sumLow & 0xffff) + (sumLow >>> 16) + (sumHigh & 0xffff) + (sumHigh >>> 16)
    }
    blocks[base + bx]! += total
  }
}

/** lows/highs[a] += weight · lanes of word p + a (two bytes in each, 16 bits apart). */
function addRow(words: Uint32Array, p: number, count: number, weight: number, lows: Int32Array, highs: Int32Array): void {
  for (let a = 0; a < count; a++) {
    const w = words[p + a]!
    lows[a] = (lows[a]! + Math.imul(weight, w & EVEN)) | 0
    highs[a] = (highs[a]! + Math.imul(weight, (w >>> 8) & EVEN)) | 0
  }
}

/** addRow, and the row's 16 segment sums (all bytes) added to the block row at `base`. */
function addRowWithBlocks(words: Uint32Array, p: number, blockWords: number, weight: number, lows: Int32Array, highs: Int32Array, blocks: Float64Array, base: number): void {
  let a = 0
  for (let bx = 0; bx < BITS; bx++) {
    let sum = 0
    for (const stop = a + blockWords; a < stop; a++) {
      const w = words[p + a]!
      const low = w & EVEN
      const high = (w >>> 8) & EVEN
      sum = (sum + low + high) | 0
      lows[a] = (lows[a]! + Math.imul(weight, low)) | 0
      highs[a] = (highs[a]! + Math.imul(weight, high)) | 0
    }
    blocks[base + bx]! += (sum & 0xffff) + (sum >>> 16)
  }
}

/** The row's 16 segment sums (all bytes) added to the block row at `base`. */
function addBlocks(words: Uint32Array, p: number, blockWords: number, blocks: Float64Array, base: number): void {
  for (let bx = 0, a = p; bx < BITS; bx++, a += blockWords) blocks[base + bx]! += wordBytesSum(words, a, a + blockWords)
}

/** acc[b] += weight · byte b of the row (output rows whose integer divisor would be too large). */
function addRowFloat(data: Uint8Array, at: number, count: number, weight: number, acc: Float64Array): void {
  for (let b = 0; b < count; b++) acc[b]! += weight * data[at + b]!
}

/** RGB: three words hold four pixels (r0 g0 b0 r1 | g1 b1 r2 g2 | b2 r3 g3 b3); lows hold bytes 0 and 2, highs 1 and 3. */
function lumaFromLanes3(lows: Int32Array, highs: Int32Array, width: number, luma: Float64Array): void {
  for (let x = 0, a = 0; x < width; x += 4, a += 3) {
    const l0 = lows[a]!
    const h0 = highs[a]!
    const l1 = lows[a + 1]!
    const h1 = highs[a + 1]!
    const l2 = lows[a + 2]!
    const h2 = highs[a + 2]!
    luma[x] = 299 * (l0 & 0xffff) + 587 * (h0 & 0xffff) + 114 * (l0 >>> 16)
    luma[x + 1] = 299 * (h0 >>> 16) + 587 * (l1 & 0xffff) + 114 * (h1 & 0xffff)
    luma[x + 2] = 299 * (l1 >>> 16) + 587 * (h1 >>> 16) + 114 * (l2 & 0xffff)
    luma[x + 3] = 299 * (h2 & 0xffff) + 587 * (l2 >>> 16) + 114 * (h2 >>> 16)
  }
}

/** RGBA: one word per pixel (r g b a); alpha, in the high lane of highs, is not read. */
function lumaFromLanes4(lows: Int32Array, highs: Int32Array, width: number, luma: Float64Array): void {
  for (let x = 0; x < width; x++) {
    const l = lows[x]!
    luma[x] = 299 * (l & 0xffff) + 587 * (highs[x]! & 0xffff) + 114 * (l >>> 16)
  }
}

function lumaFromFloats(acc: Float64Array, width: number, channels: number, luma: Float64Array): void {
  for (let x = 0, b = 0; x < width; x++, b += channels) luma[x] = 299 * acc[b]! + 587 * acc[b + 1]! + 114 * acc[b + 2]!
}

/** The 64 kept columns of one output row: float two-pass weights over the column lumas, over `divisor`. */
function sampleRow(luma: Float64Array, starts: Int32Array, lengths: Int32Array, stride: number, weights: Float64Array, divisor: number, down: Float64Array, at: number): void {
  for (let j = 0; j < SIZE; j++) {
    let sum = 0
    const start = starts[j]!
    for (let k = 0, len = lengths[j]!, wBase = j * stride; k < len; k++) sum += weights[wBase + k]! * luma[start + k]!
    down[at + j] = sum / divisor
  }
}
