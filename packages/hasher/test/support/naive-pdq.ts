import { jaroszWindowSize, pdqBitsToHex, pdqDct, pdqQuality } from '../../src/pdq-hash.js'
import type { Pixels } from '../../src/pixels.js'

/**
 * PDQ the straightforward way, following the reference step by step: a full-size float luma
 * image, two rounds of box filtering along rows then columns over the whole image (running sums,
 * truncated windows at the edges), then sampling 64x64. The benchmark's baseline, and a test
 * oracle for the folded-weights version in src/pdq-hash.ts.
 */
export function naivePdq(pixels: Pixels): { hash: string; quality: number } {
  const { width, height, channels, data } = pixels
  let a = new Float32Array(width * height)
  let b = new Float32Array(width * height)
  for (let i = 0, p = 0; i < width * height; i++, p += channels) a[i] = 0.299 * data[p]! + 0.587 * data[p + 1]! + 0.114 * data[p + 2]!
  const rowWindow = jaroszWindowSize(width)
  const colWindow = jaroszWindowSize(height)
  for (let pass = 0; pass < 2; pass++) {
    for (let r = 0; r < height; r++) box(a, b, r * width, 1, width, rowWindow)
    ;[a, b] = [b, a]
    for (let c = 0; c < width; c++) box(a, b, c, width, height, colWindow)
    ;[a, b] = [b, a]
  }
  const down = new Float64Array(64 * 64)
  for (let i = 0; i < 64; i++) {
    const r = Math.floor(((i + 0.5) * height) / 64)
    for (let j = 0; j < 64; j++) down[i * 64 + j] = a[r * width + Math.floor(((j + 0.5) * width) / 64)]!
  }
  return { hash: pdqBitsToHex(pdqDct(down)), quality: pdqQuality(down) }
}

/** Centred running-sum box filter of one row or column, window truncated at the ends. */
function box(input: Float32Array, output: Float32Array, start: number, stride: number, length: number, window: number): void {
  const half = Math.floor((window + 2) / 2)
  const before = window - half // inputs left of the output index
  const after = half - 1 // inputs right of it
  let sum = 0
  let lo = 0
  let hi = -1
  for (let o = 0; o < length; o++) {
    const wantHi = Math.min(length - 1, o + after)
    const wantLo = Math.max(0, o - before)
    while (hi < wantHi) sum += input[start + ++hi * stride]!
    while (lo < wantLo) sum -= input[start + lo++ * stride]!
    output[start + o * stride] = sum / (hi - lo + 1)
  }
}
