import { CheerioCrawler } from '@crawlee/cheerio'
import { Configuration, log as crawleeLog } from '@crawlee/core'
import { ConfigError, type Database, type Kysely, type Logger, NonRetryableError, RetryableError, describeError, sql } from '@arachnid/core'
import type { Matcher } from '@arachnid/matcher'
import { discover, looksLikeImageUrl } from './discover.js'
import { DEFAULT_FRONTIER_OPTIONS, PostgresFrontier, workerId } from './frontier.js'
import { GuardedHttpClient } from './guarded-http-client.js'
import { AddressGuard, BoundedFetcher } from '@arachnid/net'
import type { ImageHasher } from '@arachnid/hasher'
import { type MatchedMedia, type MediaCounters, MediaPipeline } from './media-pipeline.js'
import { type RobotsMode, RobotsPolicy } from './robots-policy.js'
import { summarizeJob, type JobSummary } from './job-summary.js'
import { DEFAULT_DENY_LIST as DEFAULT_FRONTIER_DENY, parseDenyEntry } from './url-policy.js'
import { CHROMIUM_ARGS, COLLECT_IN_PAGE, DEFAULT_CHROMIUM_PATH, PAGE_SETTLE, SCROLL_THROUGH_PAGE, settlePage, toDiscovery } from './browser-discovery.js'
import { HostClock } from './host-clock.js'
import type { Discovery } from './discover.js'
import type { Route } from 'playwright-core'

export interface CrawlJobOptions {
  /** Start URLs. A seed that names an image file is fetched as media directly. */
  readonly seeds: readonly string[]
  readonly name?: string
  /** Seeds are reported URLs: fetched even where robots.txt disallows, and outside the site scope. */
  readonly reported?: boolean
  /** Pages per job (default 1000). */
  readonly maxPages?: number
  /** Link depth from the seeds (default 5). */
  readonly maxDepth?: number
  /** Pages per host (default 10000): bounds calendars and other endless URL spaces. */
  readonly maxPagesPerHost?: number
  /** Requests in flight per host across all workers (default 8). */
  readonly maxPerHost?: number
  /** Least time between two requests to one host: robots.txt, pages and media (default 0; robots.txt Crawl-delay can raise it). */
  readonly politenessDelayMs?: number
  readonly maxMediaBytes?: number
  readonly maxPageBytes?: number
  readonly requestTimeoutMs?: number
  readonly maxRedirects?: number
  /** Pages fetched at once by one worker. */
  readonly pageConcurrency?: number
  /** Media fetched and hashed at once by one worker. */
  readonly mediaConcurrency?: number
  /** Media matched together in one lookup (default 64). */
  readonly matchBatchSize?: number
  /** Crawl private, loopback and link-local addresses (default false). */
  readonly allowPrivate?: boolean
  /** Addresses or CIDRs allowed although private (e.g. the demo's 127.0.0.1). */
  readonly allowAddresses?: readonly string[]
  /** Follow links only within the seeds' sites (same host or a subdomain). Default true. */
  readonly sameSite?: boolean
  /** robots.txt: obey (default) or ignore. */
  readonly robots?: RobotsMode
  /** Extra deny-list entries ("host[:port][/path-prefix]") on top of the built-in third-party-fetch list; pages and media alike. */
  readonly denyList?: readonly string[]
  /** How long a worker keeps a leased URL before another may take it (default 60 s). */
  readonly leaseMs?: number
  /** Render pages in Chromium (Crawlee's PlaywrightCrawler) so media added by scripts are found. Default false. */
  readonly browser?: boolean
  /** Chromium binary for browser mode (default /usr/bin/chromium, Debian's package). */
  readonly chromiumPath?: string
}

type ResolvedCrawlOptions = Omit<Required<CrawlJobOptions>, 'name' | 'denyList'> & { readonly name?: string; readonly denyList?: readonly string[] }

