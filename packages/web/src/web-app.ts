import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import { type Logger, createLogger } from '@arachnid/core'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { SafeHtml, sendHtml } from './html.js'
import { HttpError, type Problem, problemOf } from './http-problem.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The error code a schema-validation failure of this route answers with (default BAD_QUERY / BAD_REQUEST). */
    badRequestCode?: string
  }
  interface FastifyInstance {
    /** Every route registered on the app (HEAD twins left out), in order: for documentation and for tests that walk them. */
    readonly routeTable: readonly RouteEntry[]
  }
}

/** A registered route: its method, URL pattern (`/api/items/:mediaId`) and config. */
export interface RouteEntry {
  readonly method: string
  readonly url: string
  readonly config: Readonly<Record<string, unknown>>
}

/**
 * The body a failed request answers with, per server: the review API says
 * `{"error":{"code","message"}}` and its pages an HTML page; the matching service will say
 * `{"detail": "..."}`. A `SafeHtml` result is sent as a page, anything else as JSON.
 */
export type ErrorShape = (problem: Problem, request: FastifyRequest) => unknown

/** `{"error": {"code": "...", "message": "..."}}`: the default error shape. */
export const errorObject: ErrorShape = (problem) => ({ error: { code: problem.code, message: problem.message } })

export interface WebAppOptions {
  /** Our pino logger; Fastify logs through it (so tests read what it wrote). Default: a new one on stderr. */
  readonly logger?: Logger
  /** The body of every error response. Default `errorObject`. */
  readonly errorShape?: ErrorShape
  /** Content-Security-Policy directives. Default DEFAULT_WEB_APP_OPTIONS.contentSecurityPolicy (scripts from this origin only, nothing framed). */
  readonly contentSecurityPolicy?: Readonly<Record<string, readonly string[]>>
  /** Largest request body, in bytes (larger: 413 TOO_LARGE). Default 64 KiB. */
  readonly bodyLimit?: number
  /**
   * Opt in to an OpenAPI 3.1 document built from the routes' JSON schemas (@fastify/swagger),
   * served at `path` (default /openapi.json) with `routeConfig` as that route's config (e.g.
   * who may read it). Routes with `schema.hide` are left out.
   */
  /**
   * What an unknown route answers (after the app's hooks have run, so a gate in front of
   * everything covers unknown paths too). Default: 404 NOT_FOUND in the error shape.
   */
  readonly notFound?: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>
  readonly openapi?: { readonly title: string; readonly version: string; readonly description?: string; readonly path?: string; readonly routeConfig?: Record<string, unknown> }
}

export const DEFAULT_WEB_APP_OPTIONS = {
  bodyLimit: 64 * 1024,
  contentSecurityPolicy: {
    'default-src': ["'none'"],
    'script-src': ["'self'"],
    // Styles are inline (one small block per page); everything a page shows is escaped text.
    'style-src': ["'unsafe-inline'"],
    'img-src': ["'self'", 'blob:'],
    'connect-src': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    'base-uri': ["'none'"],
  },
  /** Node's limits for the client: headers within 20 s, the whole request within 60 s. */
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 60_000,
} as const

/**
 * A Fastify 5 app as every Arachnid server starts: our pino logger; security headers through
 * @fastify/helmet (a strict CSP, `X-Frame-Options: DENY`, `nosniff`, `Referrer-Policy:
 * same-origin`, same-origin COOP/CORP) plus `Cache-Control: no-store` and `X-Robots-Tag: noindex`
 * on every answer; one error handler (`problemOf`: @arachnid/core's error hierarchy to statuses, a
 * 500 says INTERNAL and logs the error) with the server's own error shape, also for unknown routes;
 * @fastify/rate-limit loaded for routes that ask (`config.rateLimit`), answering 429 with
 * Retry-After; empty fields of queries and bodies taken as absent (what an HTML form's empty field
 * sends), and an empty body as an empty object; and,
 * on request, the OpenAPI document. Register routes after it resolves; start with `listen`.
 *
 * @example
 * const app = await createWebApp({ logger, errorShape: (p) => ({ detail: p.message }), openapi: { title: 'Arachnid API', version: '1' } })
 * app.get('/healthz', async () => ({ ok: true }))
 * await listen(app, { port: 8080, host: '127.0.0.1', portHint: '--port' })
 */
