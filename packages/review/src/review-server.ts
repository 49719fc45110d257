import { timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type AnalystRole, ArachnidError, ConfigError, type Database, type Kysely, type Logger, describeError } from '@arachnid/core'
import { AddressGuard } from '@arachnid/net'
import { type ReviewPolicy, loadReviewPolicy } from '@arachnid/matcher'
import { type AckLinks, type CreateNoticesOptions, type ProviderLookup, type Reporter, createAckHandler } from '@arachnid/notifier'
import { type Analyst, hasRole } from './analyst-accounts.js'
import { AUDIT_ACTIONS, appendAudit, listAudit } from './audit-log.js'
import { auditPage, layout, loginPage, policyPage, queuePage, statsPage } from './html-pages.js'
import { type PreviewLimits, MediaPreviewer } from './media-preview.js'
import { listReviewModes, parsePolicyChange, setListReview, updateReviewPolicy } from './policy-admin.js'
import { DecisionError, decide, isDecision } from './review-decisions.js'
import { ReviewMetrics } from './review-metrics.js'
import { type QueueFilters, itemEvidence, listQueue } from './review-queue.js'
import { reviewStats } from './review-stats.js'
import { type Session, SessionStore, csrfMatches } from './session-store.js'

export interface ReviewServerOptions {
  readonly db: Kysely<Database>
  /** Who sends the notices an analyst's confirmation creates. */
  readonly reporter: Reporter
  readonly logger?: Logger
  /** Hours a session lasts after its last request. Default 8. */
  readonly sessionHours?: number
  /** Mark the session cookie Secure (serve over HTTPS). Default false. */
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
}

export const DEFAULT_REVIEW_SERVER_OPTIONS = {
  sessionHours: 8,
  cookieSecure: false,
  metricsToken: '',
  previewLimits: { maxBytes: 32 * 1024 * 1024, maxPixels: 50_000_000, timeoutMs: 15_000, maxRedirects: 5, size: 320, blurSigma: 12 },
} as const

export const SESSION_COOKIE = 'arachnid_session'
const BODY_LIMIT = 64 * 1024

/** public: no session; page: redirect to /login without one; api: 401 JSON without one. */
export type RouteKind = 'public' | 'page' | 'api'

interface Context {
  readonly req: http.IncomingMessage
  readonly res: http.ServerResponse
  readonly url: URL
  readonly params: readonly string[]
  readonly session: Session | undefined
  readonly body: Record<string, unknown>
}

interface Route {
  readonly method: 'GET' | 'POST'
  readonly pattern: RegExp
  /** An example path, for documentation and for the test that every protected route refuses anonymous requests. */
  readonly example: string
  readonly kind: RouteKind
  readonly role?: AnalystRole
  readonly name: string
  readonly handle: (ctx: Context) => Promise<void>
}

/** A route as listed for documentation and tests. */
export interface RouteInfo {
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly kind: RouteKind
  readonly role: AnalystRole | null
}

class HttpError extends ArachnidError {
  readonly status: number
  constructor(status: number, code: string, message: string) {
    super(code, message)
    this.status = status
  }
}

/**
 * The session cookie's value, or undefined. Only our cookie is decoded: cookies are per host, not
 * per port, so other programs' cookies for 127.0.0.1 arrive too and are none of our business. A
 * value that is not valid percent-encoding is a 400 (BAD_COOKIE), never a 500.
 */
function sessionCookie(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i <= 0 || part.slice(0, i).trim() !== SESSION_COOKIE) continue
    try {
      return decodeURIComponent(part.slice(i + 1).trim())
    } catch {
      throw new HttpError(400, 'BAD_COOKIE', `the ${SESSION_COOKIE} cookie is malformed; it has been cleared, log in again`)
    }
  }
  return undefined
}

/** Largest id a route takes (ids are Postgres integers); larger ones name nothing. */
const MAX_ID = 2_147_483_647

/**
 * Checked query parameters: an absent or empty parameter is undefined; a present one that is not
 * what the route takes is a 400 (BAD_QUERY) naming the parameter, the value and what is allowed.
 */
