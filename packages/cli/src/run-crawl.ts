import { CrawlJob, type CrawlDependencies, type CrawlJobOptions, type CrawlSummary } from '@arachnid/crawler'
import { Hasher } from '@arachnid/hasher'
import { AckLinks, ProviderDirectory, createNotices, loadNoticeTemplates } from '@arachnid/notifier'
import type { App } from './app.js'
import { ProgressDisplay } from './progress.js'

export interface CrawlRunResult extends CrawlSummary {
  /** Notice emails delivered (SMTP or .eml) during and right after the crawl. */
  readonly delivered: number
  readonly deliveryRetrying: number
  readonly unassigned: number
}

/**
 * What a crawling process needs, wired once: the hasher, the matcher, and the notifier attached
 * so that matched media get notices (through the outbox) while the crawl goes on, with the
 * outbox delivered as it fills.
 */
export interface CrawlSession {
  readonly deps: CrawlDependencies
  readonly stats: { delivered: number; retrying: number; unassigned: number }
  /** Delivers what is due now (serialised with deliveries already under way). */
  deliver(): Promise<void>
  close(): Promise<void>
}

export async function openCrawlSession(app: App): Promise<CrawlSession> {
  const { config, database, matcher, logger } = app
  const hasher = new Hasher({ maxBytes: config.maxMediaBytes, maxPixels: config.maxPixels, dihedral: true })
  const directory = await ProviderDirectory.load(database.db)
  const reporter = { name: config.reporterName, from: config.noticeFrom }
  // Emails written during the crawl carry the same acknowledgement link and wording as the worker's.
  const noticeOptions = {
    ack: config.ackSecret && config.ackBaseUrl ? new AckLinks({ secret: config.ackSecret, baseUrl: config.ackBaseUrl, ttlHours: config.ackTtlHours }) : undefined,
    templates: config.noticeTemplateDir ? await loadNoticeTemplates(config.noticeTemplateDir) : undefined,
    recheckIntervalSeconds: config.recheckIntervalSeconds,
    retryBaseSeconds: Math.max(1, config.deliveryIntervalSeconds),
  }
  const delivery = app.delivery()
  const stats = { delivered: 0, retrying: 0, unassigned: 0 }
  let delivering: Promise<void> = Promise.resolve()
  const deliver = () => {
    delivering = delivering.then(async () => {
      const result = await delivery.deliverDue()
      stats.delivered += result.sent
      stats.retrying = result.retrying
    }).catch((error) => logger.error({ err: error }, 'outbox delivery failed'))
    return delivering
  }
  return {
    stats,
    deliver,
    deps: {
      db: database.db, hasher, matcher, logger,
      onMatched: async (items) => {
        const result = await createNotices(database.db, directory, items, reporter, noticeOptions)
        stats.unassigned += result.unassigned
        if (result.created > result.unassigned) void deliver()
        return result.created
      },
    },
    async close() {
      await delivering
      await hasher.close()
    },
  }
}

/** Creates a crawl job and runs it in this process (other workers may join it). */
export async function runCrawl(app: App, options: CrawlJobOptions, io: { progress?: NodeJS.WriteStream } = {}): Promise<CrawlRunResult> {
  const session = await openCrawlSession(app)
  try {
    const job = await CrawlJob.create(session.deps, options)
    app.logger.debug({ job: job.id, seeds: options.seeds }, 'crawl started')
    const progress = io.progress ? new ProgressDisplay(io.progress, () => ({ counters: job.counters, backlog: job.mediaBacklog })) : undefined
    progress?.start()
    try {
      const summary = await job.run()
      await session.deliver()
      return { ...summary, delivered: session.stats.delivered, deliveryRetrying: session.stats.retrying, unassigned: session.stats.unassigned }
    } finally {
      progress?.stop()
    }
  } finally {
    await session.close()
  }
}
