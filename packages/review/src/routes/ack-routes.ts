import { createAckHandler } from '@arachnid/notifier'
import type { FastifyPluginAsync } from 'fastify'
import type { ReviewContext } from '../review-context.js'

/**
 * The notifier's acknowledgement page, mounted at /ack/ for providers: public, and posted from
 * their browsers without our origin check (they hold a signed link, not a session).
 */
export const ackRoutes: FastifyPluginAsync<ReviewContext> = async (app, { db, ack }) => {
  if (!ack) return
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, access: 'public', name: 'ack', sameOrigin: false, example: route.url.replace(/:token$/, '<token>') }
  })
  await app.register(createAckHandler({ db, links: ack }), { prefix: '/ack' })
}