export const DEFAULT_CRAWL_OPTIONS: Omit<ResolvedCrawlOptions, 'seeds'> = {
  reported: false, maxPages: 1000, maxDepth: 5, maxPagesPerHost: 10_000, maxPerHost: 8, politenessDelayMs: 0,
  maxMediaBytes: 32 * 1024 * 1024, maxPageBytes: 5 * 1024 * 1024, requestTimeoutMs: 15_000, maxRedirects: 5,
  pageConcurrency: 8, mediaConcurrency: 8, matchBatchSize: 64, allowPrivate: false, allowAddresses: [], sameSite: true,
  robots: 'obey', leaseMs: 60_000, browser: false, chromiumPath: DEFAULT_CHROMIUM_PATH,
}

/** Options a worker may set for itself whatever the job says (they bound this process, not the job). */
export type WorkerOverrides = Partial<Pick<ResolvedCrawlOptions, 'pageConcurrency' | 'mediaConcurrency' | 'matchBatchSize'>>

export interface CrawlDependencies {
  readonly db: Kysely<Database>
  readonly hasher: ImageHasher
  readonly matcher: Matcher
  readonly logger?: Logger
  /** Called after each match batch with the matched media URLs; returns how many notices it created. */
  readonly onMatched?: (items: readonly MatchedMedia[]) => Promise<number>
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
  readonly #worker: string
  #status: string = 'running'
  #frontier: PostgresFrontier | undefined
  #stopping = false

  private constructor(id: number, deps: CrawlDependencies, options: ResolvedCrawlOptions) {
    this.id = id
    this.#deps = deps
    this.#options = options
    this.#worker = deps.workerId ?? workerId()
  }

  /** Records a new job (running), seeds its frontier, and returns it ready to run. */
  static async create(deps: CrawlDependencies, options: CrawlJobOptions): Promise<CrawlJob> {
    const resolved: ResolvedCrawlOptions = { ...DEFAULT_CRAWL_OPTIONS, ...withoutUndefined(options) }
    if (resolved.seeds.length === 0) throw new ConfigError('a crawl needs at least one seed URL')
    for (const seed of resolved.seeds) {
      if (!URL.canParse(seed) || !/^https?:$/.test(new URL(seed).protocol)) throw new ConfigError(`seed ${JSON.stringify(seed)}: not an http(s) URL`)
    }
    checkBounds(resolved)
    const { pageConcurrency: _p, mediaConcurrency: _m, ...stored } = resolved
    const row = await deps.db.insertInto('crawl_jobs').values({
      name: resolved.name ?? resolved.seeds[0]!, seeds: JSON.stringify(resolved.seeds), options: JSON.stringify(stored), status: 'running',
    }).returning('id').executeTakeFirstOrThrow()
    const job = new CrawlJob(row.id, deps, resolved)
    await job.#seed()
    return job
  }

