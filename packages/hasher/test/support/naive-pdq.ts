import { jaroszWindowSize, pdqBitsToHex, pdqDct, pdqQuality } from '../../src/pdq-hash.js'
import type { Pixels } from '../../src/pixels.js'

/**
 * PDQ the straightforward way, following the C++ reference step by step in its float32
 * arithmetic: a full-size float32 luma image, two rounds of box filtering along rows then columns
 * over the whole image (running sums in float32: add the entering sample, subtract the leaving one,
 * divide by the window's count), then sampling 64x64. The benchmark's baseline, and the test oracle
 * for both modes of src/pdq-hash.ts (`exact` must equal it bit for bit).
 */
export function naivePdqDownsample(pixels: Pixels): Float64Array {
  const { width, height, channels, data } = pixels
  const f32 = Math.fround
  let a = new Float32Array(width * height)
  let b = new Float32Array(width * height)
  const [cr, cg, cb] = [f32(0.299), f32(0.587), f32(0.114)]
  for (let i = 0, p = 0; i < width * height; i++, p += channels) a[i] = f32(f32(f32(cr * data[p]!) + f32(cg * data[p + 1]!)) + f32(cb * data[p + 2]!))
  const down = new Float64Array(64 * 64)
  if (width === 64 && height === 64) {
    down.set(a) // the reference takes a 64x64 image as its own downsample
    return down
  }
  const rowWindow = jaroszWindowSize(width)
  const colWindow = jaroszWindowSize(height)
  for (let pass = 0; pass < 2; pass++) {
    for (let r = 0; r < height; r++) box(a, b, r * width, 1, width, rowWindow)
    ;[a, b] = [b, a]
    for (let c = 0; c < width; c++) box(a, b, c, width, height, colWindow)
    ;[a, b] = [b, a]
  }
  for (let i = 0; i < 64; i++) {
    const r = Math.floor(((i + 0.5) * height) / 64)
    for (let j = 0; j < 64; j++) down[i * 64 + j] = a[r * width + Math.floor(((j + 0.5) * width) / 64)]!
  }
  return down
}

export function naivePdq(pixels: Pixels): { hash: string; quality: number } {
  const down = naivePdqDownsample(pixels)
  return { hash: pdqBitsToHex(pdqDct(down)), quality: pdqQuality(down) }
}

/** Centred running-sum box filter of one row or column in float32, window truncated at the ends, as the reference's four phases. */
function box(input: Float32Array, output: Float32Array, start: number, stride: number, length: number, window: number): void {
  const half = Math.floor((window + 2) / 2)
  let sum = 0
  let count = 0
  let ri = start
  let li = start
  let oi = start
  for (let k = 0; k < half - 1; k++, ri += stride) {
    sum = Math.fround(sum + input[ri]!)
    count++
  }
  for (let k = 0; k < window - half + 1; k++, ri += stride, oi += stride) {
    sum = Math.fround(sum + input[ri]!)
    count++
    output[oi] = sum / count
  }
  for (let k = 0; k < length - window; k++, ri += stride, li += stride, oi += stride) {
    sum = Math.fround(sum + input[ri]!)
    sum = Math.fround(sum - input[li]!)
    output[oi] = sum / count
  }
  for (let k = 0; k < half - 1; k++, li += stride, oi += stride) {
    sum = Math.fround(sum - input[li]!)
    count--
    output[oi] = sum / count
  }
}
