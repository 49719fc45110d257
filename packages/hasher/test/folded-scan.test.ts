import { bmvbhash, bmvbhashEven } from 'blockhash-core'
import { describe, expect, it } from 'vitest'
import { blockhash256, blockhashFromBlockSums } from '../src/blockhash.js'
import { type FoldedScan, foldedScan } from '../src/folded-scan.js'
import { foldedSums, pdqHash, pdqHashFromDownsample } from '../src/pdq-hash.js'
import type { Pixels } from '../src/pixels.js'
import { seededRandom, texturedPixels } from './support/textured-image.js'

const random = seededRandom(2024)
// Widths a multiple of 4 (RGB rows of whole words); 1024x768 and the like take blockhash's sums
// too; 1024x1100's last output row has truncated windows whose divisor is too large for a
// 16-bit lane (float weights for that row).
const sizes: [number, number][] = [[1024, 768], [768, 1024], [640, 480], [1280, 720], [1920, 1088], [64, 64], [4, 4], [8, 1000], [1000, 8], [1024, 1100], [2048, 1536], [300, 2040]]
for (let k = 0; k < 16; k++) sizes.push([4 * (1 + Math.floor(random() * 300)), 1 + Math.floor(random() * 1200)])

function rgba(pixels: Pixels): Pixels {
  const data = new Uint8Array(pixels.width * pixels.height * 4)
  for (let i = 0; i < pixels.width * pixels.height; i++) {
    data.set(pixels.data.subarray(i * 3, i * 3 + 3), i * 4)
    data[i * 4 + 3] = 255
  }
  return { width: pixels.width, height: pixels.height, channels: 4, data }
}

/**
 * Checks the scan of `pixels` against the folded float sums: every sample within one float32
 * step, the same PDQ and dihedral hashes. Returns the scan and how many samples differed at all.
 */
function expectScanAsSums(pixels: Pixels): { scan: FoldedScan; samples: number; different: number } {
  const label = `${pixels.width}x${pixels.height}`
  const scan = foldedScan(pixels, true)
  expect(scan, label).toBeDefined()
  const sums = foldedSums(pixels)
  let different = 0
  for (let k = 0; k < sums.length; k++) {
    const a = scan!.down[k]!
    const b = sums[k]!
    if (a !== b) different++
    expect(Math.abs(a - b), `${label} sample ${k}`).toBeLessThanOrEqual(Math.max(1, Math.abs(b)) * 2 ** -23)
  }
  const viaSums = pdqHashFromDownsample(pixels, sums, { dihedral: true })
  expect(pdqHash(pixels, { dihedral: true }), label).toEqual(viaSums)
  expect(pdqHashFromDownsample(pixels, scan!.down, { dihedral: true }), label).toEqual(viaSums)
  return { scan: scan!, samples: sums.length, different }
}

