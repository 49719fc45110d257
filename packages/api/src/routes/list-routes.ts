import { ArachnidError } from '@arachnid/core'
import { listChanges } from '@arachnid/matcher'
import { HttpError } from '@arachnid/web'
import type { FastifyPluginAsync } from 'fastify'
import type { ApiContext } from '../api-context.js'

/** Entries per page when the caller names no limit. */
const DEFAULT_LIMIT = 1000

/**
 * GET /api/v1/lists/:name/changes?cursor=N&limit=M: a list served incrementally to another
 * deployment (`arachnid lists subscribe`), to API users with the `export` scope (others get 403):
 * the entries added and retracted since change N of the change log, a version activated as a
 * replace of the whole list (over as many pages as it takes), the list's classification, and the
 * cursor to call with next (`more`: call again at once). At most `limit` entries per page
 * (default 1000, at most ARACHNID_API_MAX_BATCH).
 */
export const listRoutes: FastifyPluginAsync<ApiContext> = async (app, context) => {
  app.get('/api/v1/lists/:name/changes', {
    config: { endpoint: 'api/v1/lists/changes', matching: true },
    // Kept out of /openapi.json: a deployment-to-deployment route, not part of the Shield-compatible surface.
    schema: { hide: true },
  }, async (request) => {
    const caller = request.caller!
    if (!caller.scopes.includes('export')) throw new HttpError(403, 'FORBIDDEN', `API user ${caller.name} may not read lists: it needs the export scope (api users add NAME --scope export)`)
    const { name } = request.params as { name: string }
    const query = request.query as { cursor?: string; limit?: string }
    const limit = query.limit === undefined ? Math.min(DEFAULT_LIMIT, context.maxBatch) : Number(query.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > context.maxBatch) throw new HttpError(400, 'BAD_LIMIT', `limit ${JSON.stringify(String(query.limit).slice(0, 20))}: expected an integer from 1 to ${context.maxBatch}`)
    try {
      return await listChanges(context.db, name, query.cursor, limit)
    } catch (error) {
      if (error instanceof ArachnidError && error.code === 'NO_SUCH_LIST') throw new HttpError(404, 'NO_SUCH_LIST', error.message)
      if (error instanceof ArachnidError && error.code === 'BAD_CURSOR') throw new HttpError(400, 'BAD_CURSOR', error.message)
      throw error
    }
  })
}
