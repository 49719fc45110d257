import { type Database, type Kysely, type Logger, describeError } from '@arachnid/core'
import type { ImageHasher } from '@arachnid/hasher'
import type { MatchService } from '@arachnid/matcher'
import { AddressGuard, BoundedFetcher } from '@arachnid/net'
import { type CrawlJobOptions, type ResolvedCrawlOptions, type WorkerOverrides, attachedCrawlOptions, resolveCrawlOptions } from './crawl-options.js'
import { type FailedRequest, type FetchedPage, createPageCrawler } from './crawler-factory.js'
import { type DiscoveredMedia, looksLikeImageUrl, looksLikeVideoUrl } from './discover.js'
import { DEFAULT_FRONTIER_OPTIONS, PostgresFrontier, workerId } from './frontier.js'
import { HostClock } from './host-clock.js'
import { CrawlJobStore, type PageRecord } from './job-store.js'
import { recordFetchedPage } from './page-writer.js'
import { summarizeJob, type JobSummary } from './job-summary.js'
import { type MatchIntake, type MediaCounters, MediaPipeline, type VideoHasherLike } from './media-pipeline.js'
import { RobotsPolicy } from './robots-policy.js'
import { JobRobotsStore } from './robots-store.js'
import { DEFAULT_DENY_LIST } from './url-policy.js'

export interface CrawlDependencies {
  readonly db: Kysely<Database>
  readonly hasher: ImageHasher
  /** Hashes the videos found (ffmpeg through the video package). Without it a video is recorded as UNSUPPORTED_FORMAT. */
  readonly videoHasher?: VideoHasherLike
  readonly matcher: MatchService
  /** Where Crawlee's log goes too. Without it, Crawlee logs nothing. */
  readonly logger?: Logger
  /**
   * Where each match batch goes: matches recorded, the review policy applied, notices created
   * (the notifier's `MatchIntake`). Without it, matches are recorded and nothing is noticed.
   */
  readonly intake?: MatchIntake
  /** This worker's id in leases (default host:pid). */
  readonly workerId?: string
}

export interface CrawlCounters extends MediaCounters {
  pages: number
  pageErrors: number
}

export interface CrawlSummary extends JobSummary {
  /** What this worker did, when several share the job. */
  readonly worker: CrawlCounters
}

/**
 * A crawl job. Its frontier and media live in the database, so any number of workers (this
 * process, `arachnid worker` processes on other machines) can share it: each `run()` takes part
 * until the job's frontier and media are done, or the job is paused or cancelled; whoever sees
 * the end marks the job finished. Pages are fetched by Crawlee's CheerioCrawler through the
 * bounded, address-checked client; media are fetched once per URL, hashed in memory, matched in
 * batches; bytes are never stored.
 *
 * @example
 * const job = await CrawlJob.create({ db, hasher, matcher }, { seeds: ['https://example.org/'] })
 * const summary = await job.run()
 */
export class CrawlJob {
  readonly id: number
  readonly counters: CrawlCounters = {
    pages: 0, pageErrors: 0, mediaQueued: 0, media: 0, mediaErrors: 0, distinctMedia: 0, bytes: 0,
    matchedMedia: 0, exactMatches: 0, nearMatches: 0, notices: 0, errors: {},
  }
  readonly #deps: CrawlDependencies
  readonly #options: ResolvedCrawlOptions
  readonly #store: CrawlJobStore
  readonly #worker: string
  #status: string = 'running'
  #frontier: PostgresFrontier | undefined
  #stopping = false

  private constructor(store: CrawlJobStore, deps: CrawlDependencies, options: ResolvedCrawlOptions) {
    this.id = store.jobId
    this.#store = store
    this.#deps = deps
    this.#options = options
    this.#worker = deps.workerId ?? workerId()
  }

  /** Records a new job (running), seeds its frontier, and returns it ready to run. */
  static async create(deps: CrawlDependencies, options: CrawlJobOptions): Promise<CrawlJob> {
    const resolved = resolveCrawlOptions(options)
    const job = new CrawlJob(await CrawlJobStore.create(deps.db, resolved), deps, resolved)
    await job.#seed()
    return job
  }

  /** A worker joining an existing job: the job's own options, with this worker's concurrency. */
  static async attach(deps: CrawlDependencies, jobId: number, overrides: WorkerOverrides = {}): Promise<CrawlJob> {
    const { store, options, seeds } = await CrawlJobStore.load(deps.db, jobId)
    return new CrawlJob(store, deps, attachedCrawlOptions(options, seeds, overrides))
  }

  /**
   * This worker stops taking part (Ctrl-C, a worker shutting down): no new pages or media are
   * taken, leased pages not yet started and media still waiting for their host's turn go back to
   * the queue, and what is under way finishes and is recorded; `run()` then returns. The job's
   * status is not changed: other workers go on, or a worker started later takes it up.
   */
  async stop(): Promise<void> {
    this.#stopping = true
    await this.#frontier?.stop()
  }

  /** Media fetches queued and not yet done, for the progress display (approximate). */
  get mediaBacklog(): number {
    return Math.max(0, this.counters.mediaQueued - this.counters.media - this.counters.mediaErrors)
  }

