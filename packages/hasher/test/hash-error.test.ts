import { describe, expect, it } from 'vitest'
import { ArachnidError, NonRetryableError, SETTINGS, describeError } from '@arachnid/core'
import { CorruptImageError, DEFAULT_HASH_OPTIONS, HASH_ERROR_CODES, HashError, Hasher, hashImage, HasherUnavailableError, HashTimeoutError, InputRejectedError } from '../src/index.js'

describe('hash errors in the one hierarchy', () => {
  it('every hash error is an ArachnidError, with its code, message and retryability kept', async () => {
    const error = await hashImage(Buffer.from('not an image at all')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HashError)
    expect(error).toBeInstanceOf(ArachnidError)
    expect(describeError(error)).toEqual({ code: 'UNSUPPORTED_FORMAT', message: (error as Error).message })
    expect((error as HashError).retryable).toBe(false)
  })

  it('each class says whether the same bytes may be hashed again', () => {
    const cause = new Error('libvips said so')
    const cases: [HashError, string, boolean][] = [
      [new InputRejectedError('TOO_LARGE', 'big', { cause }), 'TOO_LARGE', false],
      [new CorruptImageError('bad', { cause }), 'CORRUPT', false],
      [new HashTimeoutError('slow', { cause }), 'TIMEOUT', true],
      [new HasherUnavailableError('CLOSED', 'closed', { cause }), 'CLOSED', false],
      [new HasherUnavailableError('INTERNAL', 'died', { cause }), 'INTERNAL', true],
    ]
    for (const [error, code, retryable] of cases) {
      expect(error.code).toBe(code)
      expect(HASH_ERROR_CODES).toContain(error.code)
      expect(error.retryable).toBe(retryable)
      expect(error.cause).toBe(cause)
      expect(error.name).toBe(error.constructor.name)
      // Hash errors are their own family: what happens follows `retryable`, not the generic classes.
      expect(error).not.toBeInstanceOf(NonRetryableError)
    }
  })

  it('errors from a worker thread come back as the same classes of the same hierarchy', async () => {
    const hasher = new Hasher({ workers: 1 })
    try {
      const error = await hasher.hash(Buffer.alloc(0)).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(InputRejectedError)
      expect(error).toBeInstanceOf(ArachnidError)
      expect((error as HashError).code).toBe('EMPTY')
    } finally {
      await hasher.close()
    }
  })

  it('the bounds that are settings default to the settings\' defaults', () => {
    expect(DEFAULT_HASH_OPTIONS.maxBytes).toBe(SETTINGS.maxMediaBytes.default)
    expect(DEFAULT_HASH_OPTIONS.maxPixels).toBe(SETTINGS.maxPixels.default)
  })
})
