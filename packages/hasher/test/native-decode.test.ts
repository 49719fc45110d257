import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeImage } from '../src/decode-image.js'
import { hashImage } from '../src/hash-image.js'
import { resolveHashOptions } from '../src/hash-options.js'
import { Hasher } from '../src/hasher.js'
import { jpegFrameSize } from '../src/jpeg-header.js'
import { decodeNative, nativeDecodeStatus, releasePixels, useNativeDecode } from '../src/native-decode.js'
import { FIXTURES } from './support/fixtures.js'
import { texturedImage, texturedPixels } from './support/textured-image.js'

const options = resolveHashOptions({})
const built = nativeDecodeStatus.startsWith('loaded')
const reason = `the native decode is ${nativeDecodeStatus}`
if (!built && !process.env.CI) console.warn(`native-decode.test: comparisons skipped, ${reason}`)

function jpegsUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return jpegsUnder(path)
    return /\.jpe?g$/i.test(name) ? [path] : []
  })
}

/** sharp's pixels for the input, as decode-image.ts asks for them with the native decode off. */
async function sharpPixels(bytes: Uint8Array): Promise<{ width: number; height: number; data: Buffer }> {
  useNativeDecode(false)
  try {
    const { first } = await decodeImage(bytes, options)
    return { width: first.width, height: first.height, data: Buffer.from(first.data) }
  } finally {
    useNativeDecode(true)
  }
}

const raw = (width: number, height: number) => ({ raw: { width, height, channels: 3 as const } })

afterEach(() => useNativeDecode(true))

