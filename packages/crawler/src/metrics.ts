import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { Database, Kysely, Logger } from '@arachnid/core'
import type { CrawlCounters } from './crawl-job.js'

/**
 * Prometheus metrics of a crawling process: what this process did (pages, media, bytes, matches,
 * notices, errors by code) and, read from the database at scrape time, the running jobs' queues.
 */
export class CrawlMetrics {
  readonly registry = new Registry()
  readonly #pages = new Counter({ name: 'arachnid_pages_total', help: 'Pages fetched by this process', labelNames: ['outcome'] as const, registers: [this.registry] })
  readonly #media = new Counter({ name: 'arachnid_media_total', help: 'Media fetched and hashed by this process', labelNames: ['outcome'] as const, registers: [this.registry] })
  readonly #bytes = new Counter({ name: 'arachnid_media_bytes_total', help: 'Media bytes fetched by this process', registers: [this.registry] })
  readonly #matches = new Counter({ name: 'arachnid_matched_media_total', help: 'Media URLs that matched a known hash', labelNames: ['kind'] as const, registers: [this.registry] })
  readonly #notices = new Counter({ name: 'arachnid_notices_total', help: 'Notices created by this process', registers: [this.registry] })
  readonly #errors = new Counter({ name: 'arachnid_errors_total', help: 'Pages and media refused or failed, by code', labelNames: ['code'] as const, registers: [this.registry] })
  readonly #seen = new WeakMap<CrawlCounters, CrawlCounters>()

  constructor(db?: Kysely<Database>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'arachnid_process_' })
    if (db) {
      const queue = new Gauge({ name: 'arachnid_frontier_urls', help: 'Frontier URLs of running jobs by state', labelNames: ['state'] as const, registers: [this.registry],
        async collect() {
          const rows = await db.selectFrom('frontier as f').innerJoin('crawl_jobs as j', 'j.id', 'f.job_id').where('j.status', '=', 'running')
            .select(['f.status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('f.status').execute().catch(() => [])
          queue.reset()
          for (const r of rows) queue.set({ state: r.status }, Number(r.n))
        } })
      new Gauge({ name: 'arachnid_jobs_running', help: 'Running crawl jobs', registers: [this.registry],
        async collect() {
          const row = await db.selectFrom('crawl_jobs').where('status', '=', 'running').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst().catch(() => undefined)
          this.set(Number(row?.n ?? 0))
        } })
    }
  }

  /** Adds what a job's counters gained since the last call (counters only grow). */
  observe(counters: CrawlCounters): void {
    const last = this.#seen.get(counters) ?? { pages: 0, pageErrors: 0, mediaQueued: 0, media: 0, mediaErrors: 0, distinctMedia: 0, bytes: 0, matchedMedia: 0, exactMatches: 0, nearMatches: 0, notices: 0, errors: {} }
    const d = (k: keyof Omit<CrawlCounters, 'errors'>) => Math.max(0, counters[k] - last[k])
    this.#pages.inc({ outcome: 'ok' }, d('pages'))
    this.#pages.inc({ outcome: 'failed' }, d('pageErrors'))
    this.#media.inc({ outcome: 'hashed' }, d('media'))
    this.#media.inc({ outcome: 'refused' }, d('mediaErrors'))
    this.#bytes.inc(d('bytes'))
    this.#matches.inc({ kind: 'exact' }, d('exactMatches'))
    this.#matches.inc({ kind: 'near' }, d('nearMatches'))
    this.#notices.inc(d('notices'))
    for (const [code, n] of Object.entries(counters.errors)) this.#errors.inc({ code }, Math.max(0, n - (last.errors[code] ?? 0)))
    this.#seen.set(counters, { ...counters, errors: { ...counters.errors } })
  }

  /**
   * Serves GET /metrics (Prometheus text format) on the given port, on the shared web app
   * (@arachnid/web: its headers, errors and logger); resolves to the bound port. A port in use or
   * an address not of this machine is a ConfigError in one line.
   *
   * @example
   * const server = await metrics.serve(9464, '127.0.0.1', { logger })
   * // ... later
   * await server.close()
   */
  async serve(port: number, host = '127.0.0.1', options: { readonly logger?: Logger } = {}): Promise<{ port: number; close(): Promise<void> }> {
    // Loaded only by a worker asked to serve metrics: a crawl alone never loads the web framework.
    const { createWebApp, listen, metricsRoute } = await import('@arachnid/web')
    const app = await createWebApp({ logger: options.logger })
    metricsRoute(app, this.registry)
    try {
      const bound = await listen(app, { port, host, portHint: '--metrics-port' })
      return { port: bound, close: () => app.close() }
    } catch (error) {
      await app.close()
      throw error
    }
  }
}
