import { ArachnidError, SUSPECT_CLASSES, SUSPECT_MODES, type SuspectClass } from '@arachnid/core'
import { type SuspectPolicy, loadSuspectPolicy } from '@arachnid/matcher'
import { HttpError, field, sendHtml } from '@arachnid/web'
import type { FastifyPluginAsync } from 'fastify'
import { suspectsPage } from '../html-pages.js'
import type { ReviewContext } from '../review-context.js'
import { classifySuspect, listSuspects, parseSuspectPolicyChange, sessionWellbeing, setListSuspects, takeBreak, updateSuspectPolicy } from '../suspect-queue.js'

const suspectParams = { type: 'object', required: ['suspectId'], properties: { suspectId: field.id() } } as const
const suspectQuery = { type: 'object', properties: { job: field.id() } } as const

const suspectPolicyBody = {
  type: 'object',
  properties: {
    mode: field.choice(SUSPECT_MODES),
    perPage: field.integer(0, 10_000),
    perJob: field.integer(0, 10_000_000),
    twoAnalysts: field.boolean(),
    previewsBeforeBreak: field.integer(0, 100_000),
    reason: field.text(2000),
  },
} as const

/**
 * The suspect queue (media seen beside confirmed matches that match nothing), the analysts'
 * classifications, the suspect policy and the well-being break: a session shown many previews is
 * prompted to take one (the page shows the prompt; each preview's answer says so too).
 */
export const suspectRoutes: FastifyPluginAsync<ReviewContext> = async (app, context) => {
  const { db } = context
  const actor = (analyst: { id: number; name: string }) => ({ id: analyst.id, name: analyst.name })

  app.get<{ Querystring: { job?: number } }>('/suspects', { config: { access: 'page', name: 'suspects' }, schema: { hide: true, querystring: suspectQuery } }, async (request, reply) => {
    const session = request.analystSession!
    const items = await listSuspects(db, { jobId: request.query.job })
    return sendHtml(reply, suspectsPage(items, await loadSuspectPolicy(db), await sessionWellbeing(db, session.tokenHash), session.analyst, session.csrfToken))
  })

  app.get<{ Querystring: { job?: number } }>('/api/suspects', {
    config: { access: 'api', name: 'suspects' },
    schema: { description: 'Suspects waiting for classification, oldest first: media that match nothing, seen on a page beside a confirmed match. Never the media.', querystring: suspectQuery },
  }, async (request) => ({ items: await listSuspects(db, { jobId: request.query.job }) }))

  app.post<{ Params: { suspectId: number }; Body: { classification: SuspectClass; reason?: string } }>('/api/suspects/:suspectId/classification', {
    config: { access: 'api', name: 'classify', badRequestCode: 'BAD_CLASSIFICATION' },
    schema: {
      description: 'Classifies a suspect as csam, harmful-abusive-material or not (with the two-analyst rule, two analysts must agree). csam and harmful-abusive-material add its hashes to a local list with provenance and start a retro-hunt for its copies. Audited.',
      params: suspectParams,
      body: { type: 'object', required: ['classification'], properties: { classification: field.choice(SUSPECT_CLASSES), reason: field.text(2000) } },
    },
  }, async (request) => {
    const { classification, reason } = request.body
    const result = await classifySuspect({ db, startRetroHunt: context.startRetroHunt }, request.analystSession!.analyst, { suspectId: request.params.suspectId, classification, reason })
    context.metrics.decisions.inc({ decision: `classify-${classification}`, state: result.state })
    return result
  })

  app.get('/api/suspect-policy', { config: { access: 'api', name: 'suspect-policy' }, schema: { description: 'The suspect policy: mode (off, on, per-list), bounds per page and per job, the two-analyst rule and the previews before a break is suggested.' } },
    async () => ({ policy: await loadSuspectPolicy(db) }))

  app.post<{ Body: (Partial<SuspectPolicy> & { reason?: string }) | undefined }>('/api/suspect-policy', {
    config: { access: 'api', name: 'suspect-policy', role: 'admin', badRequestCode: 'BAD_POLICY' },
    schema: { description: 'Changes the suspect policy for every worker at once. Audited.', body: suspectPolicyBody },
  }, async (request) => {
    const { reason, ...values } = request.body ?? {}
    return { policy: await updateSuspectPolicy(db, parseSuspectPolicyChange(values), actor(request.analystSession!.analyst), reason) }
  })

  app.post<{ Params: { id: number }; Body: { suspects: boolean; reason?: string } }>('/api/lists/:id/suspects', {
    config: { access: 'api', name: 'list-suspects', role: 'admin' },
    schema: {
      description: 'In the per-list mode: whether this list\'s confirmed matches queue the media seen beside them as suspects. Audited.',
      params: { type: 'object', required: ['id'], properties: { id: field.id() } },
      body: { type: 'object', required: ['suspects'], properties: { suspects: field.boolean(), reason: field.text(2000) } },
    },
  }, async (request) => {
    try {
      return { list: await setListSuspects(db, { id: request.params.id }, request.body.suspects, actor(request.analystSession!.analyst), request.body.reason) }
    } catch (error) {
      if (error instanceof ArachnidError && error.code === 'NOT_FOUND') throw new HttpError(404, 'NOT_FOUND', error.message, { cause: error })
      throw error
    }
  })

  app.get('/api/wellbeing', { config: { access: 'api', name: 'wellbeing' }, schema: { description: 'Previews this session has been shown since its last break, and whether a break is suggested.' } },
    async (request) => sessionWellbeing(db, request.analystSession!.tokenHash))

  app.post('/api/wellbeing/break', { config: { access: 'api', name: 'wellbeing' }, schema: { description: 'The analyst took a break: the session\'s preview count starts again. Audited.' } }, async (request) => {
    const session = request.analystSession!
    await takeBreak(db, { tokenHash: session.tokenHash, analyst: actor(session.analyst) })
    return sessionWellbeing(db, session.tokenHash)
  })
}
