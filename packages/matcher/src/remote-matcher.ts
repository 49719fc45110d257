import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { ConfigError, CriticalError, LIST_CLASSIFICATIONS, type ListClassification, type Logger, NonRetryableError, SETTINGS, describeError, withDefaults } from '@arachnid/core'
import { retryAfterMs } from '@arachnid/net'
import { Pool } from 'undici'
import { type Algorithm, isAlgorithm, normaliseHash } from './algorithms.js'
import type { MatchService } from './match-service.js'
import type { KnownMatch, Probe } from './matcher.js'

export interface RemoteMatcherOptions {
  /**
   * Hashes sent in one call at most (a probe counts once plus once per dihedral hash); a larger
   * `match()` is split. A 413 from a service configured lower halves it for the rest of the
   * process. Default: ARACHNID_API_MAX_BATCH's default (10000), the service's own default.
   */
  readonly maxBatch?: number
  /** Calls of one split `match()` in flight at once. Default 4. */
  readonly concurrency?: number
  /** Keep-alive connections to the service at most. Default 8. */
  readonly connections?: number
  /** One call's deadline for the answer's headers, and again for its body; past it the call is retried. Default 120 s. */
  readonly requestTimeoutMs?: number
  /** First wait before retrying; doubled on each retry up to `retryMaxMs`, half of it random (jitter). Default 250 ms. */
  readonly retryBaseMs?: number
  /** Longest wait between two retries, unless the service's Retry-After asks for longer. Default 15 s. */
  readonly retryMaxMs?: number
  /**
   * How long one `match()` keeps waiting for a service that is down, loading or rate-limiting
   * before it throws a CriticalError (the worker stops; its leased media go back to the queue).
   * Default: Infinity, a crawl worker waits for as long as the outage lasts.
   */
  readonly maxWaitMs?: number
  /** Where the one warning per outage (and the line when the service is back) goes. */
  readonly logger?: Logger
}

export const DEFAULT_REMOTE_MATCHER_OPTIONS = {
  maxBatch: SETTINGS.apiMaxBatch.default, concurrency: 4, connections: 8, requestTimeoutMs: 120_000,
  retryBaseMs: 250, retryMaxMs: 15_000, maxWaitMs: Number.POSITIVE_INFINITY,
} as const satisfies Omit<Required<RemoteMatcherOptions>, 'logger'>

/** One probe as the batch endpoint takes it, and how to read its answer back. */
interface Prepared {
  /** Index in the caller's probes. */
  readonly at: number
  readonly wire: { algorithm: Algorithm; hash: string; quality?: number; dihedral?: string[]; frames?: { pdq: string; quality: number; timestamp: number }[] }
  /** Wire dihedral position -> the caller's (malformed dihedral hashes are not sent). */
  readonly dihedralAt: readonly number[]
  /** Hashes this probe counts for against the service's limit. */
  readonly weight: number
}

/** Why a call did not get an answer, when waiting and calling again may get one. */
class Unavailable extends Error {
  constructor(readonly reason: string, readonly retryAfter?: string | string[]) {
    super(reason)
  }
}

/**
 * Matches through the matching service (`arachnid api`, its batch endpoint `POST /api/v1/match`)
 * instead of an in-process index: one index per machine instead of one per worker. Calls go over
 * keep-alive connections (an undici Pool); a `match()` larger than the service's per-call limit is
 * split. The answer is the in-process `Matcher`'s: the same matches, in the same order.
 *
 * A worker waits for the service rather than drop a media: when it is down, loading its index
 * (503), overloaded or rate-limiting (429), or a call times out or its connection is refused or
 * reset, the call is repeated after an exponential backoff with jitter (at least the service's
 * Retry-After), forever unless `maxWaitMs` says otherwise, with one warning per outage. A
 * `match()` never returns a partial answer. Refused credentials (401, 403) and a wrong URL (404)
 * are a ConfigError; a request the service calls bad (400, 413 for a single probe, or a probe it
 * calls malformed although this client found it well-formed) a NonRetryableError; neither is retried.
 *
 * @example
 * const matcher = new RemoteMatcher('http://worker:secret@127.0.0.1:8090', { logger })
 * const [found] = await matcher.match([{ algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' }])
 * await matcher.close()
 */
export class RemoteMatcher implements MatchService {
  /** The service's URL without credentials, for messages. */
  readonly url: string
  readonly #options: Omit<Required<RemoteMatcherOptions>, 'logger'>
  readonly #logger: Logger | undefined
  readonly #pool: Pool
  readonly #path: string
  readonly #authorization: string | undefined
  readonly #closing = new AbortController()
  #maxBatch: number
  /** The outage under way (first failure's time and reason), for one warning per outage. */
  #outage: { since: number; reason: string } | undefined