describe('the native decode of plain JPEG, PNG and WebP images', () => {
  it('is built and loaded in CI', () => {
    if (process.env.CI && process.env.ARACHNID_NATIVE !== '0') expect(nativeDecodeStatus).toMatch(/^loaded \(libvips \d+\.\d+/)
    else expect(nativeDecodeStatus).toMatch(/^(loaded|not built|not loaded|disabled)/)
  })

  it.skipIf(!built)('gives sharp\'s pixels, byte for byte, for baseline JPEGs of many sizes, subsamplings and qualities', async () => {
    const variants: Buffer[] = []
    for (const [width, height] of [[1, 1], [2, 3], [17, 13], [64, 64], [97, 61], [320, 240], [1023, 767], [1024, 768], [4000, 16], [9, 2500]] as const) {
      const pixels = texturedPixels(width, height, width + height)
      variants.push(await sharp(pixels, raw(width, height)).jpeg({ quality: 80 }).toBuffer())
      variants.push(await sharp(pixels, raw(width, height)).jpeg({ quality: 100, chromaSubsampling: '4:4:4' }).toBuffer())
      variants.push(await sharp(pixels, raw(width, height)).jpeg({ quality: 12, trellisQuantisation: true, overshootDeringing: true }).toBuffer())
      variants.push(await sharp(pixels, raw(width, height)).jpeg({ quality: 60, optimiseCoding: false }).toBuffer())
    }
    for (const bytes of variants) {
      const frame = jpegFrameSize(bytes)!
      expect(frame.components).toBe(3)
      expect([0, 1]).toContain(frame.process)
      const native = await decodeNative(bytes, 'jpeg', frame.width, frame.height)
      expect(native, `${frame.width}x${frame.height}`).toBeDefined()
      const expected = await sharpPixels(bytes)
      expect([expected.width, expected.height]).toEqual([frame.width, frame.height])
      expect(Buffer.from(native!).equals(expected.data), `${frame.width}x${frame.height}`).toBe(true)
      releasePixels(native!)
    }
  })

  it.skipIf(!built)('gives the same hashes as sharp on every JPEG fixture, and takes the plain ones', async () => {
    const files = jpegsUnder(FIXTURES)
    expect(files.length).toBeGreaterThan(30)
    let taken = 0
    for (const file of files) {
      const bytes = readFileSync(file)
      const frame = jpegFrameSize(bytes)
      if (frame !== undefined && frame.components === 3 && frame.process <= 1) {
        const native = await decodeNative(bytes, 'jpeg', frame.width, frame.height)
        if (native !== undefined) {
          taken++
          expect(Buffer.from(native).equals((await sharpPixels(bytes)).data), file).toBe(true)
          releasePixels(native)
        }
      }
      useNativeDecode(false)
      const viaSharp = await hashImage(bytes, { dihedral: true })
      useNativeDecode(true)
      expect(await hashImage(bytes, { dihedral: true }), file).toEqual(viaSharp)
    }
    expect(taken).toBeGreaterThan(10)
  })

  it.skipIf(!built)('leaves to sharp what is not plain: EXIF-rotated, greyscale, CMYK; and sharp still orients and converts them', async () => {
    const pixels = texturedPixels(97, 61, 5)
    const rotated = await sharp(pixels, raw(97, 61)).withMetadata({ orientation: 6 }).jpeg().toBuffer()
    const grey = await sharp(pixels, raw(97, 61)).toColourspace('b-w').jpeg().toBuffer()
    const cmyk = await sharp(pixels, raw(97, 61)).toColourspace('cmyk').jpeg().toBuffer()
    expect(await decodeNative(rotated, 'jpeg', 97, 61)).toBeUndefined()
    expect(await decodeNative(grey, 'jpeg', 97, 61)).toBeUndefined()
    expect(await decodeNative(cmyk, 'jpeg', 97, 61)).toBeUndefined()
    // A frame header that disagrees with what libvips decodes is not trusted either.
    expect(await decodeNative(await sharp(pixels, raw(97, 61)).jpeg().toBuffer(), 'jpeg', 96, 61)).toBeUndefined()
    const hashed = await hashImage(rotated)
    expect([hashed.width, hashed.height]).toEqual([61, 97])
    for (const bytes of [rotated, grey, cmyk]) {
      useNativeDecode(false)
      const viaSharp = await hashImage(bytes)
      useNativeDecode(true)
      expect(await hashImage(bytes)).toEqual(viaSharp)
    }
  })

  it.skipIf(!built)('gives corrupt and truncated JPEGs the errors sharp gives them', async () => {
    const jpeg = await texturedImage(320, 240, 9, 'jpeg')
    const truncated = jpeg.subarray(0, Math.floor(jpeg.length * 0.6))
    const garbled = Buffer.from(jpeg)
    for (let i = 700; i < 2000; i += 7) garbled[i] = 0xff
    for (const bytes of [truncated, garbled]) {
      useNativeDecode(false)
      const viaSharp = await hashImage(bytes).then(() => 'hashed', (error: { code?: string; message?: string }) => `${error.code} ${error.message}`)
      useNativeDecode(true)
      const viaNative = await hashImage(bytes).then(() => 'hashed', (error: { code?: string; message?: string }) => `${error.code} ${error.message}`)
      expect(viaNative).toBe(viaSharp)
    }
    expect(await decodeNative(truncated, 'jpeg', 320, 240)).toBeUndefined()
  })

  it.skipIf(!built)('reuses its buffers without mixing images: many sizes in flight at once, on this thread and in worker threads', async () => {
    const inputs = await Promise.all(
      Array.from({ length: 24 }, (_, i) => texturedImage([1024, 320, 97, 640][i % 4]!, [768, 240, 61, 480][i % 4]!, 40 + i, 'jpeg')),
    )
    useNativeDecode(false)
    const expected = []
    for (const bytes of inputs) expected.push(await hashImage(bytes))
    useNativeDecode(true)
    for (let round = 0; round < 3; round++) {
      expect(await Promise.all(inputs.map((bytes) => hashImage(bytes)))).toEqual(expected)
    }
    const hasher = new Hasher({ workers: 2, concurrency: 8 })
    try {
      expect(await Promise.all(inputs.map((bytes) => hasher.hash(bytes)))).toEqual(expected)
    } finally {
      await hasher.close()
    }
  })

  it.skipIf(!built)('gives sharp\'s pixels for plain PNGs and WebPs, and leaves the rest of those formats to sharp', async () => {
    const plain: [Buffer, 'png' | 'webp'][] = []
    for (const [width, height] of [[1, 1], [17, 13], [97, 61], [352, 208], [1024, 768]] as const) {
      const pixels = texturedPixels(width, height, 3 * width + height)
      plain.push([await sharp(pixels, raw(width, height)).png().toBuffer(), 'png'])
      plain.push([await sharp(pixels, raw(width, height)).png({ progressive: true, compressionLevel: 9 }).toBuffer(), 'png'])
      plain.push([await sharp(pixels, raw(width, height)).png({ palette: true, colours: 64 }).toBuffer(), 'png'])
      plain.push([await sharp(pixels, raw(width, height)).webp({ quality: 75 }).toBuffer(), 'webp'])
      plain.push([await sharp(pixels, raw(width, height)).webp({ lossless: true }).toBuffer(), 'webp'])
    }
    for (const [bytes, format] of plain) {
      const { width, height } = await sharp(bytes).metadata()
      const native = await decodeNative(bytes, format, width, height)
      expect(native, `${format} ${width}x${height}`).toBeDefined()
      expect(Buffer.from(native!).equals((await sharpPixels(bytes)).data), `${format} ${width}x${height}`).toBe(true)
      releasePixels(native!)
      useNativeDecode(false)
      const viaSharp = await hashImage(bytes, { dihedral: true })
      useNativeDecode(true)
      expect(await hashImage(bytes, { dihedral: true })).toEqual(viaSharp)
    }
    // Not plain: alpha, greyscale, 16 bits, several frames; libvips' answer is not 3-band 8-bit sRGB.
    const rgba = new Uint8Array(texturedPixels(40, 30, 7).length / 3 * 4).map((_, i) => (i % 4 === 3 ? 128 : i % 251))
    const others: [Buffer, 'png' | 'webp'][] = [
      [await sharp(rgba, { raw: { width: 40, height: 30, channels: 4 } }).png().toBuffer(), 'png'],
      [await sharp(rgba, { raw: { width: 40, height: 30, channels: 4 } }).webp().toBuffer(), 'webp'],
      [await sharp(texturedPixels(40, 30, 8), raw(40, 30)).toColourspace('b-w').png().toBuffer(), 'png'],
      [await sharp(texturedPixels(40, 30, 9), raw(40, 30)).toColourspace('rgb16').png().toBuffer(), 'png'],
    ]
    for (const [bytes, format] of others) {
      expect(await decodeNative(bytes, format, 40, 30)).toBeUndefined()
      useNativeDecode(false)
      const viaSharp = await hashImage(bytes)
      useNativeDecode(true)
      expect(await hashImage(bytes)).toEqual(viaSharp)
    }
    const frames = Buffer.concat([texturedPixels(40, 30, 10), texturedPixels(40, 30, 11)])
    const animated = await sharp(frames, { raw: { width: 40, height: 60, channels: 3, pageHeight: 30 } }).webp({ loop: 0, delay: [100, 100] }).toBuffer()
    expect((await sharp(animated).metadata()).pages).toBe(2)
    for (const options of [{}, { frameStep: 1 }]) {
      useNativeDecode(false)
      const viaSharp = await hashImage(animated, options)
      useNativeDecode(true)
      expect(await hashImage(animated, options)).toEqual(viaSharp)
    }
    // Truncated PNG and WebP: the error sharp gives.
    for (const [bytes] of plain.filter(([b]) => b.length > 2000).slice(0, 4)) {
      const cut = bytes.subarray(0, Math.floor(bytes.length / 2))
      useNativeDecode(false)
      const viaSharp = await hashImage(cut).then(() => 'hashed', (error: { code?: string; message?: string }) => `${error.code} ${error.message}`)
      useNativeDecode(true)
      expect(await hashImage(cut).then(() => 'hashed', (error: { code?: string; message?: string }) => `${error.code} ${error.message}`)).toBe(viaSharp)
    }
  })

  it('is not used with ARACHNID_NATIVE=0, and JPEGs are then decoded by sharp', () => {
    const script = `
      const { nativeDecodeStatus, nativeDecodeInUse } = await import(${JSON.stringify(new URL('../src/native-decode.ts', import.meta.url).href)})
      console.log(JSON.stringify({ status: nativeDecodeStatus, inUse: nativeDecodeInUse() }))`
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, ARACHNID_NATIVE: '0' },
      encoding: 'utf8',
    })
    expect(run.status, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout.trim().split('\n').at(-1)!)).toEqual({ status: 'disabled (ARACHNID_NATIVE=0)', inUse: false })
  })
})
