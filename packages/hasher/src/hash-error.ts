import { ArachnidError, type ArachnidErrorOptions } from '@arachnid/core/errors'

/** Stable codes recorded with an input that could not be hashed. New codes are only ever added. */
export const HASH_ERROR_CODES = [
  'EMPTY', 'TOO_LARGE', 'UNSUPPORTED_FORMAT', 'CORRUPT', 'TIMEOUT', 'UNSAFE_SVG', 'CLOSED', 'INTERNAL',
  // Video (@arachnid/video): no video stream in the container; longer than the duration bound;
  // more decoded frames than the frame bound; more streams than the stream bound; no usable
  // ffmpeg/ffprobe on this machine (the bytes may hash elsewhere or later: retryable).
  'NO_VIDEO_STREAM', 'TOO_LONG', 'TOO_MANY_FRAMES', 'TOO_MANY_STREAMS', 'FFMPEG_UNAVAILABLE',
] as const
export type HashErrorCode = (typeof HASH_ERROR_CODES)[number]

/**
 * Why an input got no hashes: the hasher's family in the one error hierarchy (`ArachnidError`
 * from @arachnid/core; imported from its light `errors` entry so worker threads never load the
 * database). What the system does depends on the subclass, and `retryable` says it: the crawler
 * records `code` and `message` with the media URL and goes on with the rest; a retryable one
 * (TIMEOUT, INTERNAL) may succeed if the same bytes are hashed again later. The underlying error,
 * if any, is kept as `cause`.
 *
 * @example
 * try { await hashImage(bytes) } catch (e) { if (e instanceof HashError) record(url, e.code, e.message) else throw e }
 */
export class HashError extends ArachnidError {
  declare readonly code: HashErrorCode

  constructor(code: HashErrorCode, message: string, options: ArachnidErrorOptions & { readonly retryable?: boolean } = {}) {
    super(code, message, options)
  }
}

/** The input breaks a bound or policy (empty, too large, unsupported, unsafe SVG): recorded with its code, never retried. */
export class InputRejectedError extends HashError {
  constructor(code: 'EMPTY' | 'TOO_LARGE' | 'UNSUPPORTED_FORMAT' | 'UNSAFE_SVG', message: string, options: ArachnidErrorOptions = {}) {
    super(code, message, { ...options, retryable: false })
  }
}

/** The decoder gave up on the bytes (truncated, malformed): recorded as CORRUPT, never retried. */
export class CorruptImageError extends HashError {
  constructor(message: string, options: ArachnidErrorOptions = {}) {
    super('CORRUPT', message, { ...options, retryable: false })
  }
}

/** Decoding took longer than `timeoutMs`: recorded as TIMEOUT, and retryable, since a loaded machine may be the reason. */
export class HashTimeoutError extends HashError {
  constructor(message: string, options: ArachnidErrorOptions = {}) {
    super('TIMEOUT', message, { ...options, retryable: true })
  }
}

/**
 * The `Hasher` was closed (CLOSED: the caller's own state, never retried) or one of its workers
 * died under this input (INTERNAL: a bug or a crash, retryable on a fresh worker).
 */
export class HasherUnavailableError extends HashError {
  constructor(code: 'CLOSED' | 'INTERNAL', message: string, options: ArachnidErrorOptions = {}) {
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
    case 'NO_VIDEO_STREAM':
    case 'TOO_LONG':
    case 'TOO_MANY_FRAMES':
    case 'TOO_MANY_STREAMS':
      return new HashError(json.code, json.message, { retryable: false })
    case 'FFMPEG_UNAVAILABLE':
      return new HashError(json.code, json.message, { retryable: true })
  }
}
