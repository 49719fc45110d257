import path from 'node:path'
import { CriticalError, describeError } from '@arachnid/core'
import { CrawlJob, type CrawlDependencies, type CrawlJobOptions, type CrawlSummary, LiveSummaryWriter, setJobStatus, summarizeJob } from '@arachnid/crawler'
import { Hasher } from '@arachnid/hasher'
import { AckLinks, MatchIntake, ProviderDirectory, loadNoticeTemplates } from '@arachnid/notifier'
import type { App } from './app.js'
import { ProgressDisplay } from './progress.js'

export interface CrawlRunResult extends CrawlSummary {
  /** Emails of the job's notices delivered (SMTP or .eml). */
  readonly delivered: number
  /** Emails of the job's notices whose delivery failed and will be tried again (`arachnid notify worker`). */
  readonly deliveryRetrying: number
  /** Emails of the job's notices whose delivery failed: still retrying, or given up. */
  readonly deliveryFailed: number
  /** Why the latest failed delivery failed (e.g. the SMTP server's answer), or null. */
  readonly deliveryError: string | null
  readonly unassigned: number
  /** The crawl was interrupted (SIGINT, SIGTERM): the job is paused, and `arachnid jobs resume` lets workers finish it. */
  readonly interrupted: boolean
}

/** Where a process holding the embedded database writes its jobs' live figures (`arachnid jobs show` reads them). */
export function liveSummaryDir(home: string): string {
  return path.join(home, 'jobs')
}

/** Writes live figures of the jobs this process crawls when it holds the embedded database (nobody else can read them). */
export function liveSummaries(app: App): LiveSummaryWriter | undefined {
  return app.database.dialect === 'pglite' ? new LiveSummaryWriter(app.database.db, liveSummaryDir(app.config.home), { logger: app.logger }) : undefined
}

/**
 * What a crawling process needs, wired once: the hasher, the matcher, and the notifier's match
 * intake, so that matched media are recorded, routed by the review policy and noticed (through
 * the outbox) while the crawl goes on, with the outbox delivered as it fills.
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
  const hasher = new Hasher({ maxBytes: config.maxMediaBytes, maxPixels: config.maxPixels, dihedral: true, workers: config.hashWorkers })
  // Videos are decoded by Debian's ffmpeg, one at a time per worker (ffmpeg uses several threads of its own).
  const { VideoHasher } = await import('@arachnid/video')
  const videoHasher = new VideoHasher({
    maxBytes: config.maxVideoBytes, maxPixels: config.maxPixels, maxWallMs: config.videoTimeoutMs,
    maxFrames: config.maxVideoFrames, maxDurationSeconds: config.maxVideoSeconds,
  })
  const delivery = await app.delivery()
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
  const intake = new MatchIntake(database.db, {
    reporter: { name: config.reporterName, from: config.noticeFrom },
    lookup: await ProviderDirectory.load(database.db),
    // Emails written during the crawl carry the same acknowledgement link and wording as the worker's.
    notices: {
      ack: config.ackSecret && config.ackBaseUrl ? new AckLinks({ secret: config.ackSecret, baseUrl: config.ackBaseUrl, ttlHours: config.ackTtlHours }) : undefined,
      templates: config.noticeTemplateDir ? await loadNoticeTemplates(config.noticeTemplateDir) : undefined,
      recheckIntervalSeconds: config.recheckIntervalSeconds,
      retryBaseSeconds: Math.max(1, config.deliveryIntervalSeconds),
    },
    onNotices: (result) => {
      stats.unassigned += result.unassigned
      if (result.created > result.unassigned) void deliver()
    },
  })
  return {
    stats,
    deliver,
    deps: { db: database.db, hasher, videoHasher, matcher, logger, intake },
    async close() {
      await delivering
      await hasher.close()
      await videoHasher.close()
    },
  }
}

export interface RunCrawlIo {
  /** Where the live progress line goes. */
  readonly progress?: NodeJS.WriteStream
  /** Aborting it interrupts the crawl: the job is paused, what is under way finishes, and the summary says so. */
  readonly signal?: AbortSignal
  /** Called once the job exists. */
  readonly onJob?: (jobId: number) => void
}

/** Creates a crawl job and runs it in this process (other workers may join it). */
export async function runCrawl(app: App, options: CrawlJobOptions, io: RunCrawlIo = {}): Promise<CrawlRunResult> {
  const session = await openCrawlSession(app)
  const live = liveSummaries(app)
  try {
    // A matching service that refuses our credentials is said before a job exists, not by a job left running.
    await app.matcher.check?.()
    const job = await CrawlJob.create(session.deps, options)
    app.logger.debug({ job: job.id, seeds: options.seeds }, 'crawl started')
    io.onJob?.(job.id)
    let interrupted = false
    const interrupt = async () => {
      interrupted = true
      // Paused, so no worker takes it up until the operator says so (`arachnid jobs resume`).
      await setJobStatus(app.database.db, job.id, 'pause').catch(() => {})
      await job.stop()
    }
    const onAbort = () => { void interrupt() }
    if (io.signal?.aborted) await interrupt()
    else io.signal?.addEventListener('abort', onAbort, { once: true })
    const progress = io.progress ? new ProgressDisplay(io.progress, () => ({ counters: job.counters, backlog: job.mediaBacklog })) : undefined
    progress?.start()
    await live?.track(job.id)
    try {
      let summary: CrawlSummary
      try {
        summary = await job.run()
      } catch (error) {
        throw new CriticalError('CRAWL_FAILED', `crawl job ${job.id} stopped: ${describeError(error).message}; the job is left running for \`arachnid worker\` to finish (or \`arachnid jobs cancel ${job.id}\`)`, { cause: error })
      }
      await session.deliver()
      // The job's figures once delivery is done (delivery figures included).
      const final = { ...summary, ...(await summarizeJob(app.database.db, job.id, summary.seconds)) }
      const d = final.delivery
      return {
        ...final, delivered: d.sent, deliveryRetrying: d.retrying, deliveryFailed: d.retrying + d.failed, deliveryError: d.lastError,
        unassigned: d.unassigned, interrupted,
      }
    } finally {
      io.signal?.removeEventListener('abort', onAbort)
      progress?.stop()
      await live?.untrack(job.id)
    }
  } finally {
    await live?.close()
    await session.close()
  }
}
