import type { AddressInfo } from 'node:net'
import { type AnalystRole, type Database, type Kysely, type Logger, SETTINGS, withDefaults } from '@arachnid/core'
import { AddressGuard } from '@arachnid/net'
import type { RetroHuntScope } from '@arachnid/matcher'
import type { AckLinks, CreateNoticesOptions, ProviderLookup, Reporter } from '@arachnid/notifier'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { RouteKind } from './access-control.js'
import { LoginThrottle } from './login-throttle.js'
import { type PreviewLimits, MediaPreviewer } from './media-preview.js'
import { ReviewMetrics } from './review-metrics.js'
import { SessionStore } from './session-store.js'

export type { RouteKind } from './access-control.js'

export interface ReviewServerOptions {
  readonly db: Kysely<Database>
  /** Who sends the notices an analyst's confirmation creates. */
  readonly reporter: Reporter
  /** Fastify logs through it; a failed request (a 500) is logged here. Default: a new pino logger on stderr. */
  readonly logger?: Logger
  /** Hours a session lasts after its last request. Default: the setting's (ARACHNID_SESSION_HOURS). */
  readonly sessionHours?: number
  /** Mark the session cookie Secure (serve over HTTPS). Default: the setting's (ARACHNID_COOKIE_SECURE). */
  readonly cookieSecure?: boolean
  /** Bearer token accepted on /metrics instead of a session. Default: none (a session is needed). */
  readonly metricsToken?: string
  /** Signed acknowledgement links: when given, the provider acknowledgement page is mounted at /ack/. */
  readonly ack?: AckLinks
  /** Options for the notices a confirmation creates (ack links, templates, recheck interval). */
  readonly noticeOptions?: CreateNoticesOptions
  /** Provider lookup for those notices. Default: the local provider directory. */
  readonly lookup?: ProviderLookup
  /** The address guard of preview fetches. Default: public addresses only. */
  readonly previewGuard?: AddressGuard
  /** Bounds of preview fetches. Defaults in DEFAULT_REVIEW_SERVER_OPTIONS. */
  readonly previewLimits?: Partial<PreviewLimits>
  /** Failed logins per account name, and the window they are counted in. Defaults in DEFAULT_REVIEW_SERVER_OPTIONS. */
  readonly loginLockout?: { readonly maxFailures?: number; readonly windowMinutes?: number }
  /** Login attempts per client address (any name) per window, per process. */
  readonly loginRateLimit?: { readonly max: number; readonly windowMs: number }
  /** Live previews per analyst per window, per process (each is a fetch from the web). */
  readonly previewRateLimit?: { readonly max: number; readonly windowMs: number }
  /**
   * Runs the retro-hunt over the list entries a classified suspect added (the CLI's runRetroHunt:
   * live rechecks, notices, delivery). Started after the classification is answered; `close()`
   * aborts the ones still running (their entries stay; `lists hunt` looks again). Without it, a
   * classification adds the entries and hunts nothing.
   */
  readonly retroHunt?: (scope: RetroHuntScope, signal: AbortSignal) => Promise<unknown>
}

/**
 * The review server's defaults: the ones that are settings come from `SETTINGS` (one declaration
 * for the CLI, the environment and this class); the rest are the server's own.
 */
export const DEFAULT_REVIEW_SERVER_OPTIONS = {
  sessionHours: SETTINGS.sessionHours.default,
  cookieSecure: SETTINGS.cookieSecure.default,
  metricsToken: SETTINGS.metricsToken.default,
  previewLimits: {
    maxBytes: SETTINGS.maxMediaBytes.default,
    maxPixels: SETTINGS.maxPixels.default,
    timeoutMs: SETTINGS.requestTimeoutMs.default,
    maxRedirects: SETTINGS.maxRedirects.default,
    size: 320,
    blurSigma: 12,
  },
  loginLockout: { maxFailures: 5, windowMinutes: 15 },
  loginRateLimit: { max: 30, windowMs: 60_000 },
  previewRateLimit: { max: 60, windowMs: 60_000 },
} as const

/** A route as listed for documentation and tests. */
export interface RouteInfo {
  readonly method: 'GET' | 'POST'
  /** A path that reaches it (parameters filled in: /api/items/1, /ack/<token>). */
  readonly path: string
  readonly kind: RouteKind
  readonly role: AnalystRole | null
}

/**
 * The review server: the analysts' page and its JSON API, the provider acknowledgement page, a
 * health check, Prometheus metrics and the API's OpenAPI document, on Fastify (@arachnid/web) and
 * the review database.
 *
 * @example
 * const server = await ReviewServer.start({ db, reporter: { name: 'Arachnid', from: 'notices@example.org' } }, { port: 8080 })
 * console.log(server.url)
 * // in tests, without a socket:
 * const server = await ReviewServer.create({ db, reporter })
 * const response = await server.inject({ url: '/healthz' })
 */
export class ReviewServer {
  readonly metrics: ReviewMetrics
  readonly #app: FastifyInstance
  readonly #previewer: MediaPreviewer
  readonly #hunts: RetroHunts
  #port = 0

