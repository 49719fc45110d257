import { CheerioCrawler } from '@crawlee/cheerio'
import { Configuration } from '@crawlee/core'
import { type Logger, RetryableError } from '@arachnid/core'
import type { BoundedFetcher } from '@arachnid/net'
import type { Route } from 'playwright-core'
import { CHROMIUM_ARGS, COLLECT_IN_PAGE, PAGE_SETTLE, SCROLL_THROUGH_PAGE, settlePage, toDiscovery } from './browser-discovery.js'
import type { ResolvedCrawlOptions } from './crawl-options.js'
import { crawleeLog } from './crawlee-log.js'
import { type Discovery, discover } from './discover.js'
import type { PostgresFrontier } from './frontier.js'
import { GuardedHttpClient } from './guarded-http-client.js'
import type { HostClock } from './host-clock.js'

/** A page fetched (and rendered, in the browser) with what was found on it. */
export interface FetchedPage {
  readonly url: string
  readonly finalUrl: string
  readonly depth: number
  readonly status: number | null
  readonly contentType: string
  readonly bytes: number
  readonly found: Discovery
}

/** A request Crawlee gave up on (retries spent, or not retryable). */
export interface FailedRequest {
  readonly url: string
  readonly loadedUrl?: string
  readonly userData: Record<string, unknown>
}

/** What a crawler is built from: the job's frontier and options, the bounded fetcher, the politeness clock, and where pages go. */
export interface CrawlerParts {
  readonly options: ResolvedCrawlOptions
  readonly frontier: PostgresFrontier
  readonly fetcher: BoundedFetcher
  readonly clock: HostClock
  readonly logger?: Logger
  readonly onPage: (page: FetchedPage) => Promise<void>
  readonly onFailure: (request: FailedRequest, error: Error) => Promise<void>
}

/** The part of Crawlee's crawlers a job uses. */
export interface PageCrawler {
  run(): Promise<unknown>
}

/**
 * The crawler of a job: Crawlee's CheerioCrawler over our bounded, address-checked HTTP client,
 * or (`browser`) its PlaywrightCrawler driving Debian's Chromium. Either takes its requests from
 * the job's frontier in Postgres, logs into our pino logger, and hands each page to `onPage`
 * and each request it gives up on to `onFailure`.
 */
export async function createPageCrawler(parts: CrawlerParts): Promise<PageCrawler> {
  const withYield = countingYield(parts)
  return parts.options.browser ? createBrowserCrawler(withYield) : createHttpCrawler(withYield)
}

/**
 * Pattern budgets: the frontier takes the job's knobs. What each page yielded is counted by
 * `onPage` and `onFailure` before the page's media and links are added (the crawl job does it in
 * the statement that records the page: recordFetchedPage), a page Crawlee gave up on yielding nothing.
 */
function countingYield(parts: CrawlerParts): CrawlerParts {
  const { frontier, options: o } = parts
  frontier.setPatternBudget({ enabled: o.patternBudgets, window: o.patternWindow, budget: o.patternBudget })
  return parts
}

/** Crawlee's own storage kept in memory and not purged from disk: the frontier is ours. */
function crawleeConfiguration(): Configuration {
  return new Configuration({ persistStorage: false, purgeOnStart: true, availableMemoryRatio: 0.5 })
}

/** What the HTTP and the browser crawler share: the frontier, retries, timeouts, failure records, the log. */
function sharedOptions(parts: CrawlerParts, name: string) {
  const o = parts.options
  return {
    requestManager: parts.frontier,
    maxRequestRetries: 2,
    navigationTimeoutSecs: Math.ceil(o.requestTimeoutMs / 1000),
    requestHandlerTimeoutSecs: Math.ceil(o.requestTimeoutMs / 1000) * 4,
    useSessionPool: false,
    persistCookiesPerSession: false,
    statusMessageLoggingInterval: 3600,
    log: crawleeLog(parts.logger, name),
    errorHandler: ({ request }: { request: { noRetry: boolean } }, error: Error) => {
      // Our errors say whether trying again may help; Crawlee's retries are spent only on those that may.
      if ((error as { retryable?: boolean }).retryable === false) request.noRetry = true
    },
    failedRequestHandler: async ({ request }: { request: FailedRequest }, error: Error) => parts.onFailure(request, error),
  }
}

function createHttpCrawler(parts: CrawlerParts): PageCrawler {
  const { options: o, frontier, fetcher, clock } = parts
  return new CheerioCrawler({
    // Politeness: each page request (and redirect hop) takes its host's turn as it goes out.
    httpClient: new GuardedHttpClient(fetcher, { maxBytes: o.maxPageBytes, timeoutMs: o.requestTimeoutMs, maxRedirects: o.maxRedirects, beforeRequest: (url) => clock.turn(url) },
      (host, delayMs) => { void frontier.backoff(host, delayMs) }),
    maxConcurrency: o.pageConcurrency,
    // The operator sets concurrency; Crawlee's autoscaling would also react to other processes' load.
    minConcurrency: o.pageConcurrency,
    // Look for the next URL soon after one is added by another worker (Crawlee's default is 0.5 s).
    autoscaledPoolOptions: { maybeRunIntervalSecs: 0.05 },
    ...sharedOptions(parts, 'CheerioCrawler'),
    requestHandler: async ({ request, response, $, body }) => {
      if (response.statusCode === 429) throw new RetryableError('HTTP_STATUS', `HTTP 429 from ${request.url}`)
      const finalUrl = request.loadedUrl ?? request.url
      await parts.onPage({
        url: request.url, finalUrl, depth: Number(request.userData.depth ?? 0), status: response.statusCode ?? null,
        contentType: String(response.headers['content-type'] ?? ''), bytes: Buffer.byteLength(body as never), found: discover($ as never, finalUrl),
      })
    },
  }, crawleeConfiguration())
}

/**
 * Browser mode: Chromium renders each page (scripts run, lazy images are scrolled into view),
 * then an in-page script collects media. Every request the page makes is checked by the address
 * guard first; images, media and fonts are not downloaded by the browser (the media pipeline
 * fetches what it needs through the bounded client).
 */
async function createBrowserCrawler(parts: CrawlerParts): Promise<PageCrawler> {
  const { options: o, fetcher, clock } = parts
  const { PlaywrightCrawler } = await import('@crawlee/playwright')
  acceptOn(PlaywrightCrawler)
  const { chromium } = await import('playwright-core')
  const guard = fetcher.guard
  return new PlaywrightCrawler({
    launchContext: { launcher: chromium, launchOptions: { executablePath: o.chromiumPath, headless: true, args: [...CHROMIUM_ARGS] }, useIncognitoPages: true },
    browserPoolOptions: { useFingerprints: false },
    ...sharedOptions(parts, 'PlaywrightCrawler'),
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
      await parts.onPage({
        url: request.url, finalUrl: page.url(), depth: Number(request.userData.depth ?? 0), status,
        contentType: String(response?.headers()['content-type'] ?? ''), bytes: Buffer.byteLength(html), found,
      })
    },
  }, crawleeConfiguration())
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