  constructor(url: string, options: RemoteMatcherOptions = {}) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch (error) {
      throw new ConfigError(`ARACHNID_MATCHER_URL "${url.replace(/\/\/[^/@]*@/, '//***@')}": not a URL`, { cause: error })
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new ConfigError(`ARACHNID_MATCHER_URL: expected an http: or https: URL, got ${parsed.protocol}`)
    }
    const { logger, ...rest } = options
    this.#options = withDefaults(DEFAULT_REMOTE_MATCHER_OPTIONS, rest)
    // Every request and wait listens to the one closing signal: as many at once as calls in flight, not a leak.
    setMaxListeners(0, this.#closing.signal)
    this.#logger = logger
    this.#maxBatch = Math.max(1, this.#options.maxBatch)
    const user = decodeURIComponent(parsed.username)
    const password = decodeURIComponent(parsed.password)
    this.#authorization = user || password ? `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` : undefined
    this.url = `${parsed.protocol}//${user ? `${parsed.username}@` : ''}${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`
    this.#path = `${parsed.pathname.replace(/\/+$/, '')}/api/v1/match`
    this.#pool = new Pool(parsed.origin, {
      connections: this.#options.connections,
      headersTimeout: this.#options.requestTimeoutMs, bodyTimeout: this.#options.requestTimeoutMs,
      keepAliveTimeout: 30_000,
    })
  }

  async match(probes: readonly Probe[]): Promise<KnownMatch[][]> {
    const results: KnownMatch[][] = probes.map(() => [])
    const prepared: Prepared[] = []
    probes.forEach((probe, at) => {
      const p = prepare(probe, at)
      if (p !== undefined) prepared.push(p)
    })
    const chunks = this.#split(prepared)
    let next = 0
    await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, chunks.length) }, async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!
        const answers = await this.#send(chunk)
        chunk.forEach((p, i) => { results[p.at] = answers[i]! })
      }
    }))
    return results
  }

  /**
   * One empty call to the service: resolves once it answers, throws the ConfigError a refused
   * credential gives (and waits, as match does, while the service is down or loading).
   */
  async check(): Promise<void> {
    await this.#send([])
  }

  /** Stops waiting (pending `match()` calls throw) and closes the connections. */
  async close(): Promise<void> {
    this.#closing.abort()
    await this.#pool.close()
  }

  /** Consecutive probes whose weights add up to the per-call limit at most (a heavier probe alone). */
  #split(prepared: readonly Prepared[]): Prepared[][] {
    const chunks: Prepared[][] = []
    let chunk: Prepared[] = []
    let weight = 0
    for (const p of prepared) {
      if (chunk.length > 0 && weight + p.weight > this.#maxBatch) {
        chunks.push(chunk)
        chunk = []
        weight = 0
      }
      chunk.push(p)
      weight += p.weight
    }
    if (chunk.length > 0) chunks.push(chunk)
    return chunks
  }

  /** One call, repeated until the service answers it; a 413 splits it. */
  async #send(chunk: readonly Prepared[]): Promise<KnownMatch[][]> {
    const body = JSON.stringify({ probes: chunk.map((p) => p.wire) })
    let attempt = 0
    let since: number | undefined
    for (;;) {
      this.#throwIfClosed()
      let answer: { status: number; headers: Record<string, string | string[] | undefined>; text: string }
      try {
        const response = await this.#pool.request({
          path: this.#path, method: 'POST', body, signal: this.#closing.signal,
          headers: { 'content-type': 'application/json', accept: 'application/json', ...(this.#authorization ? { authorization: this.#authorization } : {}) },
        })
        answer = { status: response.statusCode, headers: response.headers, text: await response.body.text() }
      } catch (error) {
        this.#throwIfClosed()
        const { code, message } = describeError(error)
        answer = { status: 0, headers: {}, text: `${code}: ${message}` }
      }
      try {
        const answers = this.#read(chunk, answer)
        this.#recovered()
        return answers
      } catch (error) {
        if (error instanceof TooLarge) {
          this.#recovered()
          const weight = chunk.reduce((n, p) => n + p.weight, 0)
          this.#maxBatch = Math.max(1, Math.min(this.#maxBatch, Math.floor(weight / 2)))
          this.#logger?.warn({ url: this.url, maxBatch: this.#maxBatch }, 'the matching service refused a call as too large (413): sending smaller ones')
          const parts = this.#split(chunk)
          const halves = parts.length > 1 ? parts : [chunk.slice(0, chunk.length >> 1), chunk.slice(chunk.length >> 1)]
          const out: KnownMatch[][] = []
          for (const part of halves) out.push(...await this.#send(part))
          return out
        }
        if (!(error instanceof Unavailable)) throw error
        since ??= Date.now()
        const delay = this.#delay(attempt++, error.retryAfter)
        const waited = Date.now() - since
        if (waited + delay > this.#options.maxWaitMs) {
          throw new CriticalError('MATCHER_UNAVAILABLE', `the matching service at ${this.url} did not answer for ${Math.round(waited / 1000)} s (${error.reason}); gave up waiting`, { cause: error })
        }
        this.#unavailable(error.reason, delay)
        await sleep(delay, undefined, { signal: this.#closing.signal }).catch(() => {})
      }
    }
  }

  /** The answers of a call, or why there are none (`Unavailable`: wait and call again). */
  #read(chunk: readonly Prepared[], answer: { status: number; headers: Record<string, string | string[] | undefined>; text: string }): KnownMatch[][] {
    const { status } = answer
    if (status === 0) throw new Unavailable(answer.text)
    const detail = status === 200 ? '' : readDetail(answer.text)
    if (status === 429 || status >= 500) throw new Unavailable(`${status}${detail ? `: ${detail}` : ''}`, answer.headers['retry-after'])
    if (status === 401 || status === 403) {
      throw new ConfigError(`ARACHNID_MATCHER_URL: the matching service at ${this.url} refused ${this.#authorization ? 'the credentials' : 'a call without credentials (put an API user\'s in the URL)'} (${status}${detail ? `: ${detail}` : ''})`)
    }
    if (status === 404) throw new ConfigError(`ARACHNID_MATCHER_URL: ${this.url} has no matching service's batch endpoint (404 for ${this.#path})`)
    if (status === 413 && chunk.length > 1) throw new TooLarge()
    if (status !== 200) {
      throw new NonRetryableError('MATCHER_REFUSED', `the matching service at ${this.url} refused a call of ${chunk.length} probes (${status}${detail ? `: ${detail}` : ''})`)
    }
    let json: unknown
    try {
      json = JSON.parse(answer.text)
    } catch (error) {
      throw new CriticalError('MATCHER_PROTOCOL', `the matching service at ${this.url} answered 200 with no JSON`, { cause: error })
    }
    const results = (json as { results?: unknown } | null)?.results
    if (!Array.isArray(results) || results.length !== chunk.length) {
      throw new CriticalError('MATCHER_PROTOCOL', `the matching service at ${this.url} answered ${Array.isArray(results) ? results.length : 'no'} results for ${chunk.length} probes`)
    }
    return results.map((result, i) => this.#matches(chunk[i]!, result))
  }

  #matches(probe: Prepared, result: unknown): KnownMatch[] {
    const r = result as { matches?: unknown; error?: unknown } | null
    // Malformed probes were left out before sending (they match nothing, as in process), so the
    // service refusing one it was sent means it reads probes otherwise than this client: say so
    // rather than answer "no match" for a media that may have matched.
    if (r !== null && typeof r === 'object' && typeof r.error === 'string' && r.matches === undefined) {
      throw new NonRetryableError('MATCHER_REFUSED_PROBE', `the matching service at ${this.url} refused the probe ${probe.wire.algorithm}:${probe.wire.hash} as malformed (${r.error.slice(0, 200)})`)
    }
    if (r === null || typeof r !== 'object' || !Array.isArray(r.matches)) throw this.#protocol('a result without matches')
    return r.matches.map((m: unknown) => {
      const x = m as Record<string, unknown> | null
      if (x === null || typeof x !== 'object') throw this.#protocol('a match that is not an object')
      const int = (key: string) => {
        if (typeof x[key] !== 'number' || !Number.isInteger(x[key])) throw this.#protocol(`a match whose ${key} is not an integer`)
        return x[key] as number
      }
      const str = (key: string) => {
        if (typeof x[key] !== 'string') throw this.#protocol(`a match whose ${key} is not a string`)
        return x[key] as string
      }
      const nullable = (key: string) => (x[key] === null || x[key] === undefined ? null : str(key))
      const algorithm = str('algorithm')
      if (!isAlgorithm(algorithm)) throw this.#protocol(`a match of an unknown algorithm "${algorithm.slice(0, 20)}"`)
      const classification = nullable('classification')
      if (classification !== null && !(LIST_CLASSIFICATIONS as readonly string[]).includes(classification)) throw this.#protocol(`a match of an unknown classification "${classification.slice(0, 40)}"`)
      const match: KnownMatch = {
        knownHashId: int('knownHashId'), listId: int('listId'), list: str('list'), listVersion: int('version'), algorithm,
        hash: str('hash'), distance: int('distance'), category: nullable('category'), externalId: nullable('externalId'),
        ...(classification === null ? {} : { classification: classification as ListClassification }),
        // An ignore list's match (it suppresses the media's other matches when recorded).
        ...(x.ignore === true ? { ignore: true } : {}),
      }
      if (Array.isArray(x.timestamps)) {
        if (!x.timestamps.every((t) => typeof t === 'number')) throw this.#protocol('a match whose timestamps are not numbers')
        const share = x.share === undefined || x.share === null ? undefined : typeof x.share === 'number' ? x.share : Number.NaN
        if (Number.isNaN(share)) throw this.#protocol('a match whose share is not a number')
        return { ...match, timestamps: x.timestamps as number[], ...(share === undefined ? {} : { share }) }
      }
      if (x.transform === undefined || x.transform === null) return match
      const transform = probe.dihedralAt[int('transform')]
      if (transform === undefined) throw this.#protocol('a match whose transform names no dihedral hash sent')
      return { ...match, transform }
    })
  }

  #protocol(what: string): CriticalError {
    return new CriticalError('MATCHER_PROTOCOL', `the matching service at ${this.url} answered ${what}`)
  }

  /** Exponential backoff with jitter (half fixed, half random), and never sooner than the service's Retry-After. */
  #delay(attempt: number, retryAfter: string | string[] | undefined): number {
    const cap = Math.min(this.#options.retryMaxMs, this.#options.retryBaseMs * 2 ** Math.min(attempt, 30))
    const backoff = cap / 2 + Math.random() * (cap / 2)
    if (retryAfter === undefined) return backoff
    const asked = retryAfterMs(retryAfter)
    // Spread the clients that were told the same moment.
    return Math.max(backoff, asked + Math.random() * Math.min(1000, asked / 5))
  }

  #unavailable(reason: string, delayMs: number): void {
    if (this.#outage !== undefined) return
    this.#outage = { since: Date.now(), reason }
    this.#logger?.warn({ url: this.url, reason, retryInMs: Math.round(delayMs) }, 'matching service unavailable: waiting for it (matching resumes when it answers)')
  }

  #recovered(): void {
    if (this.#outage === undefined) return
    const { since, reason } = this.#outage
    this.#outage = undefined
    this.#logger?.info({ url: this.url, reason, waitedMs: Date.now() - since }, 'matching service answering again')
  }

  #throwIfClosed(): void {
    if (this.#closing.signal.aborted) throw new CriticalError('MATCHER_CLOSED', `the client of the matching service at ${this.url} was closed while a match waited for it`)
  }
}