const query = {
  id(p: URLSearchParams, name: string): number | undefined {
    const raw = p.get(name)
    if (raw === null || raw === '') return undefined
    const n = /^\d{1,10}$/.test(raw) ? Number(raw) : Number.NaN
    if (!(n >= 1 && n <= MAX_ID)) throw badQuery(name, raw, `a positive integer (an id, at most ${MAX_ID})`)
    return n
  },
  integer(p: URLSearchParams, name: string, min: number, max: number): number | undefined {
    const raw = p.get(name)
    if (raw === null || raw === '') return undefined
    const n = /^[+-]?\d{1,10}$/.test(raw) ? Number(raw) : Number.NaN
    if (!(n >= min && n <= max)) throw badQuery(name, raw, `an integer from ${min} to ${max}`)
    return n
  },
  choice<T extends string>(p: URLSearchParams, name: string, values: readonly T[]): T | undefined {
    const raw = p.get(name)
    if (raw === null || raw === '') return undefined
    if (!(values as readonly string[]).includes(raw)) throw badQuery(name, raw, `one of ${values.join(', ')}`)
    return raw as T
  },
  text(p: URLSearchParams, name: string, maxLength = 200): string | undefined {
    const raw = p.get(name)
    if (raw === null || raw === '') return undefined
    if (raw.length > maxLength) throw badQuery(name, `${raw.slice(0, 20)}...`, `at most ${maxLength} characters`)
    return raw
  },
}

function badQuery(name: string, value: string, expected: string): HttpError {
  return new HttpError(400, 'BAD_QUERY', `query parameter ${name}=${JSON.stringify(value)}: expected ${expected}`)
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts, which
  // would defeat the origin check; URLs still never leak to other sites.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
  'x-robots-tag': 'noindex',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  // Styles are inline (one small block per page, all text escaped); scripts come only from /static.
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
} as const

/**
 * The review server: the analysts' page and its JSON API, the provider acknowledgement page, a
 * health check and Prometheus metrics, in one node:http server on the review database.
 *
 * @example
 * const server = await ReviewServer.start({ db, reporter: { name: 'Arachnid', from: 'notices@example.org' } }, { port: 8080 })
 * console.log(server.url)
 */
export class ReviewServer {
  readonly metrics: ReviewMetrics
  readonly #o: ReviewServerOptions
  readonly #sessions: SessionStore
  readonly #previewer: MediaPreviewer
  readonly #routes: Route[]
  readonly #ack: http.RequestListener | undefined
  #server: http.Server | undefined
  #script: Promise<string> | undefined

  constructor(options: ReviewServerOptions) {
    this.#o = options
    this.#sessions = new SessionStore(options.db, { sessionHours: options.sessionHours ?? DEFAULT_REVIEW_SERVER_OPTIONS.sessionHours })
    this.#previewer = new MediaPreviewer(options.db, options.previewGuard ?? new AddressGuard(), { ...DEFAULT_REVIEW_SERVER_OPTIONS.previewLimits, ...options.previewLimits })
    this.metrics = new ReviewMetrics(options.db)
    this.#ack = options.ack ? createAckHandler({ db: options.db, links: options.ack }) : undefined
    this.#routes = this.#defineRoutes()
  }

  /** Starts a server; `port` 0 picks a free one. */
  static async start(options: ReviewServerOptions, listen: { readonly port?: number; readonly host?: string } = {}): Promise<ReviewServer> {
    const server = new ReviewServer(options)
    await server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1')
    return server
  }

