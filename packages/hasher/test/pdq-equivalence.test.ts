import { describe, expect, it } from 'vitest'
import { hammingDistance, pdqHash } from '../src/index.js'
import { naivePdq } from './support/naive-pdq.js'
import { seededRandom, texturedPixels } from './support/textured-image.js'

describe('folded-weights PDQ equals the step-by-step reference procedure', () => {
  it('on textured images of many sizes, including tiny and odd ones', () => {
    const random = seededRandom(99)
    const sizes: [number, number][] = [[1024, 768], [1, 1], [5, 3], [64, 64], [65, 63], [127, 300], [640, 480], [1600, 1004]]
    for (let k = 0; k < 12; k++) sizes.push([2 + Math.floor(random() * 900), 2 + Math.floor(random() * 900)])
    let compared = 0
    for (const [width, height] of sizes) {
      const pixels = { width, height, channels: 3, data: texturedPixels(width, height, width * 7 + height) } as const
      const fast = pdqHash(pixels)
      const naive = naivePdq(pixels)
      expect(Math.abs(fast.quality - naive.quality), `${width}x${height}`).toBeLessThanOrEqual(1)
      // Below quality 50 (e.g. 1x1, whose DCT is all rounding noise) the bits mean nothing in any
      // implementation. Above it: the naive version keeps float32 buffers like the reference and sums
      // in another order, so a coefficient sitting exactly at the median could flip; allow 2 bits.
      if (naive.quality >= 50) {
        compared++
        expect(hammingDistance(fast.hash, naive.hash), `${width}x${height}`).toBeLessThanOrEqual(2)
      }
    }
    expect(compared).toBeGreaterThanOrEqual(15)
  })
})
