import type { FastifyInstance } from 'fastify'

/** What a Prometheus registry (prom-client's `Registry`) offers for scraping. */
export interface MetricsSource {
  readonly contentType: string
  metrics(): Promise<string>
}

/**
 * `GET /metrics` in the Prometheus text format, from a prom-client registry; `config` is the
 * route's config (e.g. who may scrape).
 *
 * @example
 * metricsRoute(app, registry, { access: 'api' })
 */
export function metricsRoute(app: FastifyInstance, registry: MetricsSource, config: Record<string, unknown> = {}, path = '/metrics'): void {
  app.get(path, { config, schema: { hide: true } }, async (_request, reply) => {
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })
}
