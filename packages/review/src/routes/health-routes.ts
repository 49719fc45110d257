import type { FastifyPluginAsync } from 'fastify'
import type { ReviewContext } from '../review-context.js'

/** GET /healthz: public; answers once the database does. */
export const healthRoutes: FastifyPluginAsync<ReviewContext> = async (app, { db }) => {
  app.get('/healthz', { config: { access: 'public', name: 'health' }, schema: { hide: true } }, async () => {
    await db.selectFrom('review_policy').select('id').execute()
    return { ok: true }
  })
}
