import { field, sendHtml } from '@arachnid/web'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { safeNext, sessionToken, setSessionCookie, wantsJson } from '../access-control.js'
import { appendAudit } from '../audit-log.js'
import { loginPage } from '../html-pages.js'
import type { ReviewContext } from '../review-context.js'

interface LoginBody {
  readonly name?: string
  readonly password?: string
  readonly next?: string
}

/**
 * Logging in and out: GET/POST /login (public; the lockout per account name is kept in the
 * database, and @fastify/rate-limit caps attempts per client address), POST /logout and GET
 * /api/me (the account and its CSRF token).
 */
export const authRoutes: FastifyPluginAsync<ReviewContext> = async (app, context) => {
  const { db, sessions, throttle, metrics } = context

  app.get<{ Querystring: { next?: string } }>('/login', {
    config: { access: 'public', name: 'login' },
    schema: { hide: true, querystring: { type: 'object', properties: { next: field.text(2000) } } },
  }, async (request, reply) => {
    if (await sessions.get(sessionToken(request, reply, context))) return reply.redirect('/queue', 303)
    return sendHtml(reply, loginPage({ next: safeNext(request.query.next) }))
  })

  app.post<{ Body: LoginBody | undefined }>('/login', {
    config: { access: 'public', name: 'login', rateLimit: { max: context.loginRateLimit.max, timeWindow: context.loginRateLimit.windowMs } },
    // A bad form is the login page again with a message for a person, not the API's 400.
    attachValidation: true,
    schema: {
      description: 'Opens a session: sets the arachnid_session cookie and, to JSON clients, answers the CSRF token to send with every change.',
      body: { type: 'object', properties: { name: field.text(64), password: field.text(1024), next: field.text(2000) } },
    },
  }, async (request, reply) => {
    const body = request.validationError ? {} : request.body ?? {}
    const name = body.name?.trim() ?? ''
    const password = body.password ?? ''
    const next = safeNext(body.next)
    const json = wantsJson(request)
    const refuse = (status: number, message: string): FastifyReply => (json
      ? reply.code(status).send({ error: { code: status === 429 ? 'LOCKED_OUT' : 'BAD_LOGIN', message } })
      : sendHtml(reply, loginPage({ error: message, next }), status))
    if (!name || !password) return refuse(400, 'Name and password are required.')
    const attempt = await throttle.begin(name)
    if (!attempt) {
      metrics.logins.inc({ outcome: 'locked' })
      return refuse(429, 'Too many failed attempts; try again later.')
    }
    const opened = await sessions.login(name, password)
    if (!opened) {
      await attempt.failed()
      metrics.logins.inc({ outcome: 'failed' })
      await appendAudit(db, { actor: { id: null, name }, action: 'login-failed', detail: { ip: request.ip } })
      return refuse(401, 'Wrong name or password.')
    }
    await attempt.succeeded()
    metrics.logins.inc({ outcome: 'ok' })
    const { analyst, csrfToken } = opened.session
    await appendAudit(db, { actor: { id: analyst.id, name: analyst.name }, action: 'login', detail: { ip: request.ip } })
    setSessionCookie(reply, context, opened.token, context.sessionHours * 3600)
    if (json) return { analyst, csrfToken }
    return reply.redirect(next, 303)
  })

  app.post('/logout', {
    config: { access: 'page', name: 'logout' },
    schema: { description: 'Ends the session on the server.', body: { type: 'object', properties: { _csrf: { type: 'string' } } } },
  }, async (request, reply) => {
    const { analyst } = request.analystSession!
    await sessions.logout(sessionToken(request, reply, context))
    await appendAudit(db, { actor: { id: analyst.id, name: analyst.name }, action: 'logout' })
    setSessionCookie(reply, context, '', 0)
    if (wantsJson(request)) return { ok: true }
    return reply.redirect('/login', 303)
  })

  app.get('/api/me', { config: { access: 'api', name: 'me' }, schema: { description: 'The account, its CSRF token and when the session ends.' } }, async (request) => {
    const session = request.analystSession!
    return { analyst: session.analyst, csrfToken: session.csrfToken, expiresAt: session.expiresAt }
  })
}