  /** A worker joining an existing job: the job's own options, with this worker's concurrency. */
  static async attach(deps: CrawlDependencies, jobId: number, overrides: WorkerOverrides = {}): Promise<CrawlJob> {
    const row = await deps.db.selectFrom('crawl_jobs').select(['options', 'seeds', 'status']).where('id', '=', jobId).executeTakeFirst()
    if (row === undefined) throw new NonRetryableError('NO_JOB', `no job ${jobId}`)
    const stored = (typeof row.options === 'string' ? JSON.parse(row.options) : row.options) as Partial<ResolvedCrawlOptions>
    const seeds = (typeof row.seeds === 'string' ? JSON.parse(row.seeds) : row.seeds) as string[]
    const resolved = { ...DEFAULT_CRAWL_OPTIONS, ...stored, seeds, ...withoutUndefined(overrides) }
    checkBounds({ ...DEFAULT_CRAWL_OPTIONS, seeds, ...withoutUndefined(overrides) })
    return new CrawlJob(jobId, deps, resolved)
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

  async #seed(): Promise<void> {
    const { pages, media } = this.#parts()
    const seeds = this.#options.seeds
    await media.register(null, seeds.filter(looksLikeImageUrl).map((url) => ({ url, via: 'link' as const })))
    await pages.add(seeds.filter((s) => !looksLikeImageUrl(s)).map((url) => ({ url, depth: 0, reported: this.#options.reported })))
  }

  #parts(fetcher = this.#fetcher()): { pages: PostgresFrontier; media: MediaPipeline; fetcher: BoundedFetcher; robots: RobotsPolicy; clock: HostClock } {
    const o = this.#options
    const db = this.#deps.db
    const clock = new HostClock(db, this.id, o.politenessDelayMs)
    const robots = new RobotsPolicy(fetcher, o.robots, o.requestTimeoutMs, {
      get: async (origin) => {
        const row = await db.selectFrom('frontier_hosts').select('robots').where('job_id', '=', this.id).where('host', '=', new URL(origin).host)
          .where('robots_fetched_at', 'is not', null).executeTakeFirst()
        return row ? (row.robots ?? '') : undefined
      },
      put: async (origin, body) => {
        await db.insertInto('frontier_hosts').values({ job_id: this.id, host: new URL(origin).host, delay_ms: o.politenessDelayMs, robots: body, robots_fetched_at: new Date() })
          .onConflict((oc) => oc.columns(['job_id', 'host']).doUpdateSet({ robots: body, robots_fetched_at: new Date() })).execute()
      },
    }, clock)
    const urlPolicy = o.denyList ? { denyList: [...DEFAULT_FRONTIER_DENY, ...o.denyList] } : undefined
    const pages = new PostgresFrontier(this.#deps.db, this.id, o.seeds, {
      ...DEFAULT_FRONTIER_OPTIONS, maxPages: o.maxPages, maxDepth: o.maxDepth, maxPagesPerHost: o.maxPagesPerHost, maxPerHost: o.maxPerHost,
      politenessDelayMs: o.politenessDelayMs, leaseMs: o.leaseMs, sameSite: o.sameSite, leaseBatch: o.browser ? Math.min(o.pageConcurrency, 4) : o.pageConcurrency,
      urlPolicy,
    }, robots, this.#worker)
    const media = new MediaPipeline({ ...this.#deps, fetcher, clock }, this.id, {
      maxMediaBytes: o.maxMediaBytes, requestTimeoutMs: o.requestTimeoutMs, maxRedirects: o.maxRedirects, concurrency: o.mediaConcurrency,
      batchSize: o.matchBatchSize, leaseMs: o.leaseMs, maxLeases: DEFAULT_FRONTIER_OPTIONS.maxLeases, urlPolicy,
    }, this.#worker, this.counters)
    return { pages, media, fetcher, robots, clock }
  }

  #fetcher(): BoundedFetcher {
    return new BoundedFetcher(new AddressGuard({ allowPrivate: this.#options.allowPrivate, allow: this.#options.allowAddresses }))
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
      const crawling = this.#crawlPages(pages, fetcher, media, clock).finally(() => { pagesDone = true })
      const hashing = media.run(() => pagesDone, () => this.#status !== 'running' || this.#stopping)
      const results = await Promise.allSettled([crawling, hashing])
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      // Nothing of this worker is in flight any more: what it still holds goes back to the queue
      // now, for the next worker, rather than when its leases run out.
      if (failed || this.#stopping) await this.#releaseLeases(failed === undefined).catch(() => {})
      if (failed) throw failed.reason
      await this.#finishIfDone()
    } finally {
      clearInterval(watch)
      fetcher.close()
    }
    const summary = await summarizeJob(this.#deps.db, this.id, (performance.now() - started) / 1000)
    return { ...summary, worker: { ...this.counters, errors: { ...this.counters.errors } } }
  }

  async #watchStatus(): Promise<void> {
    const row = await this.#deps.db.selectFrom('crawl_jobs').select('status').where('id', '=', this.id).executeTakeFirst().catch(() => undefined)
    if (row && row.status !== this.#status) {
      this.#status = row.status
      if (row.status !== 'running') await this.#frontier?.stop()
    }
  }

  /** `unstarted`: what is given back was never started (a stop), so its lease does not count towards giving it up. */
  async #releaseLeases(unstarted: boolean): Promise<void> {
    const db = this.#deps.db
    const attempts = unstarted ? sql<number>`greatest(attempts - 1, 0)` : sql<number>`attempts`
    await db.updateTable('frontier').set({ status: 'queued', lease_until: null, leased_by: null, attempts })
      .where('job_id', '=', this.id).where('status', '=', 'leased').where('leased_by', '=', this.#worker).execute()
    await db.updateTable('media_fetches').set({ state: 'pending', lease_until: null, leased_by: null, attempts })
      .where('job_id', '=', this.id).where('state', '=', 'leased').where('leased_by', '=', this.#worker).execute()
  }

  /** Marks the job finished when nothing of it is open, whichever worker gets here first. */
  async #finishIfDone(): Promise<void> {
    // The figures stored are those of the finished job (summarizeJob still reads it as running).
    const summary = { ...(await summarizeJob(this.#deps.db, this.id)), status: 'finished' }
    await sql`update crawl_jobs set status = 'finished', finished_at = now(), updated_at = now(), summary = ${JSON.stringify(summary)}
      where id = ${this.id} and status = 'running'
        and not exists (select 1 from frontier where job_id = ${this.id} and status in ('queued', 'leased'))
        and not exists (select 1 from media_fetches where job_id = ${this.id} and state in ('pending', 'leased'))`.execute(this.#deps.db)
  }

  /** Records a fetched page, registers its media and adds its links to the frontier. */
  async #handlePage(frontier: PostgresFrontier, media: MediaPipeline, page: { url: string; finalUrl: string; depth: number; status: number | null; contentType: string; bytes: number; found: Discovery }): Promise<void> {
    const pageId = await this.#recordPage({ ...page, mediaFound: page.found.media.length })
    this.counters.pages++
    await media.register(pageId, page.found.media)
    if (page.found.links.length > 0) await frontier.add(page.found.links.map((url) => ({ url, depth: page.depth + 1 })))
  }

  async #recordFailure(request: { url: string; loadedUrl?: string; userData: Record<string, unknown> }, error: unknown): Promise<void> {
    const { code, message } = describeError(error)
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1
    this.counters.pageErrors++
    await this.#recordPage({
      url: request.url, finalUrl: request.loadedUrl ?? null, depth: Number(request.userData.depth ?? 0),
      status: null, contentType: null, bytes: null, mediaFound: 0, error: { code, message },
    })
  }

  /**
   * Browser mode: Chromium renders each page (scripts run, lazy images are scrolled into view),
   * then an in-page script collects media. Every request the page makes is checked by the address
   * guard first; images, media and fonts are not downloaded by the browser (the media pipeline
   * fetches what it needs through the bounded client).
   */
  /** What the HTTP and the browser crawler share: the frontier, retries, timeouts, failure records. */
  #sharedCrawlerOptions(frontier: PostgresFrontier) {
    const o = this.#options
    return {
      requestManager: frontier,
      maxRequestRetries: 2,
      navigationTimeoutSecs: Math.ceil(o.requestTimeoutMs / 1000),
      requestHandlerTimeoutSecs: Math.ceil(o.requestTimeoutMs / 1000) * 4,
      useSessionPool: false,
      persistCookiesPerSession: false,
      statusMessageLoggingInterval: 3600,
      errorHandler: ({ request }: { request: { noRetry: boolean } }, error: Error) => {
        if ((error as { retryable?: boolean }).retryable === false) request.noRetry = true
      },
      failedRequestHandler: async ({ request }: { request: { url: string; loadedUrl?: string; userData: Record<string, unknown> } }, error: Error) => this.#recordFailure(request, error),
    }
  }

  async #crawlPagesInBrowser(frontier: PostgresFrontier, fetcher: BoundedFetcher, media: MediaPipeline, clock: HostClock): Promise<void> {
    const o = this.#options
    const { PlaywrightCrawler } = await import('@crawlee/playwright')
    acceptOn(PlaywrightCrawler)
    const { chromium } = await import('playwright-core')
    crawleeLog.setLevel(crawleeLog.LEVELS.OFF)
    const config = new Configuration({ persistStorage: false, purgeOnStart: true, availableMemoryRatio: 0.5 })
    const guard = fetcher.guard
    const crawler = new PlaywrightCrawler({
      launchContext: { launcher: chromium, launchOptions: { executablePath: o.chromiumPath, headless: true, args: [...CHROMIUM_ARGS] }, useIncognitoPages: true },
      browserPoolOptions: { useFingerprints: false },
      ...this.#sharedCrawlerOptions(frontier),
      maxConcurrency: Math.max(1, Math.min(o.pageConcurrency, 4)),
      preNavigationHooks: [async ({ page }) => {
        await page.route('**/*', async (route: Route) => {
          const request = route.request()
          const kind = request.resourceType()
          if (kind === 'image' || kind === 'media' || kind === 'font') return route.abort()
          try {
            const url = new URL(request.url())
            if (url.protocol === 'data:' || url.protocol === 'blob:') return route.continue()
            guard.checkHost(url.hostname)
            await new Promise<void>((resolve, reject) => guard.lookup(url.hostname, {}, (error: unknown) => (error ? reject(error) : resolve())))
            // Politeness: the page, its scripts, styles and XHRs each take the host's turn as they go out.
            await clock.turn(url)
            return route.continue()
          } catch {
            return route.abort('addressunreachable')
          }
        })
      }],
      requestHandler: async ({ request, response, page }) => {
        const status = response?.status() ?? null
        if (status === 429) throw new RetryableError('HTTP_STATUS', `HTTP 429 from ${request.url}`)
        await page.waitForLoadState('load').catch(() => {})
        // Let scripts that run after load finish changing the page, scroll so lazy loaders see their
        // images in view, and let them react. In-page code is passed as source text, so it runs the
        // same whichever compiler built this file (see COLLECT_IN_PAGE).
        const settle = settlePage(PAGE_SETTLE.quietMs, PAGE_SETTLE.maxMs)
        await page.evaluate(settle).catch(() => {})
        await page.evaluate(SCROLL_THROUGH_PAGE).catch(() => {})
        await page.evaluate(settle).catch(() => {})
        const found = toDiscovery(await page.evaluate(COLLECT_IN_PAGE))
        const html = await page.content()
        await this.#handlePage(frontier, media, {
          url: request.url, finalUrl: page.url(), depth: Number(request.userData.depth ?? 0), status,
          contentType: String(response?.headers()['content-type'] ?? ''), bytes: Buffer.byteLength(html), found,
        })
      },
    }, config)
    await crawler.run()
  }

  async #crawlPages(frontier: PostgresFrontier, fetcher: BoundedFetcher, media: MediaPipeline, clock: HostClock): Promise<void> {
    const o = this.#options
    if (o.browser) return this.#crawlPagesInBrowser(frontier, fetcher, media, clock)
    crawleeLog.setLevel(crawleeLog.LEVELS.OFF)
    const config = new Configuration({ persistStorage: false, purgeOnStart: true, availableMemoryRatio: 0.5 })
    const crawler = new CheerioCrawler({
      // Politeness: each page request (and redirect hop) takes its host's turn as it goes out.
      httpClient: new GuardedHttpClient(fetcher, { maxBytes: o.maxPageBytes, timeoutMs: o.requestTimeoutMs, maxRedirects: o.maxRedirects, beforeRequest: (url) => clock.turn(url) },
        (host, delayMs) => { void frontier.backoff(host, delayMs) }),
      maxConcurrency: o.pageConcurrency,
      // The operator sets concurrency; Crawlee's autoscaling would also react to other processes' load.
      minConcurrency: o.pageConcurrency,
      // Look for the next URL soon after one is added by another worker (Crawlee's default is 0.5 s).
      autoscaledPoolOptions: { maybeRunIntervalSecs: 0.05 },
      ...this.#sharedCrawlerOptions(frontier),
      requestHandler: async ({ request, response, $, body }) => {
        if (response.statusCode === 429) throw new RetryableError('HTTP_STATUS', `HTTP 429 from ${request.url}`)
        const finalUrl = request.loadedUrl ?? request.url
        await this.#handlePage(frontier, media, {
          url: request.url, finalUrl, depth: Number(request.userData.depth ?? 0), status: response.statusCode ?? null,
          contentType: String(response.headers['content-type'] ?? ''), bytes: Buffer.byteLength(body as never), found: discover($ as never, finalUrl),
        })
      },
    }, config)
    await crawler.run()
  }

