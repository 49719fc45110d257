import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'

/**
 * The page's script from packages/review/assets (@fastify/static), for signed-in analysts only, as
 * every page; one route per file (no wildcard), so the route table lists them.
 */
export const assetRoutes: FastifyPluginAsync = async (app) => {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, access: 'page', name: 'static' }
  })
  await app.register(fastifyStatic, {
    root: fileURLToPath(new URL('../../assets/', import.meta.url)),
    prefix: '/static/',
    wildcard: false,
    // Our Cache-Control (no-store) stays: the page's script changes with the server.
    cacheControl: false,
    decorateReply: false,
  })
}