describe('foldedScan: PDQ folded buffer and blockhash sums in one pass of word reads', () => {
  it('gives the folded float sums (at most one float32 step apart on a few samples) and the same PDQ hashes', () => {
    let samples = 0
    let different = 0
    for (const [width, height] of sizes) {
      const pixels: Pixels = { width, height, channels: 3, data: texturedPixels(width, height, width * 31 + height) }
      const { scan, ...counted } = expectScanAsSums(pixels)
      samples += counted.samples
      different += counted.different
      // RGBA: the alpha lane is not read.
      expect(Array.from(foldedScan(rgba(pixels), false)!.down), `${width}x${height} RGBA`).toEqual(Array.from(scan.down))
    }
    expect(different / samples).toBeLessThan(1e-3)
  })

  it('block sums give blockhash-core bit for bit where the layout allows them (sizes divisible by 16, blocks of whole words)', () => {
    let eligible = 0
    for (const [width, height] of [...sizes, [1024, 768], [2048, 2048], [192, 64], [1216, 912]] as [number, number][]) {
      const pixels: Pixels = { width, height, channels: 3, data: texturedPixels(width, height, width + height * 17) }
      const scan = foldedScan(pixels, true)!
      const expectBlocks = width % 64 === 0 && height % 16 === 0 && (width / 16) * 3 <= 512
      expect(scan.blocks !== undefined, `${width}x${height}`).toBe(expectBlocks)
      if (scan.blocks === undefined) continue
      eligible++
      const hash = blockhashFromBlockSums(scan.blocks, scan.pixelsPerBlock!)
      const image = { width, height, data: rgba(pixels).data }
      expect(hash, `${width}x${height}`).toBe(bmvbhash(image, 16))
      expect(hash, `${width}x${height}`).toBe(bmvbhashEven(image, 16))
      expect(hash, `${width}x${height}`).toBe(blockhash256(pixels, 2))
    }
    expect(eligible).toBeGreaterThanOrEqual(5)
  })

  it('block sums: dark and white extremes do not carry between the 16-bit lanes', () => {
    for (const value of [0, 255]) {
      const pixels: Pixels = { width: 2048, height: 64, channels: 3, data: new Uint8Array(2048 * 64 * 3).fill(value) }
      const scan = foldedScan(pixels, true)!
      expect(Array.from(scan.blocks!)).toEqual(new Array(256).fill(value * 3 * 128 * 4))
      for (const sample of scan.down) expect(sample).toBe(value)
    }
    const half: Pixels = { width: 1024, height: 768, channels: 3, data: new Uint8Array(1024 * 768 * 3).map((_, i) => (i % 7 < 3 ? 255 : 0)) }
    expect(pdqHash(half)).toEqual(pdqHashFromDownsample(half, foldedSums(half)))
  })

  it('reads rows that are not whole words, and unaligned pixels, from a padded copy: the float sums and their hashes', () => {
    // RGB widths that are not a multiple of 4 (row bytes not whole words), the sizes of most images.
    const odd: [number, number][] = [[1001, 750], [1000, 750], [1002, 751], [1, 1], [3, 5], [5, 3], [7, 1000], [333, 250], [319, 241], [1023, 1100], [1918, 1081]]
    for (let k = 0; k < 12; k++) odd.push([1 + Math.floor(random() * 1500), 1 + Math.floor(random() * 1200)])
    let samples = 0
    let different = 0
    for (const [width, height] of odd) {
      const pixels: Pixels = { width, height, channels: 3, data: texturedPixels(width, height, width * 7 + height) }
      const { scan, ...counted } = expectScanAsSums(pixels)
      samples += counted.samples
      different += counted.different
      if (width % 4 !== 0) expect(scan.blocks, `${width}x${height}`).toBeUndefined()
      // The input is read, never written (the padding is in a copy).
      expect(Buffer.from(pixels.data).equals(texturedPixels(width, height, width * 7 + height)), `${width}x${height} input unchanged`).toBe(true)
    }
    expect(different / samples).toBeLessThan(1e-3)
    for (const offset of [1, 2, 3]) {
      const backing = new Uint8Array(1024 * 768 * 3 + offset)
      backing.set(texturedPixels(1024, 768, 4), offset)
      const unaligned: Pixels = { width: 1024, height: 768, channels: 3, data: backing.subarray(offset) }
      const aligned: Pixels = { ...unaligned, data: unaligned.data.slice() }
      expect(Array.from(foldedScan(unaligned, true)!.down)).toEqual(Array.from(foldedScan(aligned, true)!.down))
      expect(foldedScan(unaligned, true)!.blocks).toEqual(foldedScan(aligned, true)!.blocks)
      expect(pdqHash(unaligned)).toEqual(pdqHash(aligned))
    }
  })

  it('declines windows that would overflow the lanes, and the hashes then come from the float sums', () => {
    // Windows of 17+ rows: every output row would need float weights.
    const tall: Pixels = { width: 300, height: 2100, channels: 3, data: texturedPixels(300, 2100, 5) }
    expect(foldedScan(tall, true)).toBeUndefined()
    expect(pdqHash(tall)).toEqual(pdqHashFromDownsample(tall, foldedSums(tall)))
  })
})
