import type { AddressInfo } from 'node:net'
import { type Database, type Kysely, type Logger, SETTINGS, withDefaults } from '@arachnid/core'
import { Hasher } from '@arachnid/hasher'
import { VideoHasher } from '@arachnid/video'
import { Matcher } from '@arachnid/matcher'
import { CoalescingMatcher } from './coalescing-matcher.js'
import { AddressGuard, BoundedFetcher } from '@arachnid/net'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { AuditWriter, TokenBuckets, UserDirectory } from './access.js'
import { ApiMetrics } from './api-metrics.js'

export interface ApiServerOptions {
  readonly db: Kysely<Database>
  /** The matcher to hold (injected: not owned). Default: a new one on `db` with the default thresholds. */
  readonly matcher?: Matcher
  /** Fastify logs through it; failed requests (500s) and failed refreshes are logged here. */
  readonly logger?: Logger
  /** Probes (or PDQ hashes) per call at most. Default ARACHNID_API_MAX_BATCH's. */
  readonly maxBatch?: number
  /** Requests per second of a user without its own rate. Default ARACHNID_API_RATE's. */
  readonly defaultRate?: number
  /** Hashes and media per UTC day of a user without its own quota. Default ARACHNID_API_DAILY_QUOTA's. */
  readonly defaultQuota?: number
  /** Bytes of one media (a larger /v1/media/ body is a 413 before it is read). Default ARACHNID_MAX_MEDIA_BYTES's. */
  readonly maxMediaBytes?: number
  /** Bytes of one video on /v1/media/ and /v1/url/. Default ARACHNID_MAX_VIDEO_BYTES's. */
  readonly maxVideoBytes?: number
  /** Wall time to decode one video (ffmpeg is killed after it). Default ARACHNID_VIDEO_TIMEOUT_MS's. */
  readonly videoTimeoutMs?: number
  /** Seconds of one video at most (longer ones are refused, TOO_LONG). Default ARACHNID_MAX_VIDEO_SECONDS's. */
  readonly maxVideoSeconds?: number
  /** Pixels of one image, checked from its header before decoding. Default ARACHNID_MAX_PIXELS's. */
  readonly maxPixels?: number
  /** Time for one /v1/url/ fetch, in ms. Default ARACHNID_REQUEST_TIMEOUT_MS's. */
  readonly fetchTimeoutMs?: number
  /** Redirects one /v1/url/ fetch follows. Default ARACHNID_MAX_REDIRECTS's. */
  readonly maxRedirects?: number
  /** Who /v1/url/ may fetch from. Default: public addresses only. */
  readonly guard?: AddressGuard
  /** How often the index follows the change log, whether or not calls arrive. Default 250 ms. */
  readonly refreshIntervalMs?: number
  /** A request body must arrive within this long, plus 1 s per 64 KiB; slower is a 408. Default 5000 ms. */
  readonly bodyTimeoutMs?: number
  /** Failed authentications per client address per second before they are refused with 429 (each may cost a scrypt, ~100 ms of CPU). Default 5. */
  readonly authFailureRate?: number
  /** Matching calls under way at once, at most; more are refused with 429 and Retry-After. Default 64. */
  readonly maxInFlight?: number
}

/** The defaults, in one place: the settings' from SETTINGS, the rest the service's own. */
export const DEFAULT_API_SERVER_OPTIONS = {
  maxBatch: SETTINGS.apiMaxBatch.default,
  defaultRate: SETTINGS.apiRate.default,
  defaultQuota: SETTINGS.apiDailyQuota.default,
  maxMediaBytes: SETTINGS.maxMediaBytes.default,
  maxVideoBytes: SETTINGS.maxVideoBytes.default,
  videoTimeoutMs: SETTINGS.videoTimeoutMs.default,
  maxVideoSeconds: SETTINGS.maxVideoSeconds.default,
  maxPixels: SETTINGS.maxPixels.default,
  fetchTimeoutMs: SETTINGS.requestTimeoutMs.default,
  maxRedirects: SETTINGS.maxRedirects.default,
  refreshIntervalMs: 250,
  bodyTimeoutMs: 5000,
  authFailureRate: 5,
  maxInFlight: 64,
  /** Bytes of JSON per probe allowed on the batch endpoint (an object probe with 8 dihedral hashes is ~700). */
  jsonBytesPerProbe: 1024,
  /** How often the users are read again (a disabled one is refused within this) and the audit written. */
  housekeepingMs: 1000,
} as const

