import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { type Database, type Kysely, sql } from '@arachnid/core'
import { queueCounts } from './review-queue.js'
import { suspectCounts } from './suspect-queue.js'

/**
 * Prometheus metrics of the review server: what it did (requests, logins, decisions, previews)
 * and, read from the database at scrape time, the review queue and the notices' states. A registry
 * of its own: the crawler's CrawlMetrics counts crawling, which this process does not do.
 */
export class ReviewMetrics {
  readonly registry = new Registry()
  readonly requests = new Counter({ name: 'arachnid_review_http_requests_total', help: 'HTTP requests served, by route and status class', labelNames: ['route', 'status'] as const, registers: [this.registry] })
  readonly logins = new Counter({ name: 'arachnid_review_logins_total', help: 'Login attempts, by outcome', labelNames: ['outcome'] as const, registers: [this.registry] })
  readonly decisions = new Counter({ name: 'arachnid_review_decisions_total', help: 'Analyst decisions, by decision and resulting state', labelNames: ['decision', 'state'] as const, registers: [this.registry] })
  readonly previews = new Counter({ name: 'arachnid_review_previews_total', help: 'Live media previews, by outcome and whether they were obscured', labelNames: ['outcome', 'obscured'] as const, registers: [this.registry] })

  constructor(db: Kysely<Database>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'arachnid_review_process_' })
    const queue = new Gauge({ name: 'arachnid_review_queue_media', help: 'Media waiting for review, by queue', labelNames: ['queue'] as const, registers: [this.registry],
      async collect() {
        // The queue's own definition (noticed media left out, disputes in), as the pages show it.
        const counts = await queueCounts(db).catch(() => undefined)
        queue.set({ queue: 'analysts' }, counts?.analysts ?? 0)
        queue.set({ queue: 'supervisors' }, counts?.escalated ?? 0)
      } })
    const suspects = new Gauge({ name: 'arachnid_review_suspects', help: 'Suspects by status (pending: waiting for classification)', labelNames: ['status'] as const, registers: [this.registry],
      async collect() {
        const counts = await suspectCounts(db).catch(() => ({ pending: 0 }))
        suspects.reset()
        for (const [status, n] of Object.entries(counts)) suspects.set({ status }, n)
      } })
    const notices = new Gauge({ name: 'arachnid_review_notices', help: 'Notices by status', labelNames: ['status'] as const, registers: [this.registry],
      async collect() {
        const rows = await db.selectFrom('notices').select(['status', sql<number>`count(*)::int`.as('n')]).groupBy('status').execute().catch(() => [])
        notices.reset()
        for (const r of rows) notices.set({ status: r.status }, Number(r.n))
      } })
    const matches = new Gauge({ name: 'arachnid_review_matches', help: 'Matches by status', labelNames: ['status'] as const, registers: [this.registry],
      async collect() {
        const rows = await db.selectFrom('matches').select(['status', sql<number>`count(*)::int`.as('n')]).groupBy('status').execute().catch(() => [])
        matches.reset()
        for (const r of rows) matches.set({ status: r.status }, Number(r.n))
      } })
  }
}
