import { foldedScan } from './folded-scan.js'
import { assertPixels, type Pixels } from './pixels.js'
import { cachedPlan, decimationIndex, DOWN as PLAN_DOWN, jaroszWindowSize } from './pdq-plan.js'

export { jaroszWindowSize } from './pdq-plan.js'

/**
 * PDQ (Facebook's 256-bit perceptual hash), written from the published algorithm
 * ("The TMK+PDQF Video-Hashing Algorithm and the PDQ Image Similarity Algorithm", 2019) and
 * checked against the C++ reference (facebook/ThreatExchange pdq/cpp): luma, two passes of a box
 * ("Jarosz") blur sized from the image, decimation to 64x64, the 16x16 block of low-frequency DCT
 * coefficients (skipping the DC row and column), one bit per coefficient above the median, and a
 * quality score from the gradients of the 64x64 image.
 *
 * Two ways to blur and decimate, both computing far less than the reference's four full-image passes:
 *
 * - **folded** (default): the blur is separable and linear, so the two box passes of each axis
 *   fold into one weight vector per kept row/column and only the 64x64 kept samples are
 *   evaluated, in float64. The reference sums in float32 with running sums, so a sample differs
 *   from the reference's by ~1e-3 grey levels; that moves a bit only when a DCT coefficient is
 *   that close to the median: 0 bits on 136 synthetic scenes and the fixtures.
 * - **exact** (`exact: true`): the reference's own arithmetic: float32 wherever it uses float
 *   (Math.fround, Float32Array), its running-sum box filter with the same adds, subtracts and
 *   divisions in the same order, streamed row by row (no full-size float image) and, in the second
 *   row pass, dividing only at the 64 kept columns. The 64x64 buffer, the DCT and so the hash and
 *   quality are bit-identical to pdqHash256FromFloatLuma's on the same pixels. About 5-7x the
 *   folded version's time (every sample goes through four float32 dependency chains).
 *
 * The quality metric and the DCT always use the reference's float32 arithmetic (they are cheap).
 */
/** Size of the decimated image, as a local binding (an imported one can compile to a getter in hot loops), and of the kept DCT block. */
const DOWN = PLAN_DOWN
const DCT_SIZE = 16
/** The reference's float luma coefficients, and each one's product with every 8-bit value (as the reference rounds it). */
const LUMA_R = lumaTable(0.299)
const LUMA_G = lumaTable(0.587)
const LUMA_B = lumaTable(0.114)
function lumaTable(coefficient: number): Float32Array {
  const c = Math.fround(coefficient)
  return Float32Array.from({ length: 256 }, (_, v) => c * v)
}

/** One PDQ hash with its quality; `dihedral` holds the 8 hashes of the rotations and flips when asked for. */
export interface PdqResult {
  /** 64 lowercase hex characters, in the reference's word order. */
  readonly hash: string
  /** 0..100; the upstream advice is not to match hashes below 50. */
  readonly quality: number
  /**
   * Hashes of the image as if rotated or flipped, in the reference order and with its names
   * (checked against the fixtures' dih/ files): original, rotate 90 (anticlockwise), rotate 180,
   * rotate 270, flip X (top-bottom), flip Y (left-right), flip +1 (transpose), flip -1 (anti-transpose).
   */
  readonly dihedral?: readonly string[]
}

