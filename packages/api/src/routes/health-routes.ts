import { HttpError } from '@arachnid/web'
import type { FastifyPluginAsync } from 'fastify'
import type { ApiContext } from '../api-context.js'

/** GET /healthz: 200 only once the index is loaded (503 with Retry-After until then), so a balancer sends no call to a service that would answer from a partial index. */
export const healthRoutes: FastifyPluginAsync<ApiContext> = async (app, context) => {
  app.get('/healthz', { config: { endpoint: 'healthz' }, schema: { hide: true } }, async (_request, reply) => {
    if (!context.ready()) {
      reply.header('retry-after', '1')
      throw new HttpError(503, 'LOADING', 'the index is still loading')
    }
    const stats = context.matcher.stats()
    return { ok: true, entries: stats.entries, changeId: stats.changeId }
  })
}
