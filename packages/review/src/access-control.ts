import { timingSafeEqual } from 'node:crypto'
import type { AnalystRole } from '@arachnid/core'
import { HttpError } from '@arachnid/web'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { hasRole } from './analyst-accounts.js'
import type { ReviewContext } from './review-context.js'
import { SESSION_COOKIE, type Session, csrfMatches } from './session-store.js'

/** public: no session; page: redirect to /login without one; api: 401 JSON without one. */
export type RouteKind = 'public' | 'page' | 'api'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. A route without one is protected (an anonymous request is refused). */
    access?: RouteKind
    /** The least role it needs (analyst < supervisor < admin). */
    role?: AnalystRole
    /** Its name in metrics. */
    name?: string
    /** A path that reaches it, for ReviewServer.routes (default: the URL with each :param as 1). */
    example?: string
    /** A POST must come from our own origin (default true; the acknowledgement page is posted from providers' mail clients' browsers). */
    sameOrigin?: boolean
    /** The Prometheus scraper's bearer token opens this route (GET /metrics) without a session. */
    metricsToken?: boolean
  }
  interface FastifyRequest {
    /** The analyst's session, on every route that is not public. */
    analystSession: Session | undefined
  }
}

/** What a session cookie may hold: our tokens are 32 random bytes in base64url. */
const TOKEN = /^[\w-]{1,100}$/

/** Stands for a Prometheus scraper that presented the metrics token: good for /metrics only. */
const METRICS_SESSION: Session = { analyst: { id: 0, name: 'metrics-token', role: 'analyst' }, csrfToken: '', expiresAt: new Date(0), tokenHash: '' }

/** Whether the client speaks JSON (the API, scripts) rather than being a browser on a page. */
export function wantsJson(request: FastifyRequest): boolean {
  return (request.headers['content-type'] ?? '').includes('application/json') || (request.headers.accept ?? '').includes('application/json')
}

/** Whether a request (or the route it reached) belongs to the JSON API: its errors are JSON, its refusals 401. */
export function isApiRequest(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0]!
  return request.routeOptions.config.access === 'api' || path.startsWith('/api/') || path === '/metrics' || path === '/openapi.json'
}

/** A local path to go to after login; anything else (other sites, protocol-relative) becomes /queue. */
export function safeNext(value: string | null | undefined): string {
  return value && /^\/(?![/\\])/.test(value) && !value.startsWith('/login') ? value : '/queue'
}

/** Sets the session cookie (HttpOnly, SameSite=Strict, Path=/, Secure when configured); an empty token clears it. */
export function setSessionCookie(reply: FastifyReply, context: Pick<ReviewContext, 'cookieSecure'>, token: string, maxAgeSeconds: number): void {
  reply.setCookie(SESSION_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'strict', maxAge: maxAgeSeconds, secure: context.cookieSecure })
}

/**
 * The session cookie's token, or undefined. Only our cookie is looked at: cookies are per host,
 * not per port, so other programs' cookies for 127.0.0.1 arrive too and are none of our business.
 * A value that cannot be one of our tokens (bad percent-encoding, odd characters) is a 400
 * BAD_COOKIE on every route, never a 500, and the answer clears it so the login page works again.
 */
export function sessionToken(request: FastifyRequest, reply: FastifyReply, context: Pick<ReviewContext, 'cookieSecure'>): string | undefined {
  const value = request.cookies[SESSION_COOKIE]
  if (value === undefined || value === '') return undefined
  if (TOKEN.test(value)) return value
  setSessionCookie(reply, context, '', 0)
  throw new HttpError(400, 'BAD_COOKIE', `the ${SESSION_COOKIE} cookie is malformed; it has been cleared, log in again`)
}

function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin
  const site = request.headers['sec-fetch-site']
  if (site && site !== 'same-origin' && site !== 'none') return false
  if (!origin) return true
  if (origin === 'null') return site === 'same-origin'
  try {
    return new URL(origin).host === request.headers.host
  } catch {
    return false
  }
}

function metricsTokenOk(request: FastifyRequest, token: string): boolean {
  if (!token) return false
  const given = Buffer.from(request.headers.authorization ?? '')
  const expected = Buffer.from(`Bearer ${token}`)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/**
 * The one gate in front of every route, known or not (a Fastify plugin whose hooks cover the
 * whole app):
 * - every request: the session cookie is checked (BAD_COOKIE);
 * - a route that is not `public`, and any unknown path: a session (or, on /metrics, the scraper's
 *   token) first, so an anonymous client learns nothing: 401 JSON for the API, a 303 to /login
 *   for pages; then the route's role (403);
 * - every POST: from our own origin (when the browser says), and, unless public, carrying the
 *   session's CSRF token (`X-CSRF-Token` header or `_csrf` form field, compared in constant time).
 * Unknown paths of a signed-in analyst: 405 when another method has that path, else 404.
 */
export const accessControl = fp<ReviewContext>(async (app: FastifyInstance, context) => {
  app.decorateRequest('analystSession', undefined)
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config
    const token = sessionToken(request, reply, context)
    if (request.method === 'POST' && config.sameOrigin !== false && !sameOrigin(request)) throw new HttpError(403, 'CSRF', 'cross-origin request refused')
    if (config.access === 'public') return
    let session = await context.sessions.get(token)
    if (!session && config.metricsToken && metricsTokenOk(request, context.metricsToken)) session = METRICS_SESSION
    if (!session) {
      if (isApiRequest(request)) throw new HttpError(401, 'UNAUTHENTICATED', 'log in first')
      return reply.redirect(`/login?next=${encodeURIComponent(safeNext(request.url))}`, 303)
    }
    request.analystSession = session
    if (config.role && !hasRole(session.analyst, config.role)) throw new HttpError(403, 'FORBIDDEN', `needs the ${config.role} role`)
  })
  // After the body is parsed (a form's _csrf is in it), before it is validated: a forged request is refused whatever it holds.
  app.addHook('preValidation', async (request) => {
    if (request.method !== 'POST' || request.routeOptions.config.access === 'public') return
    const header = request.headers['x-csrf-token']
    const field = (request.body as { _csrf?: unknown } | undefined)?._csrf
    const given = (Array.isArray(header) ? header[0] : header) || (typeof field === 'string' ? field : undefined)
    if (!csrfMatches(request.analystSession!, given)) throw new HttpError(403, 'CSRF', 'missing or wrong CSRF token')
  })
})

/** An unknown path, asked by a signed-in analyst (the gate answered anonymous ones): 405 or 404. */
export async function unknownRoute(request: FastifyRequest): Promise<never> {
  const path = request.url.split('?')[0]!
  const allowed = [...new Set(request.server.routeTable.filter((r) => patternOf(r.url).test(path)).map((r) => r.method))]
  if (allowed.length > 0) throw new HttpError(405, 'METHOD_NOT_ALLOWED', `use ${allowed.join(', ')}`)
  throw new HttpError(404, 'NOT_FOUND', 'no such route')
}

function patternOf(url: string): RegExp {
  return new RegExp(`^${url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`)
}
