import { field, sendHtml } from '@arachnid/web'
import type { FastifyPluginAsync } from 'fastify'
import { AUDIT_ACTIONS, type AuditAction, listAudit } from '../audit-log.js'
import { auditPage } from '../html-pages.js'
import type { ReviewContext } from '../review-context.js'

/** The audit log's paging cursor: an entry id (a bigint, kept as text). */
const before = field.bigId('an audit entry')

/** The append-only audit log, for supervisors: its page (100 entries a page) and its API. */
export const auditRoutes: FastifyPluginAsync<ReviewContext> = async (app, { db }) => {
  app.get<{ Querystring: { before?: string } }>('/audit', {
    config: { access: 'page', name: 'audit', role: 'supervisor' },
    schema: { hide: true, querystring: { type: 'object', properties: { before } } },
  }, async (request, reply) => {
    const entries = await listAudit(db, { before: request.query.before, limit: 100 })
    const session = request.analystSession!
    return sendHtml(reply, auditPage(entries, session.analyst, session.csrfToken, entries.length === 100 ? entries.at(-1)?.id : undefined))
  })

  app.get<{ Querystring: { before?: string; actor?: string; action?: AuditAction; subject?: string; limit?: number } }>('/api/audit', {
    config: { access: 'api', name: 'audit', role: 'supervisor' },
    schema: {
      description: 'Audit entries, newest first.',
      querystring: { type: 'object', properties: { before, actor: field.text(), action: field.choice(AUDIT_ACTIONS), subject: field.text(), limit: field.integer(1, 500) } },
    },
  }, async (request) => ({ entries: await listAudit(db, request.query) }))
}