  /** Every route with its kind and the role it needs. */
  get routes(): RouteInfo[] {
    const listed: RouteInfo[] = this.#routes.map((r) => ({ method: r.method, path: r.example, kind: r.kind, role: r.role ?? null }))
    if (this.#ack) listed.push({ method: 'GET', path: '/ack/<token>', kind: 'public', role: null }, { method: 'POST', path: '/ack/<token>', kind: 'public', role: null })
    return listed
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Listens; a port in use, a port not allowed or an address not on this machine is a ConfigError saying so. */
  async listen(port: number, host: string): Promise<void> {
    const server = http.createServer((req, res) => void this.#handle(req, res))
    server.headersTimeout = 20_000
    server.requestTimeout = 60_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, host, port)))
      server.listen(port, host, () => resolve())
    })
    this.#server = server
  }

  async close(): Promise<void> {
    this.#previewer.close()
    const server = this.#server
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  #defineRoutes(): Route[] {
    const db = this.#o.db
    const r = (method: Route['method'], path: string, example: string, kind: RouteKind, name: string, handle: Route['handle'], role?: AnalystRole): Route => ({
      method, pattern: new RegExp(`^${path}$`), example, kind, name, handle, role,
    })
    const mediaId = (ctx: Context) => {
      const id = Number(ctx.params[0])
      if (!Number.isSafeInteger(id) || id <= 0 || id > MAX_ID) throw new HttpError(404, 'NOT_FOUND', 'no such item')
      return id
    }
    const listId = (ctx: Context) => {
      const id = Number(ctx.params[0])
      if (!Number.isSafeInteger(id) || id <= 0 || id > MAX_ID) throw new HttpError(404, 'NOT_FOUND', 'no such list')
      return id
    }
    const analyst = (ctx: Context) => ctx.session!.analyst
    const actor = (ctx: Context) => ({ id: analyst(ctx).id, name: analyst(ctx).name })
    return [
      r('GET', '/healthz', '/healthz', 'public', 'health', async (ctx) => {
        await db.selectFrom('review_policy').select('id').execute()
        this.#json(ctx.res, 200, { ok: true })
      }),
      r('GET', '/login', '/login', 'public', 'login', async (ctx) => {
        if (ctx.session) return this.#redirect(ctx.res, '/queue')
        this.#html(ctx.res, 200, loginPage({ next: safeNext(ctx.url.searchParams.get('next')) }))
      }),
      r('POST', '/login', '/login', 'public', 'login', (ctx) => this.#login(ctx)),
      r('POST', '/logout', '/logout', 'page', 'logout', async (ctx) => {
        await this.#sessions.logout(sessionCookie(ctx.req.headers.cookie))
        await appendAudit(db, { actor: actor(ctx), action: 'logout' })
        ctx.res.setHeader('set-cookie', this.#cookie('', 0))
        if (wantsJson(ctx.req)) return this.#json(ctx.res, 200, { ok: true })
        this.#redirect(ctx.res, '/login')
      }),
      r('GET', '/', '/', 'page', 'home', async (ctx) => this.#redirect(ctx.res, '/queue')),
      r('GET', '/static/review\\.js', '/static/review.js', 'page', 'static', async (ctx) => {
        this.#script ??= readFile(new URL('../assets/review.js', import.meta.url), 'utf8')
        ctx.res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(await this.#script)
      }),
      r('GET', '/queue', '/queue', 'page', 'queue', async (ctx) => {
        const filters = queueFilters(ctx.url.searchParams)
        if (filters.escalated && !hasRole(analyst(ctx), 'supervisor')) throw new HttpError(403, 'FORBIDDEN', 'the escalated queue is for supervisors')
        const items = await listQueue(db, filters)
        const lists = (await listReviewModes(db)).map((l) => ({ id: l.id, name: l.name }))
        const providers = (await db.selectFrom('providers').select('name').orderBy('name').execute()).map((p) => p.name)
        this.#html(ctx.res, 200, queuePage(items, filters, { lists, providers }, analyst(ctx), ctx.session!.csrfToken))
      }),
      r('GET', '/audit', '/audit', 'page', 'audit', async (ctx) => {
        const entries = await listAudit(db, { before: auditBefore(ctx.url.searchParams), limit: 100 })
        this.#html(ctx.res, 200, auditPage(entries, analyst(ctx), ctx.session!.csrfToken, entries.length === 100 ? entries.at(-1)?.id : undefined))
      }, 'supervisor'),
      r('GET', '/stats', '/stats', 'page', 'stats', async (ctx) => {
        this.#html(ctx.res, 200, statsPage(await reviewStats(db), analyst(ctx), ctx.session!.csrfToken))
      }),
      r('GET', '/policy', '/policy', 'page', 'policy', async (ctx) => {
        this.#html(ctx.res, 200, policyPage(await loadReviewPolicy(db), await listReviewModes(db), analyst(ctx), ctx.session!.csrfToken))
      }, 'admin'),
      r('GET', '/metrics', '/metrics', 'api', 'metrics', async (ctx) => {
        ctx.res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(await this.metrics.registry.metrics())
      }),
      r('GET', '/api/me', '/api/me', 'api', 'me', async (ctx) => {
        this.#json(ctx.res, 200, { analyst: analyst(ctx), csrfToken: ctx.session!.csrfToken, expiresAt: ctx.session!.expiresAt })
      }),
      r('GET', '/api/queue', '/api/queue', 'api', 'queue', async (ctx) => {
        const filters = queueFilters(ctx.url.searchParams)
        if (filters.escalated && !hasRole(analyst(ctx), 'supervisor')) throw new HttpError(403, 'FORBIDDEN', 'the escalated queue is for supervisors')
        this.#json(ctx.res, 200, { items: await listQueue(db, filters) })
      }),
      r('GET', '/api/items/(\\d+)', '/api/items/1', 'api', 'item', async (ctx) => {
        const evidence = await itemEvidence(db, mediaId(ctx))
        if (!evidence) throw new HttpError(404, 'NOT_FOUND', 'no such item')
        this.#json(ctx.res, 200, evidence)
      }),
      r('POST', '/api/items/(\\d+)/decision', '/api/items/1/decision', 'api', 'decision', async (ctx) => {
        const decision = ctx.body.decision
        if (!isDecision(decision)) throw new HttpError(400, 'BAD_DECISION', 'decision must be confirm, reject or escalate')
        const reason = typeof ctx.body.reason === 'string' ? ctx.body.reason : undefined
        const result = await decide({ db, reporter: this.#o.reporter, lookup: this.#o.lookup, noticeOptions: this.#o.noticeOptions }, analyst(ctx), { mediaId: mediaId(ctx), decision, reason })
        this.metrics.decisions.inc({ decision, state: result.state })
        this.#json(ctx.res, 200, result)
      }),
      r('POST', '/api/items/(\\d+)/preview', '/api/items/1/preview', 'api', 'preview', (ctx) => this.#preview(ctx, mediaId(ctx))),
      r('GET', '/api/audit', '/api/audit', 'api', 'audit', async (ctx) => {
        const p = ctx.url.searchParams
        this.#json(ctx.res, 200, { entries: await listAudit(db, {
          before: auditBefore(p), actor: query.text(p, 'actor'), action: query.choice(p, 'action', AUDIT_ACTIONS),
          subject: query.text(p, 'subject'), limit: query.integer(p, 'limit', 1, 500),
        }) })
      }, 'supervisor'),
      r('GET', '/api/stats', '/api/stats', 'api', 'stats', async (ctx) => this.#json(ctx.res, 200, await reviewStats(db))),
      r('GET', '/api/policy', '/api/policy', 'api', 'policy', async (ctx) => this.#json(ctx.res, 200, { policy: await loadReviewPolicy(db), lists: await listReviewModes(db) })),
      r('POST', '/api/policy', '/api/policy', 'api', 'policy', async (ctx) => {
        const reason = typeof ctx.body.reason === 'string' ? ctx.body.reason : undefined
        const change = parsePolicyChange(ctx.body)
        this.#json(ctx.res, 200, { policy: await updateReviewPolicy(db, change, actor(ctx), reason), warnings: policyWarnings(change) })
      }, 'admin'),
      r('GET', '/api/lists', '/api/lists', 'api', 'lists', async (ctx) => this.#json(ctx.res, 200, { lists: await listReviewModes(db) })),
      r('POST', '/api/lists/(\\d+)/review', '/api/lists/1/review', 'api', 'list-review', async (ctx) => {
        const mode = typeof ctx.body.mode === 'string' ? ctx.body.mode as never : undefined
        const priority = ctx.body.priority === undefined || ctx.body.priority === '' ? undefined : Number(ctx.body.priority)
        const reason = typeof ctx.body.reason === 'string' ? ctx.body.reason : undefined
        this.#json(ctx.res, 200, { list: await setListReview(db, { id: listId(ctx) }, { mode, priority }, actor(ctx), reason) })
      }, 'admin'),
    ]
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v)
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://review.invalid')
    } catch {
      return this.#json(res, 400, { error: { code: 'BAD_URL', message: 'bad request line' } })
    }
    let routeName = 'unknown'
    res.on('finish', () => this.metrics.requests.inc({ route: routeName, status: `${Math.floor(res.statusCode / 100)}xx` }))
    try {
      if (this.#ack && url.pathname.startsWith('/ack/')) {
        routeName = 'ack'
        return this.#ack(req, res)
      }
      const method = req.method === 'HEAD' ? 'GET' : req.method
      let params: string[] = []
      const route = this.#routes.find((candidate) => {
        const m = candidate.method === method && candidate.pattern.exec(url.pathname)
        if (m) params = m.slice(1)
        return Boolean(m)
      })
      const isApi = url.pathname.startsWith('/api/') || url.pathname === '/metrics' || route?.kind === 'api'
      let token: string | undefined
      try {
        token = sessionCookie(req.headers.cookie)
      } catch (error) {
        // Cleared, so the browser's next request (the login page) works again.
        res.setHeader('set-cookie', this.#cookie('', 0))
        throw error
      }
      let session = route?.kind === 'public' && route.name === 'health' ? undefined : await this.#sessions.get(token)
      if (!session && url.pathname === '/metrics' && this.#metricsTokenOk(req)) session = METRICS_SESSION
      if (!route || route.kind !== 'public') {
        // Anything not public, known or not, needs a session first: an anonymous client learns nothing.
        if (!session) {
          routeName = route?.name ?? 'unknown'
          if (isApi) return this.#json(res, 401, { error: { code: 'UNAUTHENTICATED', message: 'log in first' } })
          return this.#redirect(res, `/login?next=${encodeURIComponent(safeNext(url.pathname + url.search))}`)
        }
      }
      if (!route) {
        const allowed = this.#routes.filter((r) => r.pattern.test(url.pathname)).map((r) => r.method)
        if (allowed.length > 0) return this.#json(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `use ${allowed.join(', ')}` } })
        return isApi ? this.#json(res, 404, { error: { code: 'NOT_FOUND', message: 'no such route' } }) : this.#html(res, 404, layout('Not found', ''))
      }
      routeName = route.name
      if (route.method === 'POST') {
        // Changes come from our own pages only: same origin (when the browser says), then the
        // session's CSRF token (header for the API, form field for pages). Login has no session
        // yet; the Origin check and SameSite=Strict cover it.
        if (!sameOrigin(req)) throw new HttpError(403, 'CSRF', 'cross-origin request refused')
      }
      const body = route.method === 'POST' ? await readBody(req) : {}
      if (route.method === 'POST' && route.kind !== 'public') {
        const given = req.headers['x-csrf-token'] ?? (typeof body._csrf === 'string' ? body._csrf : undefined)
        if (!csrfMatches(session!, Array.isArray(given) ? given[0] : given)) throw new HttpError(403, 'CSRF', 'missing or wrong CSRF token')
      }
      if (route.role && session && !hasRole(session.analyst, route.role)) throw new HttpError(403, 'FORBIDDEN', `needs the ${route.role} role`)
      if (session === METRICS_SESSION && route.name !== 'metrics') throw new HttpError(401, 'UNAUTHENTICATED', 'log in first')
      await route.handle({ req, res, url, params, session, body })
    } catch (error) {
      this.#fail(res, url, error)
    }
  }

  async #login(ctx: Context): Promise<void> {
    const { body, res } = ctx
    const name = typeof body.name === 'string' ? body.name.trim() : ''
    const password = typeof body.password === 'string' ? body.password : ''
    const next = safeNext(typeof body.next === 'string' ? body.next : undefined)
    const json = wantsJson(ctx.req)
    const refuse = (status: number, message: string) => (json
      ? this.#json(res, status, { error: { code: status === 429 ? 'LOCKED_OUT' : 'BAD_LOGIN', message } })
      : this.#html(res, status, loginPage({ error: message, next })))
    if (!name || !password || name.length > 64 || password.length > 1024) return refuse(400, 'Name and password are required.')
    if (this.#sessions.lockedOut(name)) {
      this.metrics.logins.inc({ outcome: 'locked' })
      return refuse(429, 'Too many failed attempts; try again later.')
    }
    const opened = await this.#sessions.login(name, password)
    if (!opened) {
      this.metrics.logins.inc({ outcome: 'failed' })
      await appendAudit(this.#o.db, { actor: { id: null, name }, action: 'login-failed', detail: { ip: ctx.req.socket.remoteAddress ?? null } })
      return refuse(401, 'Wrong name or password.')
    }
    this.metrics.logins.inc({ outcome: 'ok' })
    await appendAudit(this.#o.db, { actor: { id: opened.session.analyst.id, name: opened.session.analyst.name }, action: 'login', detail: { ip: ctx.req.socket.remoteAddress ?? null } })
    res.setHeader('set-cookie', this.#cookie(opened.token, (this.#o.sessionHours ?? DEFAULT_REVIEW_SERVER_OPTIONS.sessionHours) * 3600))
    if (json) return this.#json(res, 200, { analyst: opened.session.analyst, csrfToken: opened.session.csrfToken })
    this.#redirect(res, next)
  }

  async #preview(ctx: Context, mediaId: number): Promise<void> {
    const obscure = ctx.body.obscure !== false && ctx.body.obscure !== 'false'
    const source = await this.#previewer.sourceOf(mediaId)
    if (!source) throw new HttpError(404, 'NOT_FOUND', 'no URL to preview this media from')
    // Logged before the fetch: asking to see the material is the act that is audited.
    const reason = typeof ctx.body.reason === 'string' ? ctx.body.reason : undefined
    await appendAudit(this.#o.db, { actor: { id: ctx.session!.analyst.id, name: ctx.session!.analyst.name }, action: 'preview', subject: `media:${mediaId}`, reason, detail: { url: source.url, obscured: obscure } })
    try {
      const preview = await this.#previewer.preview(mediaId, { obscure })
      this.metrics.previews.inc({ outcome: 'ok', obscured: String(obscure) })
      ctx.res.writeHead(200, {
        'content-type': 'image/png', 'content-length': preview.png.length, 'content-disposition': 'inline',
        'x-arachnid-source': encodeURI(preview.url), 'x-arachnid-same-content': String(preview.sameContent), 'x-arachnid-obscured': String(obscure),
      }).end(preview.png)
    } catch (error) {
      this.metrics.previews.inc({ outcome: 'failed', obscured: String(obscure) })
      const { code, message } = describeError(error)
      throw new HttpError(502, code, `the source could not be previewed: ${message}`)
    }
  }

  #metricsTokenOk(req: http.IncomingMessage): boolean {
    const token = this.#o.metricsToken ?? DEFAULT_REVIEW_SERVER_OPTIONS.metricsToken
    if (!token) return false
    const given = Buffer.from(req.headers.authorization ?? '')
    const expected = Buffer.from(`Bearer ${token}`)
    return given.length === expected.length && timingSafeEqual(given, expected)
  }

  #cookie(value: string, maxAgeSeconds: number): string {
    const secure = this.#o.cookieSecure ?? DEFAULT_REVIEW_SERVER_OPTIONS.cookieSecure
    return `${SESSION_COOKIE}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`
  }

  #fail(res: http.ServerResponse, url: URL, error: unknown): void {
    const status = error instanceof HttpError || error instanceof DecisionError ? error.status
      : error instanceof ArachnidError && !error.retryable && error.code !== 'MIGRATION' ? 400 : 500
    const { code, message } = describeError(error)
    if (status >= 500) this.#o.logger?.error({ err: error, path: url.pathname }, 'review request failed')
    if (res.headersSent) return void res.destroy()
    // An unexpected failure says nothing of its cause (a database error code, a library message): that is in the log.
    const internal = status >= 500 && !(error instanceof HttpError)
    const shown = internal ? 'internal error' : message
    if (url.pathname.startsWith('/api/') || url.pathname === '/metrics') return this.#json(res, status, { error: { code: internal ? 'INTERNAL' : code, message: shown } })
    this.#html(res, status, layout('Error', `<p class="flash error">${shown.replace(/[<>&]/g, '')}</p>`))
  }

  #json(res: http.ServerResponse, status: number, value: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(value))
  }

  #html(res: http.ServerResponse, status: number, html: string): void {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(html)
  }

  #redirect(res: http.ServerResponse, location: string): void {
    res.writeHead(303, { location }).end()
  }
}

