import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { ALTERATIONS, IMAGE_FORMATS, alterImage, generateImage, renderPixels } from '../src/index.js'
import { estimatePdqQuality } from './perceptual.js'

describe('generateImage', () => {
  it('gives the same bytes for the same spec, in every format', async () => {
    for (const format of IMAGE_FORMATS) {
      const a = await generateImage({ seed: 11, width: 200, height: 150, format })
      const b = await generateImage({ seed: 11, width: 200, height: 150, format })
      expect(Buffer.from(a).equals(Buffer.from(b)), format).toBe(true)
      const meta = await sharp(a).metadata()
      expect(meta.format === 'jpeg' ? 'jpeg' : meta.format).toBe(format)
      expect([meta.width, meta.height]).toEqual([200, 150])
    }
  })

  it('gives different pictures for different seeds', async () => {
    const a = await renderPixels({ seed: 1 })
    const b = await renderPixels({ seed: 2 })
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(false)
    expect([a.width, a.height, a.data.length]).toEqual([320, 240, 320 * 240 * 3])
  })

  it('makes textured pictures: PDQ quality ~100 like photos, where the same shapes without noise fall under 50', async () => {
    const textured: number[] = []
    const flat: number[] = []
    for (let seed = 0; seed < 20; seed++) {
      textured.push(await estimatePdqQuality(await generateImage({ seed })))
      flat.push(await estimatePdqQuality(await generateImage({ seed, noise: 0 })))
    }
    expect(Math.min(...textured)).toBeGreaterThanOrEqual(90)
    expect(flat.filter((q) => q < 50).length).toBeGreaterThan(flat.length / 3)
  })

  it('alters deterministically and never byte for byte', async () => {
    const original = await generateImage({ seed: 5, format: 'png' })
    for (const alteration of ALTERATIONS) {
      const a = await alterImage(original, 'png', alteration, 9)
      const b = await alterImage(original, 'png', alteration, 9)
      expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes)), alteration).toBe(true)
      expect(Buffer.from(a.bytes).equals(Buffer.from(original)), alteration).toBe(false)
      expect(a.format).toBe(alteration === 'recompress' ? 'jpeg' : 'png')
    }
  })
})
