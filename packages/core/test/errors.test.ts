import { describe, expect, it } from 'vitest'
import { ArachnidError, ConfigError, CriticalError, NonRetryableError, RetryableError, describeError, withDefaults } from '@arachnid/core'

describe('the error hierarchy', () => {
  it('a critical error is non-retryable too, as in Crawlee', () => {
    const error = new CriticalError('DATABASE_IN_USE', 'in use')
    expect(error).toBeInstanceOf(NonRetryableError)
    expect(error).toBeInstanceOf(ArachnidError)
    expect(error.retryable).toBe(false)
    expect(error.name).toBe('CriticalError')
  })

  it('a configuration error is critical, with its code and message kept', () => {
    const cause = new Error('raw')
    const error = new ConfigError('ARACHNID_MAX_PAGES=0: expected an integer from 1 to 100000000', { cause })
    expect(error).toBeInstanceOf(CriticalError)
    expect(describeError(error)).toEqual({ code: 'CONFIG', message: 'ARACHNID_MAX_PAGES=0: expected an integer from 1 to 100000000' })
    expect(error.cause).toBe(cause)
  })

  it('a retryable error is neither non-retryable nor critical', () => {
    const error = new RetryableError('TIMEOUT', 'slow', { cause: 'x' })
    expect(error.retryable).toBe(true)
    expect(error).not.toBeInstanceOf(NonRetryableError)
    expect(error).not.toBeInstanceOf(CriticalError)
    expect(error.cause).toBe('x')
  })
})

describe('withDefaults', () => {
  it('keeps a default where the option is undefined, and takes every option that is set', () => {
    const defaults = { a: 1, b: 'two', c: false } as const
    const merged = withDefaults(defaults, { a: undefined, b: 'three', d: 4 } as { a?: number; b?: string; d?: number })
    expect(merged).toEqual({ a: 1, b: 'three', c: false, d: 4 })
    // The defaults object is never changed.
    expect(defaults).toEqual({ a: 1, b: 'two', c: false })
  })

  it('takes falsy values that are set (0, false, empty text)', () => {
    expect(withDefaults({ n: 5, f: true, s: 'x' }, { n: 0, f: false, s: '' })).toEqual({ n: 0, f: false, s: '' })
  })
})