export async function createWebApp(options: WebAppOptions = {}): Promise<FastifyInstance> {
  const logger = options.logger ?? createLogger()
  const errorShape = options.errorShape ?? errorObject
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Requests are counted in metrics; one log line per request would drown what matters.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? DEFAULT_WEB_APP_OPTIONS.bodyLimit,
    requestTimeout: DEFAULT_WEB_APP_OPTIONS.requestTimeoutMs,
    // close() ends keep-alive connections too, so a stopping server does not wait on idle browsers.
    forceCloseConnections: true,
  })
  app.server.headersTimeout = DEFAULT_WEB_APP_OPTIONS.headersTimeoutMs
  const routeTable: RouteEntry[] = []
  app.decorate('routeTable', { getter: () => routeTable })
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      // The config is read when asked: hooks of inner scopes may still add to it.
      if (method !== 'HEAD') routeTable.push({ method, url: route.url, get config() { return (route.config ?? {}) as Record<string, unknown> } })
    }
  })

  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: { ...(options.contentSecurityPolicy ?? DEFAULT_WEB_APP_OPTIONS.contentSecurityPolicy) } as Record<string, string[]> },
    frameguard: { action: 'deny' },
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts,
    // which would defeat a same-origin check; URLs still never leak to other sites.
    referrerPolicy: { policy: 'same-origin' },
    // HSTS belongs to the TLS proxy in front (these servers speak plain HTTP on loopback).
    strictTransportSecurity: false,
  })
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    reply.header('x-robots-tag', 'noindex')
  })
  // A POST without a body, or with an empty JSON one, sends no fields: an empty object, which the
  // route's schema then judges like any other.
  const json = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => (body === '' ? done(null, {}) : json(request, String(body), done)))
  // An HTML form (or the page's script, posting a form's inputs as JSON) sends its empty fields as
  // `name=` / "": that means "not given", not "given as empty".
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && request.method !== 'GET' && request.method !== 'HEAD') request.body = {}
    for (const fields of [request.query, request.body]) {
      if (fields && typeof fields === 'object' && !Array.isArray(fields)) {
        for (const [k, v] of Object.entries(fields as Record<string, unknown>)) if (v === '') delete (fields as Record<string, unknown>)[k]
      }
    }
  })
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => new HttpError(context.statusCode, context.ban ? 'BANNED' : 'RATE_LIMITED', `too many requests; try again in ${context.after}`),
  })
  if (options.openapi) {
    const { title, version, description, path = '/openapi.json', routeConfig = {} } = options.openapi
    await app.register(swagger, { openapi: { openapi: '3.1.0', info: { title, version, ...(description ? { description } : {}) } } })
    app.get(path, { schema: { hide: true }, config: routeConfig }, async () => app.swagger())
  }

  app.setErrorHandler(async (error, request, reply) => {
    const problem = problemOf(error, request)
    if (problem.internal) request.log.error({ err: error, method: request.method, path: request.url.split('?')[0] }, 'request failed')
    // Headers a hook set before failing (a cleared cookie, Retry-After) go with the answer.
    return sendProblem(reply, problem, request, errorShape)
  })
  app.setNotFoundHandler(options.notFound ?? (async () => {
    throw new HttpError(404, 'NOT_FOUND', 'no such route')
  }))
  return app
}

function sendProblem(reply: FastifyReply, problem: Problem, request: FastifyRequest, shape: ErrorShape): FastifyReply {
  const body = shape(problem, request)
  reply.code(problem.status)
  if (body instanceof SafeHtml) return sendHtml(reply, body)
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(body))
}
