import { CrawlJob, type CrawlJobOptions, type CrawlSummary } from '@arachnid/crawler'
import { Hasher } from '@arachnid/hasher'
import { ProviderDirectory, createNotices } from '@arachnid/notifier'
import type { App } from './app.js'
import { ProgressDisplay } from './progress.js'

export interface CrawlRunResult extends CrawlSummary {
  /** Notice emails delivered (SMTP or .eml) during and right after the crawl. */
  readonly delivered: number
  readonly deliveryRetrying: number
  readonly unassigned: number
}

/**
 * A crawl job with the notifier attached: matched media get notices (through the outbox) while
 * the crawl goes on, and the outbox is delivered as it fills and once more at the end.
 */
export async function runCrawl(app: App, options: CrawlJobOptions, io: { progress?: NodeJS.WriteStream } = {}): Promise<CrawlRunResult> {
  const { config, database, matcher, logger } = app
  const hasher = new Hasher({ maxBytes: config.maxMediaBytes, maxPixels: config.maxPixels })
  const directory = await ProviderDirectory.load(database.db)
  const reporter = { name: config.reporterName, from: config.noticeFrom }
  const delivery = app.delivery()
  let unassigned = 0
  let delivered = 0
  let retrying = 0
  let delivering: Promise<void> = Promise.resolve()
  const deliver = () => {
    delivering = delivering.then(async () => {
      const result = await delivery.deliverDue()
      delivered += result.sent
      retrying = result.retrying
    }).catch((error) => logger.error({ err: error }, 'outbox delivery failed'))
    return delivering
  }
  const job = await CrawlJob.create({
    db: database.db, hasher, matcher, logger,
    onMatched: async (items) => {
      const result = await createNotices(database.db, directory, items, reporter)
      unassigned += result.unassigned
      if (result.created > result.unassigned) void deliver()
      return result.created
    },
  }, options)
  logger.debug({ job: job.id, seeds: options.seeds }, 'crawl started')
  const progress = io.progress ? new ProgressDisplay(io.progress, () => ({ counters: job.counters, backlog: job.mediaBacklog })) : undefined
  progress?.start()
  try {
    const summary = await job.run()
    await deliver()
    return { ...summary, delivered, deliveryRetrying: retrying, unassigned }
  } finally {
    progress?.stop()
    await hasher.close()
  }
}
