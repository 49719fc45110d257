import { describe, expect, it } from 'vitest'
import { DEFAULT_HASHER_OPTIONS, HashError, Hasher, hashImage, HasherUnavailableError, InputRejectedError, CorruptImageError } from '../src/index.js'
import { texturedImage } from './support/textured-image.js'

async function corpus(): Promise<Buffer[]> {
  return Promise.all([
    texturedImage(160, 120, 1, 'jpeg'),
    texturedImage(150, 110, 2, 'png'),
    texturedImage(140, 100, 3, 'webp'),
    texturedImage(130, 90, 4, 'gif'),
    texturedImage(333, 222, 5, 'jpeg'),
  ])
}

describe('Hasher', () => {
  it.each([0, 2])('workers: %i gives exactly what hashImage gives, errors included', async (workers) => {
    const inputs = await corpus()
    const bad = [Buffer.alloc(0), Buffer.from('not an image at all'), inputs[0]!.subarray(0, 500)]
    const expected = await Promise.all(inputs.map((b) => hashImage(b, { dihedral: true })))
    const hasher = new Hasher({ workers, dihedral: true, concurrency: 2 })
    try {
      // More inputs than slots, so the queue is exercised.
      const got = await Promise.all([...inputs, ...inputs].map((b) => hasher.hash(b)))
      expect(got).toEqual([...expected, ...expected])
      const errors = await Promise.all(bad.map((b) => hasher.hash(b).catch((e: unknown) => e)))
      expect(errors.map((e) => (e as HashError).code)).toEqual(['EMPTY', 'UNSUPPORTED_FORMAT', 'CORRUPT'])
      // Error classes survive the trip back from a worker thread.
      expect(errors[0]).toBeInstanceOf(InputRejectedError)
      expect(errors[2]).toBeInstanceOf(CorruptImageError)
      // The caller's buffer is untouched (inputs are copied before transfer).
      expect(inputs[0]!.length).toBeGreaterThan(0)
      expect(await hasher.hash(inputs[0]!)).toEqual(expected[0])
      // So is a Buffer over an ArrayBuffer of its own, as an HTTP body is (Buffer#slice is a view,
      // so transferring its slice would have detached the caller's bytes).
      const body = Buffer.from(Uint8Array.from(inputs[4]!).buffer)
      expect(await hasher.hash(body)).toEqual(expected[4])
      expect(body.equals(inputs[4]!)).toBe(true)
      expect(await hasher.hash(body)).toEqual(expected[4])
    } finally {
      await hasher.close()
    }
  })

  it('close() waits for accepted inputs, then refuses new ones with CLOSED', async () => {
    const inputs = await corpus()
    const hasher = new Hasher({ workers: 1 })
    const pending = inputs.map((b) => hasher.hash(b))
    await hasher.close()
    const settled = await Promise.allSettled(pending)
    expect(settled.map((s) => s.status)).toEqual(inputs.map(() => 'fulfilled'))
    const error = await hasher.hash(inputs[0]!).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HasherUnavailableError)
    expect((error as HashError).code).toBe('CLOSED')
    await hasher.close() // idempotent
  })

  it('refuses nonsense pool options', () => {
    expect(() => new Hasher({ workers: -1 })).toThrow(RangeError)
    expect(() => new Hasher({ concurrency: 0 })).toThrow(RangeError)
    expect(DEFAULT_HASHER_OPTIONS.workers).toBe(0)
  })
})
