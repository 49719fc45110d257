/** Stable codes recorded with an input that could not be hashed. New codes are only ever added. */
export const HASH_ERROR_CODES = ['EMPTY', 'TOO_LARGE', 'UNSUPPORTED_FORMAT', 'CORRUPT', 'TIMEOUT', 'UNSAFE_SVG', 'CLOSED', 'INTERNAL'] as const
export type HashErrorCode = (typeof HASH_ERROR_CODES)[number]

/**
 * Why an input got no hashes. The crawler records `code` and `message` with the media URL and goes on;
 * `retryable` says whether hashing the same bytes again later may succeed. The underlying error, if any,
 * is kept as `cause`.
 *
 * @example
 * try { await hashImage(bytes) } catch (e) { if (e instanceof HashError) record(url, e.code, e.message) else throw e }
 */
export class HashError extends Error {
  readonly code: HashErrorCode
  readonly retryable: boolean

  constructor(code: HashErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.retryable = options.retryable ?? false
  }
}

/** The input breaks a bound or policy (empty, too large, unsupported, unsafe SVG): never retry. */
export class InputRejectedError extends HashError {
  constructor(code: 'EMPTY' | 'TOO_LARGE' | 'UNSUPPORTED_FORMAT' | 'UNSAFE_SVG', message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, retryable: false })
  }
}

/** The decoder gave up on the bytes (truncated, malformed): never retry. */
export class CorruptImageError extends HashError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('CORRUPT', message, { ...options, retryable: false })
  }
}

/** Decoding took longer than `timeoutMs`. Retryable, since a loaded machine may be the reason. */
export class HashTimeoutError extends HashError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('TIMEOUT', message, { ...options, retryable: true })
  }
}

/** The `Hasher` was closed, or one of its workers died under this input: the caller's own state, or a bug. */
export class HasherUnavailableError extends HashError {
  constructor(code: 'CLOSED' | 'INTERNAL', message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, retryable: code === 'INTERNAL' })
  }
}

/** Errors cross worker boundaries as plain objects; this restores the class. */
export function hashErrorFromJSON(json: { code: HashErrorCode; message: string }): HashError {
  switch (json.code) {
    case 'EMPTY':
    case 'TOO_LARGE':
    case 'UNSUPPORTED_FORMAT':
    case 'UNSAFE_SVG':
      return new InputRejectedError(json.code, json.message)
    case 'CORRUPT':
      return new CorruptImageError(json.message)
    case 'TIMEOUT':
      return new HashTimeoutError(json.message)
    case 'CLOSED':
    case 'INTERNAL':
      return new HasherUnavailableError(json.code, json.message)
  }
}