/** A 413 for several probes: split the call. */
class TooLarge extends Error {}

/** The probe as the batch endpoint takes it; undefined for a malformed one (it matches nothing, as in process). */
function prepare(probe: Probe, at: number): Prepared | undefined {
  if (probe.algorithm === 'vpdq') {
    // As in process: malformed frames and frames under no quality are left for the service to judge; none at all matches nothing.
    const frames = (probe.frames ?? []).flatMap((f) => {
      const n = normaliseHash('pdq', f.pdq)
      return 'error' in n ? [] : [{ pdq: n.hex, quality: f.quality, timestamp: f.timestamp }]
    })
    if (frames.length === 0) return undefined
    return { at, wire: { algorithm: 'vpdq', hash: /^[0-9a-f]{64}$/i.test(probe.hash) ? probe.hash.toLowerCase() : '', frames }, dihedralAt: [], weight: frames.length }
  }
  if (!isAlgorithm(probe.algorithm)) return undefined
  const norm = normaliseHash(probe.algorithm, probe.hash)
  if ('error' in norm) return undefined
  const wire: Prepared['wire'] = { algorithm: probe.algorithm, hash: norm.hex }
  if (probe.quality !== undefined) wire.quality = probe.quality
  const dihedralAt: number[] = []
  if (probe.algorithm === 'pdq' && probe.dihedral !== undefined && probe.dihedral.length > 0) {
    wire.dihedral = []
    probe.dihedral.forEach((hex, i) => {
      const d = normaliseHash('pdq', hex)
      if ('error' in d) return
      wire.dihedral!.push(d.hex)
      dihedralAt.push(i)
    })
  }
  return { at, wire, dihedralAt, weight: 1 + dihedralAt.length }
}

/** The `detail` of an error answer, on one line and short; the start of the body when it is not JSON. */
function readDetail(text: string): string {
  let detail = text
  try {
    const json = JSON.parse(text) as { detail?: unknown }
    if (typeof json?.detail === 'string') detail = json.detail
  } catch {
    // Not JSON (a proxy's page): its start says enough.
  }
  return detail.replace(/\s+/g, ' ').trim().slice(0, 300)
}