  /** Takes part in the job until it is done, paused or cancelled; returns the job's figures. */
  async run(): Promise<CrawlSummary> {
    const started = performance.now()
    const fetcher = this.#fetcher()
    const { pages, media, clock } = this.#parts(fetcher)
    this.#frontier = pages
    // A job paused or cancelled before this worker joined is not touched.
    await this.#watchStatus()
    if (this.#stopping) await pages.stop()
    let pagesDone = false
    const watch = setInterval(() => { void this.#watchStatus() }, 1000)
    try {
      const crawling = createPageCrawler({
        options: this.#options, frontier: pages, fetcher, clock, logger: this.#deps.logger,
        onPage: (page) => this.#handlePage(pages, media, page),
        onFailure: (request, error) => this.#recordFailure(pages, media, request, error),
      }).then((crawler) => crawler.run()).finally(() => { pagesDone = true })
      const hashing = media.run(() => pagesDone, () => this.#status !== 'running' || this.#stopping)
      const results = await Promise.allSettled([crawling, hashing])
      // Pages handled and not yet marked done are marked now, before leases are given back.
      await pages.flush().catch(() => {})
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      // Nothing of this worker is in flight any more: what it still holds goes back to the queue
      // now, for the next worker, rather than when its leases run out.
      if (failed || this.#stopping) await this.#store.releaseLeases(this.#worker, failed === undefined).catch(() => {})
      if (failed) throw failed.reason
      await this.#store.finishIfDone()
    } finally {
      clearInterval(watch)
      fetcher.close()
    }
    const summary = await summarizeJob(this.#deps.db, this.id, (performance.now() - started) / 1000)
    return { ...summary, worker: { ...this.counters, errors: { ...this.counters.errors } } }
  }

  async #seed(): Promise<void> {
    const { pages, media } = this.#parts()
    const seeds = this.#options.seeds
    const isMedia = (url: string) => looksLikeImageUrl(url) || looksLikeVideoUrl(url)
    await media.register(null, seeds.filter(isMedia).map((url) => ({ url, via: 'link' as const })))
    await pages.add(seeds.filter((s) => !isMedia(s)).map((url) => ({ url, depth: 0, reported: this.#options.reported })))
  }

  /** The job's frontier, media pipeline, robots.txt policy and politeness clock, for one run of this worker. */
  #parts(fetcher = this.#fetcher()): { pages: PostgresFrontier; media: MediaPipeline; clock: HostClock } {
    const o = this.#options
    const db = this.#deps.db
    const clock = new HostClock(db, this.id, o.politenessDelayMs)
    const robots = new RobotsPolicy(fetcher, o.robots, o.requestTimeoutMs, new JobRobotsStore(db, this.id, o.politenessDelayMs), clock)
    const urlPolicy = o.denyList ? { denyList: [...DEFAULT_DENY_LIST, ...o.denyList] } : undefined
    const pages = new PostgresFrontier(db, this.id, o.seeds, {
      ...DEFAULT_FRONTIER_OPTIONS, maxPages: o.maxPages, maxDepth: o.maxDepth, maxPagesPerHost: o.maxPagesPerHost, maxPerHost: o.maxPerHost,
      politenessDelayMs: o.politenessDelayMs, leaseMs: o.leaseMs, sameSite: o.sameSite, leaseBatch: o.browser ? Math.min(o.pageConcurrency, 4) : o.pageConcurrency,
      urlPolicy,
    }, robots, this.#worker)
    const media = new MediaPipeline({ ...this.#deps, fetcher, clock }, this.id, {
      maxMediaBytes: o.maxMediaBytes, maxVideoBytes: o.maxVideoBytes, requestTimeoutMs: o.requestTimeoutMs, maxRedirects: o.maxRedirects, concurrency: o.mediaConcurrency,
      batchSize: o.matchBatchSize, leaseMs: o.leaseMs, maxLeases: DEFAULT_FRONTIER_OPTIONS.maxLeases, urlPolicy,
    }, this.#worker, this.counters)
    return { pages, media, clock }
  }

  #fetcher(): BoundedFetcher {
    return new BoundedFetcher(new AddressGuard({ allowPrivate: this.#options.allowPrivate, allow: this.#options.allowAddresses }))
  }

  async #watchStatus(): Promise<void> {
    const status = await this.#store.status()
    if (status !== undefined && status !== this.#status) {
      this.#status = status
      if (status !== 'running') await this.#frontier?.stop()
    }
  }

  /**
   * Records a fetched page with its media, their sightings and its pattern's yield in one
   * statement (recordFetchedPage), then adds its links to the frontier.
   */
  async #handlePage(frontier: PostgresFrontier, media: MediaPipeline, page: FetchedPage): Promise<void> {
    await this.#recordPage(frontier, media, { ...page, mediaFound: page.found.media.length }, page.found.media, page.found.links)
    this.counters.pages++
    if (page.found.links.length > 0) await frontier.add(page.found.links.map((url) => ({ url, depth: page.depth + 1 })))
  }

  async #recordPage(frontier: PostgresFrontier, media: MediaPipeline, record: PageRecord, found: readonly DiscoveredMedia[], links: readonly string[]): Promise<void> {
    const allowed = found.length > 0 ? await media.allowed(found) : []
    // Counted for its pattern before its links are added (their patterns are new only until then).
    const parts = frontier.yieldParts({ url: record.url, media: [], links })
    const recorded = await recordFetchedPage(this.#deps.db, this.id, record, allowed,
      parts && { pattern: parts.pattern, example: record.url, linked: parts.linked })
    media.queued(recorded.newMedia)
    if (parts && recorded.pattern) await frontier.afterYield(parts.pattern, record.url, recorded.pattern)
  }

  async #recordFailure(frontier: PostgresFrontier, media: MediaPipeline, request: FailedRequest, error: unknown): Promise<void> {
    const { code, message } = describeError(error)
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1
    this.counters.pageErrors++
    await this.#recordPage(frontier, media, {
      url: request.url, finalUrl: request.loadedUrl ?? null, depth: Number(request.userData.depth ?? 0),
      status: null, contentType: null, bytes: null, mediaFound: 0, error: { code, message },
    }, [], [])
  }
}
