import { HttpError, field, sendHtml } from '@arachnid/web'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { hasRole } from '../analyst-accounts.js'
import { queuePage } from '../html-pages.js'
import { listReviewModes } from '../policy-admin.js'
import { DECISIONS, type Decision, decide } from '../review-decisions.js'
import type { ReviewContext } from '../review-context.js'
import { type QueueFilters, itemEvidence, listQueue } from '../review-queue.js'

/** The queue's filters, as the page's form and the API take them. */
export const queueQuery = {
  type: 'object',
  properties: { list: field.id(), job: field.id(), provider: field.text(), queue: field.choice(['supervisors'] as const) },
} as const

export interface QueueQuery {
  readonly list?: number
  readonly job?: number
  readonly provider?: string
  readonly queue?: 'supervisors'
}

/** A media's id in a path: an id beyond a database integer names nothing (404). */
export const mediaParams = { type: 'object', required: ['mediaId'], properties: { mediaId: field.id() } } as const

function filtersOf(request: FastifyRequest<{ Querystring: QueueQuery }>): QueueFilters {
  const q = request.query
  const filters = { listId: q.list, jobId: q.job, provider: q.provider, escalated: q.queue === 'supervisors' }
  if (filters.escalated && !hasRole(request.analystSession!.analyst, 'supervisor')) throw new HttpError(403, 'FORBIDDEN', 'the escalated queue is for supervisors')
  return filters
}

/** The review queue: its page, its items with their evidence, and the analysts' decisions. */
export const queueRoutes: FastifyPluginAsync<ReviewContext> = async (app, context) => {
  const { db, metrics, notices } = context

  app.get('/', { config: { access: 'page', name: 'home' }, schema: { hide: true } }, async (_request, reply) => reply.redirect('/queue', 303))

  app.get<{ Querystring: QueueQuery }>('/queue', { config: { access: 'page', name: 'queue' }, schema: { hide: true, querystring: queueQuery } }, async (request, reply) => {
    const filters = filtersOf(request)
    const items = await listQueue(db, filters)
    const lists = (await listReviewModes(db)).map((l) => ({ id: l.id, name: l.name }))
    const providers = (await db.selectFrom('providers').select('name').orderBy('name').execute()).map((p) => p.name)
    const session = request.analystSession!
    return sendHtml(reply, queuePage(items, filters, { lists, providers }, session.analyst, session.csrfToken))
  })

  app.get<{ Querystring: QueueQuery }>('/api/queue', {
    config: { access: 'api', name: 'queue' },
    schema: { description: 'Media waiting for review, most urgent first (the supervisors\' queue with queue=supervisors).', querystring: queueQuery },
  }, async (request) => ({ items: await listQueue(db, filtersOf(request)) }))

  app.get<{ Params: { mediaId: number } }>('/api/items/:mediaId', {
    config: { access: 'api', name: 'item' },
    schema: { description: 'A media\'s evidence: hashes, URLs, pages, server IP, matches, provider, notices, disputes, votes and earlier decisions. Never the media.', params: mediaParams },
  }, async (request) => {
    const evidence = await itemEvidence(db, request.params.mediaId)
    if (!evidence) throw new HttpError(404, 'NOT_FOUND', 'no such item')
    return evidence
  })

  app.post<{ Params: { mediaId: number }; Body: { decision: Decision; reason?: string } }>('/api/items/:mediaId/decision', {
    config: { access: 'api', name: 'decision', badRequestCode: 'BAD_DECISION' },
    schema: {
      description: 'Confirm (notices the media), reject (suppresses it for those list entries) or escalate (to supervisors). On a disputed notice: confirm upholds it, reject withdraws it.',
      params: mediaParams,
      body: { type: 'object', required: ['decision'], properties: { decision: field.choice(DECISIONS), reason: field.text(2000) } },
    },
  }, async (request) => {
    const { decision, reason } = request.body
    const result = await decide({ db, reporter: notices.reporter, lookup: notices.lookup, noticeOptions: notices.options }, request.analystSession!.analyst, { mediaId: request.params.mediaId, decision, reason })
    metrics.decisions.inc({ decision, state: result.state })
    return result
  })
}
