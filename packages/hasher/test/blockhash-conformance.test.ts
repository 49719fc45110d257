import { readdirSync, readFileSync } from 'node:fs'
import { bmvbhash, bmvbhashEven } from 'blockhash-core'
import { describe, expect, it } from 'vitest'
import { blockhash256 } from '../src/blockhash.js'
import { decodeImage } from '../src/decode-image.js'
import { resolveHashOptions } from '../src/hash-options.js'
import { hammingDistance, hashImage } from '../src/index.js'
import { BLOCKHASH_FIXTURES } from './support/fixtures.js'
import { seededRandom } from './support/textured-image.js'

const images = readdirSync(`${BLOCKHASH_FIXTURES}images`).filter((f) => /\.(jpe?g|png)$/.test(f)).sort()

function expected(name: string, method: 1 | 2): string {
  const line = readFileSync(`${BLOCKHASH_FIXTURES}expected-js-python/${name.replace(/\.\w+$/, '')}_16_${method}.txt`, 'utf8')
  return line.trim().split(/\s+/)[0] ?? ''
}

describe('blockhash-256 against the blockhash-js/python reference values', () => {
  it('has all 17 fixture images', () => {
    expect(images).toHaveLength(17)
  })

  it.each(images)('%s: both methods within 2 bits, hashImage stores method 2', async (file) => {
    const bytes = readFileSync(`${BLOCKHASH_FIXTURES}images/${file}`)
    const { first } = await decodeImage(bytes, resolveHashOptions())
    const quick = blockhash256(first, 1)
    const precise = blockhash256(first, 2)
    expect(hammingDistance(quick, expected(file, 1))).toBeLessThanOrEqual(2)
    expect(hammingDistance(precise, expected(file, 2))).toBeLessThanOrEqual(2)
    expect((await hashImage(bytes)).blockhash).toBe(precise)
  })
})

describe('blockhash256 is bit for bit blockhash-core', () => {
  it('on random sizes, noise, flat colours and transparent pixels', () => {
    const random = seededRandom(42)
    let compared = 0
    for (let t = 0; t < 150; t++) {
      const width = 16 + Math.floor(random() * 200)
      const height = 16 + Math.floor(random() * 200)
      const flat = t % 3 === 0
      const data = new Uint8Array(width * height * 4)
      for (let i = 0; i < data.length; i++) {
        data[i] = i % 4 === 3 ? (random() < 0.1 ? 0 : 255) : flat ? 128 : Math.floor(random() * 256)
      }
      const image = { width, height, data }
      const pixels = { width, height, channels: 4, data } as const
      expect(blockhash256(pixels, 2)).toBe(bmvbhash(image, 16))
      expect(blockhash256(pixels, 1)).toBe(bmvbhashEven(image, 16))
      compared++
    }
    expect(compared).toBe(150)
  })

  it('on RGB rows of any length and offset, tiny sizes, large sizes and near-flat images', () => {
    // The precise path sums whole words of RGB bytes: rows that start mid-word, runs shorter than a
    // word, images narrower than 16 (blocks of less than a pixel), and flat images, where any
    // rounding in the block totals would show as flipped bits around the median.
    const random = seededRandom(11)
    const sizes: [number, number][] = [[1, 1], [3, 5], [15, 17], [17, 15], [33, 7], [1001, 750], [1918, 1081], [4099, 3]]
    for (let t = 0; t < 60; t++) sizes.push([1 + Math.floor(random() * 400), 1 + Math.floor(random() * 300)])
    for (const [index, [width, height]] of sizes.entries()) {
      const offset = index % 4
      const kind = index % 3 // noise, flat, flat with a few brighter pixels
      const backing = new Uint8Array(offset + width * height * 3)
      const rgb = backing.subarray(offset)
      for (let i = 0; i < rgb.length; i++) rgb[i] = kind === 0 ? Math.floor(random() * 256) : kind === 1 ? 97 : random() < 0.01 ? 98 : 97
      const rgba = new Uint8Array(width * height * 4)
      for (let i = 0; i < width * height; i++) {
        rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4)
        rgba[i * 4 + 3] = 255
      }
      expect(blockhash256({ width, height, channels: 3, data: rgb }), `${width}x${height} at offset ${offset}`).toBe(bmvbhash({ width, height, data: rgba }, 16))
    }
  })

  it('reads RGB input as opaque RGBA', () => {
    const random = seededRandom(7)
    const width = 37
    const height = 53
    const rgb = Uint8Array.from({ length: width * height * 3 }, () => Math.floor(random() * 256))
    const rgba = new Uint8Array(width * height * 4)
    for (let i = 0; i < width * height; i++) {
      rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4)
      rgba[i * 4 + 3] = 255
    }
    expect(blockhash256({ width, height, channels: 3, data: rgb })).toBe(bmvbhash({ width, height, data: rgba }, 16))
  })
})