/** Stands for a Prometheus scraper that presented the metrics token: good for /metrics only. */
const METRICS_SESSION: Session = { analyst: { id: 0, name: 'metrics-token', role: 'analyst' }, csrfToken: '', expiresAt: new Date(0) }

function wantsJson(req: http.IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').includes('application/json') || (req.headers.accept ?? '').includes('application/json')
}

/** A local path to go to after login; anything else (other sites, protocol-relative) becomes /queue. */
function safeNext(value: string | null | undefined): string {
  return value && /^\/(?![/\\])/.test(value) && !value.startsWith('/login') ? value : '/queue'
}

function sameOrigin(req: http.IncomingMessage): boolean {
  const origin = req.headers.origin
  const site = req.headers['sec-fetch-site']
  if (site && site !== 'same-origin' && site !== 'none') return false
  if (!origin) return true
  if (origin === 'null') return site === 'same-origin'
  try {
    return new URL(origin).host === req.headers.host
  } catch {
    return false
  }
}

function queueFilters(p: URLSearchParams): QueueFilters {
  return { listId: query.id(p, 'list'), jobId: query.id(p, 'job'), provider: query.text(p, 'provider'), escalated: query.choice(p, 'queue', ['supervisors'] as const) === 'supervisors' }
}

/** The audit log's paging cursor: an entry id (a bigint). */
function auditBefore(p: URLSearchParams): string | undefined {
  const raw = p.get('before')
  if (raw === null || raw === '') return undefined
  if (!/^\d{1,18}$/.test(raw) || /^0+$/.test(raw)) throw badQuery('before', raw, 'an audit entry id (a positive integer)')
  return raw
}