/**
 * The matching service: one Matcher kept fresh from the change log on a timer (a new or retracted
 * hash holds within `refreshIntervalMs` even when no call arrives; a refresh never stops answering),
 * Arachnid Shield's v1 endpoints, the batch endpoint, /healthz (200 once the index is loaded),
 * /metrics and /openapi.json, on Fastify (@arachnid/web). Until the index is loaded every matching
 * endpoint answers 503 with Retry-After: never "no known match" from a partial index.
 *
 * @example
 * const server = await ApiServer.start({ db }, { port: 8090 })
 * await server.loaded // the index is in
 * // in tests, without a socket:
 * const server = await ApiServer.create({ db })
 * const response = await server.inject({ method: 'POST', url: '/v1/pdq/', payload: { hashes: [] }, headers: { authorization } })
 */
export class ApiServer {
  readonly metrics: ApiMetrics
  /** Resolves once the index is loaded (the first refresh of the matcher); never rejects (a failed load is retried). */
  readonly loaded: Promise<void>
  readonly #app: FastifyInstance
  readonly #hasher: Hasher
  readonly #videoHasher: VideoHasher
  readonly #fetcher: BoundedFetcher
  readonly #audit: AuditWriter
  readonly #timers: NodeJS.Timeout[] = []
  #closed = false

  private constructor(parts: { app: FastifyInstance; metrics: ApiMetrics; hasher: Hasher; videoHasher: VideoHasher; fetcher: BoundedFetcher; audit: AuditWriter; loaded: Promise<void>; timers: NodeJS.Timeout[] }) {
    this.#app = parts.app
    this.metrics = parts.metrics
    this.#hasher = parts.hasher
    this.#videoHasher = parts.videoHasher
    this.#fetcher = parts.fetcher
    this.#audit = parts.audit
    this.loaded = parts.loaded
    this.#timers = parts.timers
  }

