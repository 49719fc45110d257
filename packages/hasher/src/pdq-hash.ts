import { assertPixels, type Pixels } from './pixels.js'

/**
 * PDQ (Facebook's 256-bit perceptual hash), written from the published algorithm
 * ("The TMK+PDQF Video-Hashing Algorithm and the PDQ Image Similarity Algorithm", 2019):
 * luma, two passes of a box ("Jarosz") blur sized from the image, decimation to 64x64,
 * the 16x16 block of low-frequency DCT coefficients (skipping the DC row and column),
 * one bit per coefficient above the median, and a quality score from the gradients of
 * the 64x64 image.
 *
 * The blur is separable and linear, so instead of blurring the whole image four times and
 * then keeping 4096 samples, we fold the two box passes of each axis into one weight vector
 * per kept row/column and evaluate only the kept samples. Same values as the reference up to
 * floating-point summation order, at a fraction of the work.
 */

/** Size of the decimated image and of the kept DCT block. */
const DOWN = 64
const DCT_SIZE = 16
const LUMA_R = 0.299
const LUMA_G = 0.587
const LUMA_B = 0.114

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
}

/** The reference's window: about twice the decimation step, so every input pixel contributes. */
export function jaroszWindowSize(oldDimension: number): number {
  return Math.floor((oldDimension + 2 * DOWN - 1) / (2 * DOWN))
}

/** Inclusive bounds of the box window for output `o` of a length-`n` vector (edges truncated, as the reference does). */
function boxBounds(o: number, n: number, fullWindow: number): [number, number] {
  const half = Math.floor((fullWindow + 2) / 2)
  return [Math.max(0, o - (fullWindow - half)), Math.min(n - 1, o + half - 1)]
}

/**
 * Weights that two passes of the box filter give input index c for output index `o`:
 * W = A·A restricted to row `o`, where A averages over the truncated window.
 */
function twoPassWeights(o: number, n: number, fullWindow: number): { start: number; weights: Float64Array } {
  const [lo, hi] = boxBounds(o, n, fullWindow)
  const outer = 1 / (hi - lo + 1)
  const [start] = boxBounds(lo, n, fullWindow)
  const [, end] = boxBounds(hi, n, fullWindow)
  const weights = new Float64Array(end - start + 1)
  for (let m = lo; m <= hi; m++) {
    const [mlo, mhi] = boxBounds(m, n, fullWindow)
    const w = outer / (mhi - mlo + 1)
    for (let c = mlo; c <= mhi; c++) weights[c - start] = (weights[c - start] ?? 0) + w
  }
  return { start, weights }
}

/** The reference's decimation: sample at the centre of each of 64 equal strips. */
function decimationIndex(i: number, n: number): number {
  return Math.floor(((i + 0.5) * n) / DOWN)
}

/**
 * Two-pass box weights of one axis for the 64 kept samples: sample o reads inputs
 * starts[o] .. starts[o] + lengths[o] - 1 with weights[o * stride + k].
 */
interface AxisPlan {
  readonly starts: Int32Array
  readonly lengths: Int32Array
  readonly stride: number
  readonly weights: Float64Array
}

function axisPlan(n: number): AxisPlan {
  const window = jaroszWindowSize(n)
  const perSample = Array.from({ length: DOWN }, (_, o) => twoPassWeights(decimationIndex(o, n), n, window))
  const stride = Math.max(...perSample.map((s) => s.weights.length))
  const starts = new Int32Array(DOWN)
  const lengths = new Int32Array(DOWN)
  const weights = new Float64Array(DOWN * stride)
  perSample.forEach((s, o) => {
    starts[o] = s.start
    lengths[o] = s.weights.length
    weights.set(s.weights, o * stride)
  })
  return { starts, lengths, stride, weights }
}

/** Plans depend only on the dimension, and crawls see the same few sizes again and again. */
const planCache = new Map<number, AxisPlan>()
function cachedPlan(n: number): AxisPlan {
  let plan = planCache.get(n)
  if (plan === undefined) {
    if (planCache.size >= 512) planCache.clear()
    plan = axisPlan(n)
    planCache.set(n, plan)
  }
  return plan
}

