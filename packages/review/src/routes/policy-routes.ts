import { ArachnidError, LIST_REVIEW_MODES, type ListReviewMode } from '@arachnid/core'
import { type ReviewPolicy, loadReviewPolicy, loadSuspectPolicy } from '@arachnid/matcher'
import { HttpError, field, sendHtml } from '@arachnid/web'
import type { FastifyPluginAsync } from 'fastify'
import { policyPage } from '../html-pages.js'
import { MAX_PRIORITY, POLICY_RANGES, listReviewModes, parsePolicyChange, setListReview, updateReviewPolicy } from '../policy-admin.js'
import type { ReviewContext } from '../review-context.js'

const policyBody = {
  type: 'object',
  properties: {
    autoExact: field.boolean(),
    autoPdqDistance: field.integer(...POLICY_RANGES.autoPdqDistance),
    autoBlockhashDistance: field.integer(...POLICY_RANGES.autoBlockhashDistance),
    minQuality: field.integer(...POLICY_RANGES.minQuality),
    twoAnalystsNear: field.boolean(),
    reason: field.text(2000),
  },
} as const

/** Allowed but probably mistaken policy values, in words (as `arachnid analysts policy` warns). */
function policyWarnings(change: Partial<ReviewPolicy>): string[] {
  return (['autoPdqDistance', 'autoBlockhashDistance'] as const).filter((k) => (change[k] ?? 0) > 64)
    .map((k) => `${k} ${change[k]} is above 64: distances that large match unrelated images`)
}

/** The review policy and the lists' review modes: read by analysts, changed by admins, every change audited. */
export const policyRoutes: FastifyPluginAsync<ReviewContext> = async (app, { db }) => {
  const actor = (analyst: { id: number; name: string }) => ({ id: analyst.id, name: analyst.name })

  app.get('/policy', { config: { access: 'page', name: 'policy', role: 'admin' }, schema: { hide: true } }, async (request, reply) => {
    const session = request.analystSession!
    const marked = new Set((await db.selectFrom('hash_lists').where('suspects', '=', true).select('id').execute()).map((l) => l.id))
    const lists = (await listReviewModes(db)).map((l) => ({ ...l, suspects: marked.has(l.id) }))
    return sendHtml(reply, policyPage(await loadReviewPolicy(db), lists, session.analyst, session.csrfToken, await loadSuspectPolicy(db)))
  })

  app.get('/api/policy', { config: { access: 'api', name: 'policy' }, schema: { description: 'The review policy and the lists\' review modes.' } },
    async () => ({ policy: await loadReviewPolicy(db), lists: await listReviewModes(db) }))

  app.post<{ Body: (Partial<ReviewPolicy> & { reason?: string }) | undefined }>('/api/policy', {
    config: { access: 'api', name: 'policy', role: 'admin', badRequestCode: 'BAD_POLICY' },
    schema: { description: 'Changes the review policy for every worker at once; distances above 64 are allowed with a warning.', body: policyBody },
  }, async (request) => {
    const { reason, ...values } = request.body ?? {}
    const change = parsePolicyChange(values)
    return { policy: await updateReviewPolicy(db, change, actor(request.analystSession!.analyst), reason), warnings: policyWarnings(change) }
  })

  app.get('/api/lists', { config: { access: 'api', name: 'lists' }, schema: { description: 'Every list with its review mode and priority.' } },
    async () => ({ lists: await listReviewModes(db) }))

  app.post<{ Params: { id: number }; Body: { mode?: ListReviewMode; priority?: number; reason?: string } | undefined }>('/api/lists/:id/review', {
    config: { access: 'api', name: 'list-review', role: 'admin' },
    schema: {
      description: 'Marks a list verified (its close matches may notify at once) or review-required (every match waits), with its queue priority.',
      params: { type: 'object', required: ['id'], properties: { id: field.id() } },
      body: { type: 'object', properties: { mode: field.choice(LIST_REVIEW_MODES), priority: field.integer(-MAX_PRIORITY, MAX_PRIORITY), reason: field.text(2000) } },
    },
  }, async (request) => {
    const { mode, priority, reason } = request.body ?? {}
    try {
      return { list: await setListReview(db, { id: request.params.id }, { mode, priority }, actor(request.analystSession!.analyst), reason) }
    } catch (error) {
      if (error instanceof ArachnidError && error.code === 'NOT_FOUND') throw new HttpError(404, 'NOT_FOUND', error.message, { cause: error })
      throw error
    }
  })
}