  async #recordPage(page: { url: string; finalUrl: string | null; depth: number; status: number | null; contentType: string | null; bytes: number | null; mediaFound: number; error?: { code: string; message: string } }): Promise<number> {
    const row = await this.#deps.db.insertInto('pages').values({
      job_id: this.id, url: page.url, final_url: page.finalUrl, depth: page.depth, status: page.status,
      content_type: page.contentType, bytes: page.bytes, media_found: page.mediaFound,
      error_code: page.error?.code ?? null, error_message: page.error?.message.slice(0, 1000) ?? null,
    }).onConflict((oc) => oc.columns(['job_id', 'url']).doUpdateSet((eb) => ({
      final_url: eb.ref('excluded.final_url'), status: eb.ref('excluded.status'), error_code: eb.ref('excluded.error_code'),
      error_message: eb.ref('excluded.error_message'), media_found: eb.ref('excluded.media_found'),
    }))).returning('id').executeTakeFirstOrThrow()
    return row.id
  }
}

/**
 * Crawlee 3.18's BasicCrawler takes a `requestManager`, but HttpCrawler validates its options
 * with an exact shape that omits it. Accept it with the validator used for `requestQueue`, which
 * checks the same interface (fetchNextRequest, addRequest).
 */
function acceptOn(crawlerClass: unknown): void {
  let ctor: unknown = crawlerClass
  while (ctor && typeof ctor === 'function') {
    const shape = (ctor as { optionsShape?: Record<string, unknown> }).optionsShape
    if (shape && !('requestManager' in shape) && 'requestQueue' in shape) shape.requestManager = shape.requestQueue
    ctor = Object.getPrototypeOf(ctor)
  }
}
// PlaywrightCrawler gets the same fix when browser mode loads it.
acceptOn(CheerioCrawler)

/** Bounds that would make a job hang or loop (a cap of 0 leases nothing, ever) are refused up front. */
function checkBounds(o: ResolvedCrawlOptions): void {
  const at = (name: string, value: number, min: number, max: number) => {
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new ConfigError(`${name} ${value}: expected an integer from ${min} to ${max}`)
  }
  at('maxPages', o.maxPages, 1, 100_000_000)
  at('maxDepth', o.maxDepth, 0, 1000)
  at('maxPagesPerHost', o.maxPagesPerHost, 1, 100_000_000)
  at('maxPerHost', o.maxPerHost, 1, 1000)
  at('politenessDelayMs', o.politenessDelayMs, 0, 3_600_000)
  at('pageConcurrency', o.pageConcurrency, 1, 1000)
  at('mediaConcurrency', o.mediaConcurrency, 1, 1000)
  at('matchBatchSize', o.matchBatchSize, 1, 100_000)
  for (const entry of o.denyList ?? []) parseDenyEntry(entry)
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
