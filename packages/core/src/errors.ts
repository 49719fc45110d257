/**
 * Errors as one small hierarchy where each class says what the system does when it sees one (as
 * Crawlee's do, where `CriticalError` is a `NonRetryableError` too). Wrappers keep the original
 * error as `cause`; `code` and `message` are what users see (recorded with the failed item, printed
 * by the CLI) and stay stable.
 *
 * ```
 * ArachnidError                  base: code, message, retryable, cause
 * ├─ NonRetryableError           the item failed for good: recorded with its code, the rest goes on
 * │  ├─ CriticalError            the process cannot go on: it stops and says why
 * │  │  └─ ConfigError           a bad setting, flag or argument
 * │  ├─ BlockedAddressError      (@arachnid/net) an address the guard refuses
 * │  └─ DecisionError            (@arachnid/review) an analyst's decision refused
 * ├─ RetryableError              a passing fault: the item is tried again later, within its bounds
 * └─ HashError                   (@arachnid/hasher) bytes that got no hashes; `retryable` per code
 * ```
 */
export interface ArachnidErrorOptions {
  /** The error this one wraps, kept for logs and debugging. */
  readonly cause?: unknown
}

/**
 * The base of every error the system throws on purpose. Code that decides what to do reads
 * `retryable` (or tests for the classes below); one seen by the CLI is printed as one line
 * (`arachnid: <message>`) with exit code 2. Throw a subclass, which says what happens next.
 */
export class ArachnidError extends Error {
  /** Stable machine-readable code, recorded with the failed item. */
  readonly code: string
  /** Whether repeating the same operation later may succeed. */
  readonly retryable: boolean

  constructor(code: string, message: string, options: ArachnidErrorOptions & { readonly retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.retryable = options.retryable ?? false
  }
}

/**
 * Bad input that will never succeed (a 404, a malformed URL, a body over its bound, an SMTP
 * refusal): the item is recorded with its code and reason, is not retried, and the rest goes on.
 */
export class NonRetryableError extends ArachnidError {
  constructor(code: string, message: string, options: ArachnidErrorOptions = {}) {
    super(code, message, { ...options, retryable: false })
  }
}

/**
 * The process cannot go on (a bad configuration, the database gone or in use, a failed
 * migration): whoever sees it stops what it is doing and says why instead of recording and
 * moving on (the CLI prints it and exits 2; a worker ends). Being non-retryable, anything that
 * only records errors still never retries it.
 */
export class CriticalError extends NonRetryableError {}

/** A bad setting, flag or argument (the message names it, its value and what is allowed): stop before doing anything. */
export class ConfigError extends CriticalError {
  constructor(message: string, options: ArachnidErrorOptions = {}) {
    super('CONFIG', message, options)
  }
}

/**
 * A passing fault (network, timeout, a busy server, HTTP 429 or 5xx): the item is tried again
 * later (Crawlee's retries for pages, the next lease for media, the outbox's backoff for emails),
 * and recorded as failed only once its bound of attempts is spent.
 */
export class RetryableError extends ArachnidError {
  constructor(code: string, message: string, options: ArachnidErrorOptions = {}) {
    super(code, message, { ...options, retryable: true })
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