  private constructor(app: FastifyInstance, metrics: ReviewMetrics, previewer: MediaPreviewer, hunts: RetroHunts) {
    this.#app = app
    this.metrics = metrics
    this.#previewer = previewer
    this.#hunts = hunts
  }

  /** Builds a server that is ready but not listening: requests go through `inject`. */
  static async create(options: ReviewServerOptions): Promise<ReviewServer> {
    const o = withDefaults(DEFAULT_REVIEW_SERVER_OPTIONS, options)
    const metrics = new ReviewMetrics(options.db)
    const previewer = new MediaPreviewer(options.db, options.previewGuard ?? new AddressGuard(), withDefaults(DEFAULT_REVIEW_SERVER_OPTIONS.previewLimits, options.previewLimits ?? {}))
    // The web framework is loaded by a server only: importing @arachnid/review (the CLI's
    // `analysts` commands do) does not load Fastify.
    const { buildReviewApp } = await import('./review-app.js')
    const hunts = new RetroHunts(options.retroHunt, options.logger)
    try {
      const app = await buildReviewApp({
        db: options.db, metrics, previewer, startRetroHunt: options.retroHunt && ((scope) => hunts.start(scope)),
        sessions: new SessionStore(options.db, { sessionHours: o.sessionHours }),
        throttle: new LoginThrottle(options.db, withDefaults(DEFAULT_REVIEW_SERVER_OPTIONS.loginLockout, options.loginLockout ?? {})),
        notices: { reporter: options.reporter, lookup: options.lookup, options: options.noticeOptions },
        sessionHours: o.sessionHours, cookieSecure: o.cookieSecure, metricsToken: o.metricsToken, ack: options.ack,
        loginRateLimit: o.loginRateLimit, previewRateLimit: o.previewRateLimit,
      }, options.logger)
      return new ReviewServer(app, metrics, previewer, hunts)
    } catch (error) {
      previewer.close()
      throw error
    }
  }

  /** Starts a server on 127.0.0.1 (or `host`); `port` 0 picks a free one. */
  static async start(options: ReviewServerOptions, listen: { readonly port?: number; readonly host?: string } = {}): Promise<ReviewServer> {
    const server = await ReviewServer.create(options)
    try {
      await server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1')
    } catch (error) {
      await server.close()
      throw error
    }
    return server
  }

  /** Every route with its kind and the role it needs (from the app's route table). */
  get routes(): RouteInfo[] {
    return this.#app.routeTable.filter((r) => r.method === 'GET' || r.method === 'POST').map((r) => ({
      method: r.method as RouteInfo['method'],
      path: typeof r.config.example === 'string' ? r.config.example : r.url.replace(/:\w+/g, '1'),
      kind: (r.config.access as RouteKind | undefined) ?? 'api',
      role: (r.config.role as AnalystRole | undefined) ?? null,
    }))
  }

  get port(): number {
    return this.#port
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`
  }

  /** A request straight into the app (Fastify's inject): for tests that need no socket. */
  inject(options: InjectOptions | string): Promise<LightMyRequestResponse> {
    return this.#app.inject(options)
  }

  /** Listens; a port in use, a port not allowed or an address not on this machine is a ConfigError saying so. */
  async listen(port: number, host: string): Promise<void> {
    const { listen } = await import('@arachnid/web')
    await listen(this.#app, { port, host, portHint: '--port or ARACHNID_SERVE_PORT', hostHint: '--host or ARACHNID_SERVE_HOST' })
    this.#port = (this.#app.server.address() as AddressInfo).port
  }

  /** Resolves once every retro-hunt started by a classification has ended (for tests and orderly stops). */
  huntsSettled(): Promise<void> {
    return this.#hunts.settled()
  }

  async close(): Promise<void> {
    this.#previewer.close()
    await this.#app.close()
    await this.#hunts.stop()
  }
}

/** The retro-hunts classifications started: each runs on after its request; stopping aborts and waits for them. */
class RetroHunts {
  readonly #run: ((scope: RetroHuntScope, signal: AbortSignal) => Promise<unknown>) | undefined
  readonly #logger: Logger | undefined
  readonly #running = new Set<Promise<void>>()
  readonly #abort = new AbortController()

  constructor(run: ((scope: RetroHuntScope, signal: AbortSignal) => Promise<unknown>) | undefined, logger: Logger | undefined) {
    this.#run = run
    this.#logger = logger
  }

  start(scope: RetroHuntScope): void {
    if (!this.#run || this.#abort.signal.aborted) return
    const running: Promise<void> = this.#run(scope, this.#abort.signal).then(() => {}, (error: unknown) => {
      // Recorded either way (retro_hunts): the entries are in the list; `lists hunt NAME` looks for their copies again.
      if (this.#abort.signal.aborted) this.#logger?.warn({ list: scope.listId }, 'the retro-hunt of a classification was interrupted by the stop; run `arachnid lists hunt` for that list')
      else this.#logger?.error({ err: error, list: scope.listId }, 'the retro-hunt of a classification failed; run `arachnid lists hunt` for that list')
    }).finally(() => { this.#running.delete(running) })
    this.#running.add(running)
  }

  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running])
  }

  async stop(): Promise<void> {
    this.#abort.abort()
    await this.settled()
  }
}
