/**
 * Errors as a small hierarchy where each class says what the system does when it sees one.
 * Wrappers keep the original error as `cause`.
 */
export class ArachnidError extends Error {
  /** Stable machine-readable code, recorded with the failed item. */
  readonly code: string
  /** Whether repeating the same operation later may succeed. */
  readonly retryable: boolean

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.retryable = options.retryable ?? false
  }
}

/** Bad input that will never succeed: record it with its reason and go on. */
export class NonRetryableError extends ArachnidError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, retryable: false })
  }
}

/** A passing fault (network, server busy): try again later. */
export class RetryableError extends ArachnidError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, retryable: true })
  }
}

/** The process cannot go on (bad configuration, database gone): stop and say why. */
export class CriticalError extends ArachnidError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, retryable: false })
  }
}

export class ConfigError extends CriticalError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CONFIG', message, options)
  }
}

/** A short, stable `{code, message}` for any thrown value, for recording. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof ArachnidError) return { code: error.code, message: error.message }
  if (error instanceof Error) {
    const code = typeof (error as { code?: unknown }).code === 'string' ? (error as unknown as { code: string }).code : 'ERROR'
    return { code, message: error.message }
  }
  return { code: 'ERROR', message: String(error) }
}
