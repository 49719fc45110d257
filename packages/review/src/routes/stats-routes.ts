import { sendHtml } from '@arachnid/web'
import type { FastifyPluginAsync } from 'fastify'
import { statsPage } from '../html-pages.js'
import type { ReviewContext } from '../review-context.js'
import { reviewStats } from '../review-stats.js'

/** The statistics page (server-rendered SVG charts) and its figures. */
export const statsRoutes: FastifyPluginAsync<ReviewContext> = async (app, { db }) => {
  app.get('/stats', { config: { access: 'page', name: 'stats' }, schema: { hide: true } }, async (request, reply) => {
    const session = request.analystSession!
    return sendHtml(reply, statsPage(await reviewStats(db), session.analyst, session.csrfToken))
  })
  app.get('/api/stats', {
    config: { access: 'api', name: 'stats' },
    schema: { description: 'Per provider and overall: notices, removals, time to removal (the figures of `arachnid stats`), their distributions, and what waits for review.' },
  }, async () => reviewStats(db))
}