export interface PdqOptions {
  /** Also compute the 8 dihedral hashes (cheap: they come from the same DCT). Default false. */
  readonly dihedral?: boolean
  /**
   * true: blur and decimate with the C++ reference's float32 arithmetic and summation order, for a
   * hash and quality bit-identical to its own on the same pixels; about 5-7x the folded time.
   * false: folded weights only (fastest; a few bits off on images whose DCT has many coefficients
   * at rounding-noise distance from the median, e.g. thin or mirror-symmetric images).
   * Default (undefined): folded, redone exactly when two or more coefficients lie within 0.01 of
   * the median, so the hash is the reference's or at most 2 bits from it (see the file comment).
   */
  readonly exact?: boolean
  /**
   * First shrink images wider or taller than 512 to exactly 512x512 by nearest neighbour, as the
   * C++ command-line tool does before hashing (pdq-photo-hasher, io/pdqio.cpp, CImg resize). Only to
   * reproduce that tool's output: the shrink drops most pixels and distorts the aspect, and moves
   * hashes a median 4 bits (up to 56 on very thin images) from the hash of the full image, which is
   * what the reference's hashing functions, the pdqhash library and the published expected values
   * give. Default false.
   */
  readonly cliPreShrink?: boolean
}

/** Rows filtered together: the running sums are float32 chains (add, round, subtract, round), so one row at a time waits on each rounding; four independent rows in one loop keep the CPU busy. */
const BLOCK = 4

/**
 * The reference's box filter along rows (box1DFloat), float32 throughout, for `rows` (1 or 4)
 * rows of `length` at `stride` apart: a running sum that takes in the sample entering the window,
 * then lets go of the one leaving it, divided by the number of samples in the window (fewer at
 * the ends). With `cols` (non-decreasing column indices), only the outputs at those columns are
 * divided and stored, as kept[row * 64 + j], and the sums stop after the last one; the sums
 * still visit every sample before it, since their rounding depends on all of them.
 */
function boxRows(input: Float32Array, rows: number, stride: number, length: number, window: number, output: Float32Array, cols?: Int32Array): void {
  const half = (window + 2) >> 1
  const outStride = cols === undefined ? stride : DOWN
  const b1 = rows > 1 ? stride : 0
  const b2 = rows > 1 ? 2 * stride : 0
  const b3 = rows > 1 ? 3 * stride : 0
  const o1 = rows > 1 ? outStride : 0
  const o2 = rows > 1 ? 2 * outStride : 0
  const o3 = rows > 1 ? 3 * outStride : 0
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let count = 0
  let ri = 0
  let li = 0
  let j = 0
  let next = cols === undefined ? 0 : cols[0]!
  const last = cols === undefined ? length - 1 : cols[DOWN - 1]!
  for (let oi = -(half - 1); oi <= last; oi++, ri++) {
    if (ri < length) {
      s0 = Math.fround(s0 + input[ri]!)
      s1 = Math.fround(s1 + input[ri + b1]!)
      s2 = Math.fround(s2 + input[ri + b2]!)
      s3 = Math.fround(s3 + input[ri + b3]!)
      if (ri >= window) {
        s0 = Math.fround(s0 - input[li]!)
        s1 = Math.fround(s1 - input[li + b1]!)
        s2 = Math.fround(s2 - input[li + b2]!)
        s3 = Math.fround(s3 - input[li + b3]!)
        li++
      } else {
        count++
      }
    } else {
      s0 = Math.fround(s0 - input[li]!)
      s1 = Math.fround(s1 - input[li + b1]!)
      s2 = Math.fround(s2 - input[li + b2]!)
      s3 = Math.fround(s3 - input[li + b3]!)
      li++
      count--
    }
    if (oi < 0) continue
    if (cols === undefined) {
      output[oi] = s0 / count
      output[oi + o1] = s1 / count
      output[oi + o2] = s2 / count
      output[oi + o3] = s3 / count
    } else {
      while (oi === next) {
        output[j] = s0 / count
        output[j + o1] = s1 / count
        output[j + o2] = s2 / count
        output[j + o3] = s3 / count
        j++
        next = j < DOWN ? cols[j]! : -1
      }
    }
  }
}

/**
 * The reference's box filter down the columns (box1DFloat with a row stride), fed one row at a
 * time: push() takes the next input row and writes the output row it completes, returning its
 * index (or -1); finish() yields the last rows as the window shrinks. Each column's sum sees the
 * reference's sequence of adds and subtracts; the order across columns does not matter.
 */