  /** Builds the service (ready for `inject`, not listening) and starts loading the index. */
  static async create(options: ApiServerOptions): Promise<ApiServer> {
    const o = withDefaults(DEFAULT_API_SERVER_OPTIONS, options)
    const matcher = options.matcher ?? new Matcher(options.db)
    const logger = options.logger
    let ready = false
    const metrics = new ApiMetrics(matcher, () => ready)
    const hasher = new Hasher({ maxBytes: o.maxMediaBytes, maxPixels: o.maxPixels, dihedral: true })
    // Videos are decoded by Debian's ffmpeg (one at a time: each ffmpeg uses several threads).
    const videoHasher = new VideoHasher({ maxBytes: o.maxVideoBytes, maxPixels: o.maxPixels, maxWallMs: o.videoTimeoutMs, maxDurationSeconds: o.maxVideoSeconds })
    const fetcher = new BoundedFetcher(options.guard ?? new AddressGuard())
    const users = new UserDirectory(options.db, { rate: o.defaultRate, quota: o.defaultQuota })
    const audit = new AuditWriter(options.db, logger)
    // The web framework is loaded by a server only: the CLI's `api users` commands import this package without it.
    const { buildApiApp } = await import('./api-app.js')
    // Calls that arrive while the index is searching are answered together in its next pass.
    const coalescing = new CoalescingMatcher(matcher)
    const app = await buildApiApp({
      db: options.db, matcher: { match: (probes) => coalescing.match(probes), stats: () => matcher.stats() }, hasher, videoHasher, fetcher, users, audit, metrics, logger,
      buckets: new TokenBuckets(),
      fetchOptions: {
        maxBytes: o.maxMediaBytes, timeoutMs: o.fetchTimeoutMs, maxRedirects: o.maxRedirects,
        // A video's own bound when the server says video/* (the bytes decide what it is once here).
        maxBytesFor: (headers) => (String(headers['content-type'] ?? '').toLowerCase().startsWith('video/') ? Math.max(o.maxMediaBytes, o.maxVideoBytes) : o.maxMediaBytes),
      },
      ready: () => ready,
      maxBatch: o.maxBatch, maxMediaBytes: o.maxMediaBytes, maxVideoBytes: o.maxVideoBytes,
      jsonBodyLimit: Math.max(64 * 1024, o.maxBatch * o.jsonBytesPerProbe),
      bodyTimeoutMs: o.bodyTimeoutMs, authFailureRate: o.authFailureRate,
      maxInFlight: o.maxInFlight, inFlight: { count: 0 },
    }, logger)

    let closed = false
    const timers: NodeJS.Timeout[] = []
    const loaded = (async () => {
      for (let attempt = 0; !closed; attempt++) {
        try {
          await users.reload()
          await matcher.refresh()
          ready = true
          return
        } catch (error) {
          logger?.error({ err: error }, 'loading the index failed; trying again')
          await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)).unref())
        }
      }
    })()
    // Fresh without calls: the matcher polls the change log only when a call asks, so a new hash
    // would wait for the next call; here every interval applies what was committed. One at a time.
    let refreshing = false
    timers.push(setInterval(() => {
      if (!ready || refreshing) return
      refreshing = true
      matcher.refresh().catch((error: unknown) => logger?.warn({ err: error }, 'index refresh failed; the next one tries again')).finally(() => { refreshing = false })
    }, o.refreshIntervalMs))
    timers.push(setInterval(() => {
      void audit.flush()
      if (ready) users.reload().catch((error: unknown) => logger?.warn({ err: error }, 'reading the API users failed; the next read tries again'))
    }, o.housekeepingMs))
    for (const t of timers) t.unref()
    const server = new ApiServer({ app, metrics, hasher, videoHasher, fetcher, audit, loaded, timers })
    server.#stopLoading = () => { closed = true }
    return server
  }

  /** Starts the service on 127.0.0.1 (or `host`); `port` 0 picks a free one. Answers 503 until `loaded`. */
  static async start(options: ApiServerOptions, listen: { readonly port?: number; readonly host?: string } = {}): Promise<ApiServer> {
    const server = await ApiServer.create(options)
    try {
      await server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1')
    } catch (error) {
      await server.close()
      throw error
    }
    return server
  }

  #stopLoading: () => void = () => {}
  #port = 0

  get port(): number {
    return this.#port
  }

  /** Every route with its method and URL (for documentation and tests). */
  get routes(): { method: string; url: string }[] {
    return this.#app.routeTable.map((r) => ({ method: r.method, url: r.url }))
  }

  /** A request straight into the app (Fastify's inject): for tests that need no socket. */
  inject(options: InjectOptions | string): Promise<LightMyRequestResponse> {
    return this.#app.inject(options)
  }

  /** Writes the audit rows gathered so far (they are written every second anyway). */
  flushAudit(): Promise<void> {
    return this.#audit.flush()
  }

  /** Listens; a port in use, not allowed, or an address not of this machine is a one-line ConfigError. */
  async listen(port: number, host: string): Promise<void> {
    const { listen } = await import('@arachnid/web')
    await listen(this.#app, { port, host, portHint: '--port or ARACHNID_API_PORT', hostHint: '--host or ARACHNID_API_HOST' })
    this.#port = (this.#app.server.address() as AddressInfo).port
  }

  /** Stops answering, writes the last audit rows and ends what it owns (hasher, fetcher; not the matcher or database). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#stopLoading()
    for (const t of this.#timers) clearInterval(t)
    await this.#app.close()
    await this.#audit.flush()
    await this.#hasher.close()
    await this.#videoHasher.close()
    this.#fetcher.close()
  }
}