/**
 * The 64x64 blurred, decimated luma image (row-major), what the reference feeds to its DCT.
 * Each input row that some output row needs is filtered horizontally into 64 samples (luma is
 * linear, so R, G and B are accumulated separately and combined once per sample), then added
 * into the output rows that weigh it.
 */
export function pdqDownsample(pixels: Pixels): Float64Array {
  assertPixels(pixels)
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
      samples[j] = LUMA_R * sr + LUMA_G * sg + LUMA_B * sb
    }
    for (const { target, weight } of rowUsers) {
      const base = target * DOWN
      for (let j = 0; j < DOWN; j++) out[base + j]! += weight * samples[j]!
    }
  }
  return out
}

/** The reference quality metric: sum of absolute neighbour differences, in percent of full scale, /90, capped at 100. */
export function pdqQuality(down: Float64Array): number {
  let gradientSum = 0
  for (let i = 0; i < DOWN - 1; i++) {
    for (let j = 0; j < DOWN; j++) {
      const d = Math.trunc((((down[i * DOWN + j] ?? 0) - (down[(i + 1) * DOWN + j] ?? 0)) * 100) / 255)
      gradientSum += Math.abs(d)
    }
  }
  for (let i = 0; i < DOWN; i++) {
    for (let j = 0; j < DOWN - 1; j++) {
      const d = Math.trunc((((down[i * DOWN + j] ?? 0) - (down[i * DOWN + j + 1] ?? 0)) * 100) / 255)
      gradientSum += Math.abs(d)
    }
  }
  return Math.min(100, Math.floor(gradientSum / 90))
}

/** 16x64 DCT-II basis without the DC row: D[i][j] = sqrt(2/64)·cos(π/128·(i+1)·(2j+1)). */
const DCT_MATRIX = (() => {
  const m = new Float64Array(DCT_SIZE * DOWN)
  const scale = Math.sqrt(2 / DOWN)
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < DOWN; j++) m[i * DOWN + j] = scale * Math.cos((Math.PI / 2 / DOWN) * (i + 1) * (2 * j + 1))
  }
  return m
})()

/** B = D·A·Dᵀ: the 16x16 low-frequency coefficients of the 64x64 image. */
export function pdqDct(down: Float64Array): Float64Array {
  const t = new Float64Array(DCT_SIZE * DOWN)
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let k = 0; k < DOWN; k++) {
      const d = DCT_MATRIX[i * DOWN + k] ?? 0
      for (let j = 0; j < DOWN; j++) t[i * DOWN + j] = (t[i * DOWN + j] ?? 0) + d * (down[k * DOWN + j] ?? 0)
    }
  }
  const b = new Float64Array(DCT_SIZE * DCT_SIZE)
  for (let i = 0; i < DCT_SIZE; i++) {
    for (let j = 0; j < DCT_SIZE; j++) {
      let sum = 0
      for (let k = 0; k < DOWN; k++) sum += (t[i * DOWN + k] ?? 0) * (DCT_MATRIX[j * DOWN + k] ?? 0)
      b[i * DCT_SIZE + j] = sum
    }
  }
  return b
}

/**
 * Hex of the coefficients above their median (the reference's Torben median of 256
 * values is the 128th smallest). Bit k = 16·i + j lives in 16-bit word i at bit j, and
 * the reference prints words from 15 down to 0.
 */
export function pdqBitsToHex(coefficients: Float64Array): string {
  const sorted = Float64Array.from(coefficients).sort()
  const median = sorted[(DCT_SIZE * DCT_SIZE) / 2 - 1] ?? 0
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
 * PDQ hash and quality of decoded pixels. Identical pixels always give the identical hash.
 *
 * @example
 * const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true })
 * const { hash, quality } = pdqHash({ width: info.width, height: info.height, channels: 3, data })
 */
export function pdqHash(pixels: Pixels, options: PdqOptions = {}): PdqResult {
  const down = pdqDownsample(pixels)
  const quality = pdqQuality(down)
  const coefficients = pdqDct(down)
  const hash = pdqBitsToHex(coefficients)
  if (options.dihedral !== true) return { hash, quality }
  const dihedral = pdqDihedralCoefficients(coefficients).map(pdqBitsToHex)
  return { hash, quality, dihedral }
}