class ColumnBox {
  readonly #width: number
  readonly #window: number
  readonly #half: number
  readonly #length: number
  readonly #sums: Float32Array
  readonly #ring: Float32Array
  readonly #slots: number
  #read = 0
  #left = 0
  #count = 0
  #out = 0

  constructor(width: number, length: number, window: number) {
    this.#width = width
    this.#window = window
    this.#half = (window + 2) >> 1
    this.#length = length
    this.#sums = new Float32Array(width)
    this.#slots = window + 1
    this.#ring = new Float32Array(this.#slots * width)
  }

  push(row: Float32Array, at: number, output: Float32Array, outAt: number): number {
    const width = this.#width
    const sums = this.#sums
    const ring = this.#ring
    const ri = this.#read++
    const slot = (ri % this.#slots) * width
    if (ri < this.#window) {
      const count = ++this.#count
      const writes = ri >= this.#half - 1
      for (let c = 0; c < width; c++) {
        const x = row[at + c]!
        ring[slot + c] = x
        const s = Math.fround(sums[c]! + x)
        sums[c] = s
        if (writes) output[outAt + c] = s / count
      }
      return writes ? this.#out++ : -1
    }
    const leaving = (this.#left++ % this.#slots) * width
    const count = this.#count
    for (let c = 0; c < width; c++) {
      const x = row[at + c]!
      ring[slot + c] = x
      const s = Math.fround(Math.fround(sums[c]! + x) - ring[leaving + c]!)
      sums[c] = s
      output[outAt + c] = s / count
    }
    return this.#out++
  }

  finish(output: Float32Array, outAt: number): number {
    if (this.#out >= this.#length) return -1
    const width = this.#width
    const sums = this.#sums
    const ring = this.#ring
    const leaving = (this.#left++ % this.#slots) * width
    const count = --this.#count
    for (let c = 0; c < width; c++) {
      const s = Math.fround(sums[c]! - ring[leaving + c]!)
      sums[c] = s
      output[outAt + c] = s / count
    }
    return this.#out++
  }
}

/** The reference's blur and decimation in its own float32 arithmetic (see the file comment). */
function exactDownsample(pixels: Pixels): Float64Array {
  const { width, height, channels, data } = pixels
  const out = new Float64Array(DOWN * DOWN)
  const luma = new Float32Array(BLOCK * width)
  const lumaRow = (r: number, at: number): void => {
    for (let c = 0, p = r * width * channels; c < width; c++, p += channels) {
      luma[at + c] = Math.fround(LUMA_R[data[p]!]! + LUMA_G[data[p + 1]!]!) + LUMA_B[data[p + 2]!]!
    }
  }
  if (width === DOWN && height === DOWN) {
    // The reference takes a 64x64 image as its own downsample (no blur).
    for (let r = 0; r < DOWN; r++) {
      lumaRow(r, 0)
      for (let c = 0; c < DOWN; c++) out[r * DOWN + c] = luma[c]!
    }
    return out
  }
  const rowWindow = jaroszWindowSize(width)
  const colWindow = jaroszWindowSize(height)
  const cols = Int32Array.from({ length: DOWN }, (_, j) => decimationIndex(j, width))
  // Kept output rows of the last pass, as the 64-row indices each one fills (several when height < 64).
  const targets: number[][] = Array.from({ length: height }, () => [])
  for (let i = 0; i < DOWN; i++) targets[decimationIndex(i, height)]!.push(i)

  const rowPass1 = new Float32Array(BLOCK * width)
  const colPass1 = new Float32Array(BLOCK * width)
  const rowPass2 = new Float32Array(BLOCK * DOWN)
  const colPass2 = new Float32Array(DOWN)
  const firstColumns = new ColumnBox(width, height, colWindow)
  const secondColumns = new ColumnBox(DOWN, height, colWindow)
  let pending = 0 // rows of colPass1 waiting for the second row pass
  const keep = (row: number): void => {
    if (row < 0) return
    for (const i of targets[row]!) for (let j = 0; j < DOWN; j++) out[i * DOWN + j] = colPass2[j]!
  }
  const secondRows = (): void => {
    if (pending === BLOCK) boxRows(colPass1, BLOCK, width, width, rowWindow, rowPass2, cols)
    else for (let b = 0; b < pending; b++) boxRows(colPass1.subarray(b * width), 1, width, width, rowWindow, rowPass2.subarray(b * DOWN), cols)
    for (let b = 0; b < pending; b++) keep(secondColumns.push(rowPass2, b * DOWN, colPass2, 0))
    pending = 0
  }
  const firstColumnsOut = (row: number): void => {
    if (row < 0) return
    pending++
    if (pending === BLOCK) secondRows()
  }
  for (let r0 = 0; r0 < height; r0 += BLOCK) {
    const rows = Math.min(BLOCK, height - r0)
    for (let b = 0; b < rows; b++) lumaRow(r0 + b, b * width)
    if (rows === BLOCK) boxRows(luma, BLOCK, width, width, rowWindow, rowPass1)
    else for (let b = 0; b < rows; b++) boxRows(luma.subarray(b * width), 1, width, width, rowWindow, rowPass1.subarray(b * width))
    for (let b = 0; b < rows; b++) firstColumnsOut(firstColumns.push(rowPass1, b * width, colPass1, pending * width))
  }
  for (let row = firstColumns.finish(colPass1, pending * width); row >= 0; row = firstColumns.finish(colPass1, pending * width)) firstColumnsOut(row)
  secondRows()
  for (let row = secondColumns.finish(colPass2, 0); row >= 0; row = secondColumns.finish(colPass2, 0)) keep(row)
  return out
}

/**
 * The folded-weights blur and decimation in float64: the one-pass word scan (folded-scan.ts)
 * where the layout allows it, else these float sums. Each input row that some output row needs
 * is filtered horizontally into 64 samples (luma is linear, so R, G and B are accumulated
 * separately and combined once per sample), then added into the output rows that weigh it.
 */
function foldedDownsample(pixels: Pixels): Float64Array {
  return foldedScan(pixels, false)?.down ?? foldedSums(pixels)
}

/** The folded downsample with float weights per byte: any layout. Exported for the tests that compare it with the scan. */
export function foldedSums(pixels: Pixels): Float64Array {
  const { width, height, channels, data } = pixels
  const cols = cachedPlan(width)
  const rows = cachedPlan(height)
  const out = new Float64Array(DOWN * DOWN)
  const samples = new Float64Array(DOWN)
  const { starts, lengths, stride, weights } = cols
  // Output rows that read input row r, with their weights: at most a few per row.
  const users: { target: number; weight: number }[][] = Array.from({ length: height }, () => [])
  for (let i = 0; i < DOWN; i++) {
    for (let k = 0; k < rows.lengths[i]!; k++) users[rows.starts[i]! + k]!.push({ target: i, weight: rows.weights[i * rows.stride + k]! })
  }
  for (let r = 0; r < height; r++) {
    const rowUsers = users[r]!
    if (rowUsers.length === 0) continue
    const rowBase = r * width * channels
    for (let j = 0; j < DOWN; j++) {
      let sr = 0
      let sg = 0
      let sb = 0
      let p = rowBase + starts[j]! * channels
      const wBase = j * stride
      const len = lengths[j]!
      for (let k = 0; k < len; k++, p += channels) {
        const w = weights[wBase + k]!
        sr += w * data[p]!
        sg += w * data[p + 1]!
        sb += w * data[p + 2]!
      }
      samples[j] = 0.299 * sr + 0.587 * sg + 0.114 * sb
    }
    for (const { target, weight } of rowUsers) {
      const base = target * DOWN
      for (let j = 0; j < DOWN; j++) out[base + j]! += weight * samples[j]!
    }
  }
  // The reference's buffer is float32; so is what the DCT and the quality metric read.
  for (let k = 0; k < out.length; k++) out[k] = Math.fround(out[k]!)
  return out
}

/** pdq-photo-hasher's pre-shrink: nearest neighbour to 512x512, source index floor(x * width / 512), as CImg's resize. */
const CLI_SHRINK = 512
function cliPreShrink(pixels: Pixels): Pixels {
  const { width, height, channels, data } = pixels
  if (width <= CLI_SHRINK && height <= CLI_SHRINK) return pixels
  const out = new Uint8Array(CLI_SHRINK * CLI_SHRINK * 3)
  for (let y = 0, o = 0; y < CLI_SHRINK; y++) {
    const row = Math.floor((y * height) / CLI_SHRINK) * width
    for (let x = 0; x < CLI_SHRINK; x++, o += 3) {
      const p = (row + Math.floor((x * width) / CLI_SHRINK)) * channels
      out[o] = data[p]!
      out[o + 1] = data[p + 1]!
      out[o + 2] = data[p + 2]!
    }
  }
  return { width: CLI_SHRINK, height: CLI_SHRINK, channels: 3, data: out }
}

/**
 * The 64x64 blurred, decimated luma image (row-major), what the reference feeds to its DCT:
 * float32 values held in a Float64Array; with `exact`, equal to the reference's buffer64x64.
 */
export function pdqDownsample(pixels: Pixels, options: Pick<PdqOptions, 'exact' | 'cliPreShrink'> = {}): Float64Array {
  assertPixels(pixels)
  const input = options.cliPreShrink === true ? cliPreShrink(pixels) : pixels
  return options.exact === true ? exactDownsample(input) : foldedDownsample(input)
}

/**
 * The reference quality metric, in its float32 arithmetic: each neighbour difference times 100
 * over 255, truncated; their absolute sum / 90, capped at 100.
 */
export function pdqQuality(down: Float64Array): number {
  let gradientSum = 0
  for (let i = 0; i < DOWN - 1; i++) {
    for (let j = 0; j < DOWN; j++) {
      gradientSum += Math.abs(Math.trunc(Math.fround(Math.fround(Math.fround((down[i * DOWN + j] ?? 0) - (down[(i + 1) * DOWN + j] ?? 0)) * 100) / 255)))
    }
  }
  for (let i = 0; i < DOWN; i++) {
    for (let j = 0; j < DOWN - 1; j++) {
      gradientSum += Math.abs(Math.trunc(Math.fround(Math.fround(Math.fround((down[i * DOWN + j] ?? 0) - (down[i * DOWN + j + 1] ?? 0)) * 100) / 255)))
    }
  }
  return Math.min(100, Math.floor(gradientSum / 90))
}

/** 16x64 DCT-II basis without the DC row, as the reference rounds it: D[i][j] = float(float(sqrt(2/64))·cos(π/128·(i+1)·(2j+1))). */
const DCT_MATRIX = (() => {
  const m = new Float32Array(DCT_SIZE * DOWN)
  const scale = Math.fround(Math.sqrt(2 / DOWN))
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < DOWN; j++) m[i * DOWN + j] = scale * Math.cos((Math.PI / 2 / DOWN) * (i + 1) * (2 * j + 1))
  }
  return m
})()

/** B = D·A·Dᵀ: the 16x16 low-frequency coefficients of the 64x64 image, float32 sums over k in the reference's order. */
export function pdqDct(down: Float64Array): Float64Array {
  const m = DCT_MATRIX
  // The reference reads the buffer as float32: rounded once here, not in the inner loop.
  const f = dctInput
  f.set(down)
  const t = new Float32Array(DCT_SIZE * DOWN)
  for (let i = 0; i < DCT_SIZE; i++) {
    const row = i * DOWN
    for (let k = 0; k < DOWN; k++) {
      const d = m[row + k]!
      const src = k * DOWN
      for (let j = 0; j < DOWN; j++) t[row + j] = t[row + j]! + Math.fround(d * f[src + j]!)
    }
  }
  // Four output coefficients per pass over a row of t: each sum is its own float32 chain in the
  // reference's order (so the same bits), and the four chains overlap instead of waiting on each other.
  const b = new Float64Array(DCT_SIZE * DCT_SIZE)
  for (let i = 0; i < DCT_SIZE; i++) {
    const ti = i * DOWN
    for (let j = 0; j < DCT_SIZE; j += 4) {
      const m0 = j * DOWN
      const m1 = m0 + DOWN
      const m2 = m1 + DOWN
      const m3 = m2 + DOWN
      let s0 = 0
      let s1 = 0
      let s2 = 0
      let s3 = 0
      for (let k = 0; k < DOWN; k++) {
        const x = t[ti + k]!
        s0 = Math.fround(s0 + Math.fround(x * m[m0 + k]!))
        s1 = Math.fround(s1 + Math.fround(x * m[m1 + k]!))
        s2 = Math.fround(s2 + Math.fround(x * m[m2 + k]!))
        s3 = Math.fround(s3 + Math.fround(x * m[m3 + k]!))
      }
      const at = i * DCT_SIZE + j
      b[at] = s0
      b[at + 1] = s1
      b[at + 2] = s2
      b[at + 3] = s3
    }
  }
  return b
}
/** pdqDct's float32 copy of its input (single-threaded use: one per thread). */
const dctInput = new Float32Array(DOWN * DOWN)

const selectScratch = new Float64Array(DCT_SIZE * DCT_SIZE)

/**
 * The 128th smallest of the 256 coefficients (what sorting a copy and reading index 127 gives),
 * by quickselect on a scratch copy: a sort per hash was 10 sorts per image with the 8 dihedral
 * hashes. Coefficients are finite, so the order is total.
 */
function lowerMedian(coefficients: Float64Array): number {
  const a = selectScratch
  a.set(coefficients)
  const k = a.length / 2 - 1
  let lo = 0
  let hi = a.length - 1
  while (lo < hi) {
    // Median of three as the pivot, then a Hoare partition.
    const mid = (lo + hi) >>> 1
    const x = a[lo]!
    const y = a[mid]!
    const z = a[hi]!
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y
    let i = lo
    let j = hi
    while (i <= j) {
      while (a[i]! < pivot) i++
      while (a[j]! > pivot) j--
      if (i <= j) {
        const t = a[i]!
        a[i] = a[j]!
        a[j] = t
        i++
        j--
      }
    }
    if (k <= j) hi = j
    else if (k >= i) lo = i
    else return a[k]!
  }
  return a[k]!
}

/**
 * Hex of the coefficients above their median (the reference's Torben median of 256
 * values is the 128th smallest). Bit k = 16·i + j lives in 16-bit word i at bit j, and
 * the reference prints words from 15 down to 0.
 */
export function pdqBitsToHex(coefficients: Float64Array): string {
  return bitsAboveToHex(coefficients, lowerMedian(coefficients))
}

/** pdqBitsToHex with the median already known (a separate name, so that `.map(pdqBitsToHex)` cannot pass an index as one). */
function bitsAboveToHex(coefficients: Float64Array, median: number): string {
  let hex = ''
  for (let word = DCT_SIZE - 1; word >= 0; word--) {
    let w = 0
    for (let bit = 0; bit < DCT_SIZE; bit++) if ((coefficients[word * DCT_SIZE + bit] ?? 0) > median) w |= 1 << bit
    hex += w.toString(16).padStart(4, '0')
  }
  return hex
}

/** Sign of a DCT basis function under mirroring: odd frequencies (even index, since DC is skipped) flip. */
function mirrorSign(k: number): number {
  return k % 2 === 0 ? -1 : 1
}

/**
 * The coefficients of the image rotated or flipped, without recomputing the DCT.
 * Mirroring a cosine of frequency f about the centre multiplies it by (-1)^f;
 * transposing the image transposes the coefficients.
 */
export function pdqDihedralCoefficients(b: Float64Array): Float64Array[] {
  const make = (f: (i: number, j: number) => number): Float64Array => {
    const out = new Float64Array(DCT_SIZE * DCT_SIZE)
    for (let i = 0; i < DCT_SIZE; i++) for (let j = 0; j < DCT_SIZE; j++) out[i * DCT_SIZE + j] = f(i, j)
    return out
  }
  const at = (i: number, j: number): number => b[i * DCT_SIZE + j] ?? 0
  return [
    b,
    make((i, j) => mirrorSign(i) * at(j, i)), // rotate 90 anticlockwise = transpose, then mirror top-bottom
    make((i, j) => mirrorSign(i) * mirrorSign(j) * at(i, j)), // rotate 180
    make((i, j) => mirrorSign(j) * at(j, i)), // rotate 90 clockwise = transpose, then mirror left-right
    make((i, j) => mirrorSign(i) * at(i, j)), // flip X: mirror about the horizontal axis (top-bottom)
    make((i, j) => mirrorSign(j) * at(i, j)), // flip Y: mirror about the vertical axis (left-right)
    make((i, j) => at(j, i)), // flip about the main diagonal (transpose)
    make((i, j) => mirrorSign(i) * mirrorSign(j) * at(j, i)), // flip about the anti-diagonal
  ]
}

/**
 * The folded sums differ from the reference's by ~1e-3 in a coefficient (at most 2.3e-3 measured);
 * a coefficient within NEAR_MEDIAN of the median could land on the other side of it.
 */
const NEAR_MEDIAN = 0.01
/** One such coefficient moves at most 2 bits; from two on, the default mode recomputes exactly. */
const NEAR_MEDIAN_LIMIT = 2

/** How many coefficients, besides the median itself, lie within NEAR_MEDIAN of it. */
function nearMedian(coefficients: Float64Array, median: number): number {
  let near = -1
  for (const c of coefficients) if (Math.abs(c - median) < NEAR_MEDIAN) near++
  return near
}

/**
 * PDQ hash and quality of decoded pixels. Identical pixels always give the identical hash.
 *
 * @example
 * const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true })
 * const { hash, quality } = pdqHash({ width: info.width, height: info.height, channels: 3, data })
 */
export function pdqHash(pixels: Pixels, options: PdqOptions = {}): PdqResult {
  return pdqHashFromDownsample(pixels, pdqDownsample(pixels, { exact: options.exact === true, cliPreShrink: options.cliPreShrink === true }), options)
}

/**
 * pdqHash, given the downsample its options ask for (so that hashImage can compute the folded one
 * in the same pass as blockhash's sums); `pixels` are read again only for an exact redo.
 */
export function pdqHashFromDownsample(pixels: Pixels, downsample: Float64Array, options: PdqOptions = {}): PdqResult {
  let down = downsample
  let coefficients = pdqDct(down)
  let median = lowerMedian(coefficients)
  if (options.exact === undefined && nearMedian(coefficients, median) >= NEAR_MEDIAN_LIMIT) {
    // Folded sums could order these coefficients differently from the reference: redo it exactly.
    down = pdqDownsample(pixels, { exact: true, cliPreShrink: options.cliPreShrink === true })
    coefficients = pdqDct(down)
    median = lowerMedian(coefficients)
  }
  const quality = pdqQuality(down)
  const hash = bitsAboveToHex(coefficients, median)
  if (options.dihedral !== true) return { hash, quality }
  // The first dihedral variant is the image itself; the others have medians of their own.
  const dihedral = [hash, ...pdqDihedralCoefficients(coefficients).slice(1).map(pdqBitsToHex)]
  return { hash, quality, dihedral }
}
