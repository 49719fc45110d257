import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HASH_ERROR_CODES, HashError, type HashErrorCode, hashImage, type HashOptions, type ImageHashes, SUPPORTED_FORMATS } from '../src/index.js'
import { gifWithFrames, jpegClaiming, pngClaiming } from './support/crafted-inputs.js'
import { seededRandom, texturedImage, texturedPixels } from './support/textured-image.js'

let peakRss = 0
const sampleRss = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
}
afterAll(() => console.log(`robustness: peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`))

/** Hashes, or the HashError's code; anything else thrown fails the test. */
async function outcome(bytes: Uint8Array, options?: HashOptions): Promise<ImageHashes | HashErrorCode> {
  try {
    return await hashImage(bytes, options)
  } catch (error) {
    if (!(error instanceof HashError)) throw error
    expect(HASH_ERROR_CODES).toContain(error.code)
    expect(error.message).not.toBe('')
    return error.code
  } finally {
    sampleRss()
  }
}

async function codeOf(bytes: Uint8Array, options?: HashOptions): Promise<HashErrorCode | 'hashed'> {
  const result = await outcome(bytes, options)
  return typeof result === 'string' ? result : 'hashed'
}

describe('crafted bad inputs each give a HashError with a stable code', () => {
  let jpeg: Buffer
  beforeAll(async () => {
    jpeg = await texturedImage(320, 240, 11, 'jpeg')
  })

  it('empty input: EMPTY', async () => {
    expect(await codeOf(new Uint8Array(0))).toBe('EMPTY')
  })

  it('over maxBytes: TOO_LARGE, checked before anything else', async () => {
    const error = await hashImage(jpeg, { maxBytes: jpeg.length - 1 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HashError)
    expect((error as HashError).code).toBe('TOO_LARGE')
    expect((error as HashError).retryable).toBe(false)
    expect(await codeOf(jpeg, { maxBytes: jpeg.length })).toBe('hashed')
  })

  it('random bytes and a text file named .jpg: UNSUPPORTED_FORMAT', async () => {
    const random = seededRandom(5)
    const noise = Uint8Array.from({ length: 4096 }, () => Math.floor(random() * 256))
    expect(await codeOf(noise)).toBe('UNSUPPORTED_FORMAT')
    expect(await codeOf(Buffer.from('This is a text file named holiday.jpg, not an image.\n'))).toBe('UNSUPPORTED_FORMAT')
    expect(await codeOf(Buffer.from('<html><body><img src="a.jpg"></body></html>'))).toBe('UNSUPPORTED_FORMAT')
  })

  it('truncated JPEG, PNG, WebP, GIF, TIFF, AVIF: CORRUPT (or UNSUPPORTED_FORMAT when the header is gone), never a hash', async () => {
    const pixels = texturedPixels(200, 150, 4)
    const raw = { raw: { width: 200, height: 150, channels: 3 as const } }
    const encoded = {
      jpeg: await sharp(pixels, raw).jpeg().toBuffer(),
      progressive: await sharp(pixels, raw).jpeg({ progressive: true }).toBuffer(),
      png: await sharp(pixels, raw).png().toBuffer(),
      webp: await sharp(pixels, raw).webp().toBuffer(),
      gif: await sharp(pixels, raw).gif().toBuffer(),
      tiff: await sharp(pixels, raw).tiff({ compression: 'jpeg' }).toBuffer(),
      avif: await sharp(pixels, raw).avif({ effort: 0 }).toBuffer(),
    }
    const results: Record<string, string> = {}
    for (const [format, bytes] of Object.entries(encoded)) {
      expect(await codeOf(bytes)).toBe('hashed')
      for (const fraction of [0.95, 0.6, 0.2]) {
        const code = await codeOf(bytes.subarray(0, Math.floor(bytes.length * fraction)))
        results[`${format} ${fraction}`] = code
        expect(['CORRUPT', 'UNSUPPORTED_FORMAT']).toContain(code)
      }
    }
    console.log('truncated inputs:', results)
  })

  it('a PNG whose IHDR claims 100000x100000 (valid CRC): TOO_LARGE from the header', async () => {
    const bomb = pngClaiming(100_000, 100_000)
    expect((await sharp(bomb, { limitInputPixels: false }).metadata()).width).toBe(100_000) // the header really says so
    expect(await codeOf(bomb)).toBe('TOO_LARGE')
  })

  it('a PNG under the pixel limit whose data is missing: CORRUPT', async () => {
    expect(await codeOf(pngClaiming(2000, 2000))).toBe('CORRUPT')
  })

  it('a JPEG whose SOF claims 60000x60000: TOO_LARGE; within maxPixels but lying: hashed as a browser shows it', async () => {
    expect(await codeOf(jpegClaiming(jpeg, 60_000, 60_000))).toBe('TOO_LARGE')
    // libjpeg reports scan data ending at the EOI marker as a warning, not as truncation; with
    // failOn 'error' (see decode-image.ts) such images are hashed, grey where data is missing.
    const lying = (await outcome(jpegClaiming(jpeg, 3000, 2000))) as ImageHashes
    expect([lying.width, lying.height]).toEqual([3000, 2000])
  })

  it('a real image over maxPixels: TOO_LARGE', async () => {
    expect(await codeOf(jpeg, { maxPixels: 320 * 240 - 1 })).toBe('TOO_LARGE')
    expect(await codeOf(jpeg, { maxPixels: 320 * 240 })).toBe('hashed')
  })

  it('a GIF with 3000 frames hashes its first frame only, or every Nth with frameStep, bounded by maxFrames', async () => {
    const gif = gifWithFrames(3000)
    expect((await sharp(gif).metadata()).pages).toBe(3000)
    const first = await outcome(gif)
    expect(typeof first).toBe('object')
    const still = first as ImageHashes
    expect([still.format, still.width, still.height, still.frames]).toEqual(['gif', 32, 32, undefined])
    const stepped = (await outcome(gif, { frameStep: 500 })) as ImageHashes
    expect(stepped.frames?.map((f) => f.index)).toEqual([0, 500, 1000, 1500, 2000, 2500])
    expect(stepped.frames?.[0]?.pdq).toBe(still.pdq)
    const bounded = (await outcome(gif, { frameStep: 10, maxFrames: 4 })) as ImageHashes
    expect(bounded.frames?.map((f) => f.index)).toEqual([0, 10, 20, 30])
  })

  it('gzip (svgz) input: UNSUPPORTED_FORMAT, since the XML inside could not be checked', async () => {
    expect(await codeOf(gzipSync(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')))).toBe('UNSUPPORTED_FORMAT')
  })

  it('a decode slower than timeoutMs: TIMEOUT, retryable', async () => {
    // 6 megapixels of noise take far more than the 1 ms allowed to decode, on any machine.
    const noisy = await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
      .jpeg({ quality: 50 })
      .toBuffer()
    const error = await hashImage(noisy, { timeoutMs: 1 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HashError)
    expect((error as HashError).code).toBe('TIMEOUT')
    expect((error as HashError).retryable).toBe(true)
  })

  it('options out of range are refused up front', async () => {
    await expect(hashImage(jpeg, { maxPixels: -1 })).rejects.toThrow(RangeError)
    await expect(hashImage(jpeg, { frameStep: 0.5 })).rejects.toThrow(RangeError)
  })
})

describe('fuzz: mutated valid images never crash or hang', () => {
  it('3000 mutants of JPEG, PNG, WebP, GIF and TIFF seeds: hashes of those very bytes or a HashError code a damaged image can earn, each, and the same again', async () => {
    const pixels = texturedPixels(48, 36, 21)
    const raw = { raw: { width: 48, height: 36, channels: 3 as const } }
    const seeds = [
      await sharp(pixels, raw).jpeg().toBuffer(),
      await sharp(pixels, raw).jpeg({ progressive: true }).toBuffer(),
      await sharp(pixels, raw).png().toBuffer(),
      await sharp(pixels, raw).ensureAlpha(0.5).png({ palette: true }).toBuffer(),
      await sharp(pixels, raw).webp().toBuffer(),
      await sharp(pixels, raw).webp({ lossless: true }).toBuffer(),
      await sharp(pixels, raw).gif().toBuffer(),
      await sharp(pixels, raw).tiff().toBuffer(),
    ]
    const random = seededRandom(2024)
    const pick = (n: number): number => Math.floor(random() * n)
    const mutate = (seed: Buffer): Uint8Array => {
      const bytes = Uint8Array.from(seed)
      switch (pick(5)) {
        case 0: // flip a few bytes, biased towards headers
          for (let k = 1 + pick(8); k > 0; k--) bytes[random() < 0.5 ? pick(Math.min(64, bytes.length)) : pick(bytes.length)] = pick(256)
          return bytes
        case 1: // truncate
          return bytes.subarray(0, pick(bytes.length))
        case 2: // overwrite a run with noise
        {
          const at = pick(bytes.length)
          for (let i = at; i < Math.min(bytes.length, at + 1 + pick(64)); i++) bytes[i] = pick(256)
          return bytes
        }
        case 3: // splice: duplicate a slice into the middle
        {
          const at = pick(bytes.length)
          const len = pick(256)
          return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at, at + len), bytes.subarray(at)])
        }
        default: // set 16-bit words to extremes (sizes, lengths)
          for (let k = 1 + pick(4); k > 0; k--) {
            const at = pick(Math.max(1, Math.min(200, bytes.length - 2)))
            bytes[at] = random() < 0.5 ? 0xff : 0
            bytes[at + 1] = random() < 0.5 ? 0xff : 0
          }
          return bytes
      }
    }
    // Lower bounds than the defaults keep 3000 inputs quick; the code paths are the same.
    const options: HashOptions = { maxPixels: 4_000_000, timeoutMs: 5000 }
    const total = 3000
    const batch = 8
    const results: { bytes: Uint8Array; outcome: ImageHashes | HashErrorCode }[] = []
    for (let i = 0; i < total; i += batch) {
      const inputs = Array.from({ length: batch }, (_, k) => mutate(seeds[(i + k) % seeds.length]!))
      const outcomes = await Promise.all(inputs.map((bytes) => outcome(bytes, options)))
      outcomes.forEach((o, k) => results.push({ bytes: inputs[k]!, outcome: o }))
    }
    const tally: Record<string, number> = {}
    for (const { outcome: o } of results) {
      const kind = typeof o === 'string' ? o : 'hashed'
      tally[kind] = (tally[kind] ?? 0) + 1
    }
    console.log(`fuzz: ${total} inputs ->`, tally, `peak RSS so far ${(peakRss / 2 ** 20).toFixed(0)} MiB`)

    // Only the codes a damaged raster image can earn: INTERNAL (our own failure), CLOSED (no pool
    // here) or UNSAFE_SVG (no markup here) would be a bug. TIMEOUT is the bound doing its job.
    const allowed = new Set(['hashed', 'EMPTY', 'TOO_LARGE', 'UNSUPPORTED_FORMAT', 'CORRUPT', 'TIMEOUT'])
    expect(Object.keys(tally).filter((code) => !allowed.has(code))).toEqual([])
    expect(tally.hashed ?? 0).toBeGreaterThan(0)
    expect(tally.CORRUPT ?? 0).toBeGreaterThan(0)

    // Every hash is a real one of that input: its digests are of those bytes, its perceptual
    // hashes well-formed, its size within the bounds, its format one we hash.
    const digest = (algorithm: string, bytes: Uint8Array) => createHash(algorithm).update(bytes).digest('hex')
    const malformed = results.flatMap(({ bytes, outcome: o }, index) => {
      if (typeof o === 'string') return []
      const problems = [
        o.sha256 !== digest('sha256', bytes) && 'sha256', o.md5 !== digest('md5', bytes) && 'md5', o.sha1 !== digest('sha1', bytes) && 'sha1',
        o.bytes !== bytes.length && 'bytes', !/^[0-9a-f]{64}$/.test(o.blockhash) && 'blockhash', !/^[0-9a-f]{64}$/.test(o.pdq) && 'pdq',
        !(Number.isInteger(o.pdqQuality) && o.pdqQuality >= 0 && o.pdqQuality <= 100) && 'pdqQuality',
        !(Number.isInteger(o.width) && Number.isInteger(o.height) && o.width > 0 && o.height > 0 && o.width * o.height <= options.maxPixels!) && 'size',
        !(SUPPORTED_FORMATS as readonly string[]).includes(o.format) && 'format', (o.frames !== undefined || o.pdqDihedral !== undefined) && 'extras',
      ].filter(Boolean)
      return problems.length > 0 ? [{ index, problems }] : []
    })
    expect(malformed).toEqual([])

    // Each outcome is a property of the bytes alone: one input in twenty, hashed again beside other
    // inputs than the first time, gives the same hashes or the same code.
    const sample = results.map((r, index) => ({ ...r, index })).filter(({ index, outcome: o }) => index % 20 === 0 && o !== 'TIMEOUT')
    const changed: { index: number; first: unknown; again: unknown }[] = []
    for (let i = 0; i < sample.length; i += batch) {
      const group = sample.slice(i, i + batch)
      const again = await Promise.all(group.map(({ bytes }) => outcome(bytes, options)))
      group.forEach(({ index, outcome: first }, k) => {
        if (again[k] !== 'TIMEOUT' && JSON.stringify(again[k]) !== JSON.stringify(first)) changed.push({ index, first, again: again[k] })
      })
    }
    expect(changed).toEqual([])
  })
})
