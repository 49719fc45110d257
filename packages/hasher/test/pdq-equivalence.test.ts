import { describe, expect, it } from 'vitest'
import { hammingDistance, pdqHash } from '../src/index.js'
import { pdqBitsToHex, pdqDownsample } from '../src/pdq-hash.js'
import { naivePdq, naivePdqDownsample } from './support/naive-pdq.js'
import { seededRandom, texturedPixels } from './support/textured-image.js'

const random = seededRandom(99)
const sizes: [number, number][] = [[1024, 768], [1, 1], [5, 3], [64, 64], [65, 63], [127, 300], [640, 480], [1600, 1004], [3, 700], [700, 2]]
for (let k = 0; k < 12; k++) sizes.push([2 + Math.floor(random() * 900), 2 + Math.floor(random() * 900)])

describe('PDQ modes against the step-by-step float32 reference procedure', () => {
  it('exact: the same 64x64 buffer, hash and quality, bit for bit, on every size (tiny, odd, thin, 64x64)', () => {
    for (const [width, height] of sizes) {
      const pixels = { width, height, channels: 3, data: texturedPixels(width, height, width * 7 + height) } as const
      expect(Array.from(pdqDownsample(pixels, { exact: true })), `${width}x${height}`).toEqual(Array.from(naivePdqDownsample(pixels)))
      expect(pdqHash(pixels, { exact: true }), `${width}x${height}`).toEqual(naivePdq(pixels))
    }
    // RGBA input: alpha is skipped.
    const rgba = new Uint8Array(300 * 200 * 4)
    const rgb = texturedPixels(300, 200, 5)
    for (let i = 0; i < 300 * 200; i++) rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4)
    expect(pdqHash({ width: 300, height: 200, channels: 4, data: rgba }, { exact: true })).toEqual(naivePdq({ width: 300, height: 200, channels: 3, data: rgb }))
  })

  it('default: within 2 bits above quality 50, thin images included (redone exactly when coefficients crowd the median)', () => {
    let compared = 0
    let identical = 0
    for (const [width, height] of sizes) {
      const pixels = { width, height, channels: 3, data: texturedPixels(width, height, width * 7 + height) } as const
      const naive = naivePdq(pixels)
      for (const [mode, fast] of [['default', pdqHash(pixels)], ['folded only', pdqHash(pixels, { exact: false })]] as const) {
        expect(Math.abs(fast.quality - naive.quality), `${width}x${height} ${mode}`).toBeLessThanOrEqual(1)
        // Below quality 50 (e.g. 1x1, whose DCT is all rounding noise) the bits mean nothing in any
        // implementation. A 2- or 3-pixel side leaves half the DCT as rounding noise around the
        // median: the folded sums alone then give other bits (60+), which the default mode catches.
        if (naive.quality < 50 || (mode === 'folded only' && Math.min(width, height) < 5)) continue
        const d = hammingDistance(fast.hash, naive.hash)
        expect(d, `${width}x${height} ${mode}`).toBeLessThanOrEqual(2)
        if (mode === 'default') {
          compared++
          if (d === 0) identical++
        }
      }
    }
    expect(compared).toBeGreaterThanOrEqual(15)
    console.log(`default mode vs float32 reference procedure: ${identical} of ${compared} identical`)
  })
})

describe('pdqBitsToHex', () => {
  it('takes the 128th smallest coefficient as the median, as a sort does, with ties and signed zeros', () => {
    const random = seededRandom(5)
    const bySort = (c: Float64Array): string => {
      const median = Float64Array.from(c).sort()[127]!
      let hex = ''
      for (let word = 15; word >= 0; word--) {
        let w = 0
        for (let bit = 0; bit < 16; bit++) if (c[word * 16 + bit]! > median) w |= 1 << bit
        hex += w.toString(16).padStart(4, '0')
      }
      return hex
    }
    for (let t = 0; t < 300; t++) {
      const kind = t % 4 // continuous, few distinct values, all equal, sorted ascending
      const c = Float64Array.from({ length: 256 }, (_, i) =>
        kind === 0 ? random() * 2000 - 1000 : kind === 1 ? Math.floor(random() * 5) - 2 || (random() < 0.5 ? -0 : 0) : kind === 2 ? 7 : i - 100)
      expect(pdqBitsToHex(c)).toBe(bySort(c))
    }
  })
})
