import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import sharp from 'sharp'
import { describe, expect, it } from 'vitest'
import { hashImage } from '../src/hash-image.js'
import { jpegFrameSize } from '../src/jpeg-header.js'
import { FIXTURES } from './support/fixtures.js'
import { texturedPixels } from './support/textured-image.js'

function jpegsUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return jpegsUnder(path)
    return /\.jpe?g$/i.test(name) ? [path] : []
  })
}

describe('jpegFrameSize: the frame size, coding process and components from the SOF marker, as sharp reads them', () => {
  it('agrees with sharp on every JPEG fixture', async () => {
    const files = jpegsUnder(FIXTURES)
    expect(files.length).toBeGreaterThan(30)
    for (const file of files) {
      const bytes = readFileSync(file)
      const header = await sharp(bytes).metadata()
      const frame = jpegFrameSize(bytes)
      expect(frame, file).toMatchObject({ width: header.width, height: header.height, components: header.channels })
      expect(frame!.process === 2, file).toBe(header.isProgressive)
    }
  })

  it('agrees with sharp on baseline, progressive, 4:4:4, restart-marker and EXIF-rotated JPEGs', async () => {
    const raw = { raw: { width: 97, height: 61, channels: 3 as const } }
    const pixels = texturedPixels(97, 61, 3)
    const variants = [
      await sharp(pixels, raw).jpeg().toBuffer(),
      await sharp(pixels, raw).jpeg({ progressive: true }).toBuffer(),
      await sharp(pixels, raw).jpeg({ chromaSubsampling: '4:4:4', quality: 100 }).toBuffer(),
      await sharp(pixels, raw).jpeg({ mozjpeg: true }).toBuffer(),
      await sharp(pixels, raw).withMetadata({ orientation: 6 }).jpeg().toBuffer(),
      await sharp(pixels, raw).greyscale().jpeg().toBuffer(),
    ]
    for (const bytes of variants) {
      const header = await sharp(bytes).metadata()
      const frame = jpegFrameSize(bytes)
      expect(frame).toMatchObject({ width: header.width, height: header.height, components: header.channels })
      expect(frame!.process === 2).toBe(header.isProgressive)
    }
    // EXIF orientation 6: the stored frame is 97x61, the hash is of the upright 61x97 image.
    const rotated = await hashImage(variants[4]!)
    expect([rotated.width, rotated.height]).toEqual([61, 97])
  })

  it('leaves to sharp what is not a JPEG or has no frame header before its end', async () => {
    const jpeg = await sharp(texturedPixels(40, 30, 1), { raw: { width: 40, height: 30, channels: 3 } }).jpeg().toBuffer()
    const sof = jpeg.findIndex((b, i) => b === 0xff && jpeg[i + 1] === 0xc0)
    expect(sof).toBeGreaterThan(0)
    expect(jpegFrameSize(jpeg.subarray(0, sof + 4))).toBeUndefined() // cut inside the SOF
    expect(jpegFrameSize(Uint8Array.of(0xff, 0xd8, 0xff, 0xda, 0, 2))).toBeUndefined() // scan before any frame
    expect(jpegFrameSize(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 1))).toBeUndefined() // impossible length
    expect(jpegFrameSize(await sharp(texturedPixels(8, 8, 1), { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer())).toBeUndefined()
    expect(jpegFrameSize(new Uint8Array(0))).toBeUndefined()
    // A JPEG cut before its frame header is still refused by libvips, as before.
    await expect(hashImage(jpeg.subarray(0, sof))).rejects.toMatchObject({ code: 'CORRUPT' })
  })
})
