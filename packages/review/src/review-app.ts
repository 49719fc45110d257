import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import type { Logger } from '@arachnid/core'
import { type Problem, createWebApp, errorObject, metricsRoute } from '@arachnid/web'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { accessControl, isApiRequest, unknownRoute, wantsJson } from './access-control.js'
import { errorPage } from './html-pages.js'
import type { ReviewContext } from './review-context.js'
import { ackRoutes } from './routes/ack-routes.js'
import { assetRoutes } from './routes/asset-routes.js'
import { auditRoutes } from './routes/audit-routes.js'
import { authRoutes } from './routes/auth-routes.js'
import { healthRoutes } from './routes/health-routes.js'
import { policyRoutes } from './routes/policy-routes.js'
import { previewRoutes } from './routes/preview-routes.js'
import { queueRoutes } from './routes/queue-routes.js'
import { statsRoutes } from './routes/stats-routes.js'
import { suspectRoutes } from './routes/suspect-routes.js'

/** The API (and clients that ask for JSON) gets `{"error":{"code","message"}}`; a page gets a page with the message. */
function reviewErrorShape(problem: Problem, request: FastifyRequest): unknown {
  return isApiRequest(request) || wantsJson(request) ? errorObject(problem, request) : errorPage(problem.message)
}

/**
 * The review server as a Fastify app on @arachnid/web: one gate (access-control) in front of
 * every route, then one plugin per area holding its routes and schemas. Built, not listening.
 */
export async function buildReviewApp(context: ReviewContext, logger: Logger | undefined): Promise<FastifyInstance> {
  const app = await createWebApp({
    logger,
    errorShape: reviewErrorShape,
    notFound: unknownRoute,
    openapi: {
      title: 'Arachnid review API', version: '1',
      description: 'The analysts\' review API. Log in with POST /login (JSON); send the session cookie with every request and the CSRF token as X-CSRF-Token with every POST.',
      routeConfig: { access: 'api', name: 'openapi' },
    },
  })
  await app.register(cookie)
  await app.register(formbody)
  await app.register(accessControl, context)
  app.addHook('onResponse', async (request, reply) => {
    context.metrics.requests.inc({ route: request.routeOptions.config.name ?? 'unknown', status: `${Math.floor(reply.statusCode / 100)}xx` })
  })
  await app.register(healthRoutes, context)
  await app.register(authRoutes, context)
  await app.register(queueRoutes, context)
  await app.register(previewRoutes, context)
  await app.register(suspectRoutes, context)
  await app.register(auditRoutes, context)
  await app.register(statsRoutes, context)
  await app.register(policyRoutes, context)
  await app.register(assetRoutes)
  await app.register(ackRoutes, context)
  metricsRoute(app, context.metrics.registry, { access: 'api', name: 'metrics', metricsToken: true })
  await app.ready()
  return app
}