/** Allowed but probably mistaken policy values, in words (as `arachnid analysts policy` warns). */
function policyWarnings(change: Partial<ReviewPolicy>): string[] {
  return (['autoPdqDistance', 'autoBlockhashDistance'] as const).filter((k) => (change[k] ?? 0) > 64)
    .map((k) => `${k} ${change[k]} is above 64: distances that large match unrelated images`)
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`
  switch (error.code) {
    case 'EADDRINUSE': return new ConfigError(`cannot listen on ${where}: the port is in use (choose another with --port or ARACHNID_SERVE_PORT; 0 picks a free one)`, { cause: error })
    case 'EACCES': return new ConfigError(`cannot listen on ${where}: not allowed (ports below 1024 need privileges; choose another with --port)`, { cause: error })
    case 'EADDRNOTAVAIL': return new ConfigError(`cannot listen on ${where}: ${host} is not an address of this machine (see --host or ARACHNID_SERVE_HOST)`, { cause: error })
    case 'ENOTFOUND': case 'EAI_AGAIN': return new ConfigError(`cannot listen on ${where}: ${host} does not resolve (see --host or ARACHNID_SERVE_HOST)`, { cause: error })
    default: return error
  }
}

async function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > BODY_LIMIT) throw new HttpError(413, 'TOO_LARGE', 'request body too large')
    chunks.push(chunk as Buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text === '') return {}
  const type = req.headers['content-type'] ?? ''
  if (type.includes('application/json')) {
    try {
      const value: unknown = JSON.parse(text)
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object')
      return value as Record<string, unknown>
    } catch {
      throw new HttpError(400, 'BAD_JSON', 'the body is not a JSON object')
    }
  }
  if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text))
  throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send JSON or a form')
}
