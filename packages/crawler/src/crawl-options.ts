import { ConfigError, SETTINGS, withDefaults } from '@arachnid/core'
import { DEFAULT_CHROMIUM_PATH } from './browser-discovery.js'
import type { RobotsMode } from './robots-policy.js'
import { parseDenyEntry } from './url-policy.js'

/**
 * What a crawl job is asked to do. Each option that is a setting defaults to that setting's
 * default (`SETTINGS`; the CLI passes the configured values); the others default to
 * `DEFAULT_CRAWL_OPTIONS`'s own.
 */
export interface CrawlJobOptions {
  /** Start URLs. A seed that names an image file is fetched as media directly. */
  readonly seeds: readonly string[]
  readonly name?: string
  /** Seeds are reported URLs: fetched even where robots.txt disallows, and outside the site scope. */
  readonly reported?: boolean
  /** Pages per job (setting ARACHNID_MAX_PAGES). */
  readonly maxPages?: number
  /** Link depth from the seeds (setting ARACHNID_MAX_DEPTH). */
  readonly maxDepth?: number
  /** Pages per host (default 10000): bounds calendars and other endless URL spaces. */
  readonly maxPagesPerHost?: number
  /** Requests in flight per host across all workers (default 8). */
  readonly maxPerHost?: number
  /** Least time between two requests to one host: robots.txt, pages and media (default 0; robots.txt Crawl-delay can raise it). */
  readonly politenessDelayMs?: number
  /** Bytes per media response (setting ARACHNID_MAX_MEDIA_BYTES). */
  readonly maxMediaBytes?: number
  /** Bytes per video response (setting ARACHNID_MAX_VIDEO_BYTES). */
  readonly maxVideoBytes?: number
  /** Bytes per HTML page (setting ARACHNID_MAX_PAGE_BYTES). */
  readonly maxPageBytes?: number
  /** Time per request, pages and media (setting ARACHNID_REQUEST_TIMEOUT_MS). */
  readonly requestTimeoutMs?: number
  /** Redirects followed per request (setting ARACHNID_MAX_REDIRECTS). */
  readonly maxRedirects?: number
  /** Pages fetched at once by one worker (setting ARACHNID_PAGE_CONCURRENCY). */
  readonly pageConcurrency?: number
  /** Media fetched and hashed at once by one worker (setting ARACHNID_MEDIA_CONCURRENCY). */
  readonly mediaConcurrency?: number
  /** Media matched together in one lookup (setting ARACHNID_MATCH_BATCH). */
  readonly matchBatchSize?: number
  /** Crawl private, loopback and link-local addresses (setting ARACHNID_ALLOW_PRIVATE). */
  readonly allowPrivate?: boolean
  /** Addresses or CIDRs allowed although private (e.g. the demo's 127.0.0.1). Default none. */
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
  /**
   * Budgets per URL pattern, driven by yield (default true): a URL pattern (host and path shape,
   * query keys; see urlPattern) whose last `patternWindow` pages brought no new media URL and no
   * link of a new pattern may add at most `patternBudget` further requests; the rest are skipped
   * as PATTERN_BARREN. A page of it that yields again lifts the cap.
   */
  readonly patternBudgets?: boolean
  /** Pages of a pattern in a row without yield before its budget shrinks (default 50). */
  readonly patternWindow?: number
  /** Requests a barren pattern still gets (default 100). */
  readonly patternBudget?: number
}

/** A job's options with every default filled in. */
export type ResolvedCrawlOptions = Omit<Required<CrawlJobOptions>, 'name' | 'denyList'> & { readonly name?: string; readonly denyList?: readonly string[] }

/** The defaults, in one place: the limits that are settings come from `SETTINGS`, the rest are the crawler's own. */
export const DEFAULT_CRAWL_OPTIONS: Omit<ResolvedCrawlOptions, 'seeds'> = {
  reported: false, maxPages: SETTINGS.maxPages.default, maxDepth: SETTINGS.maxDepth.default, maxPagesPerHost: 10_000, maxPerHost: 8,
  politenessDelayMs: 0, maxMediaBytes: SETTINGS.maxMediaBytes.default, maxVideoBytes: SETTINGS.maxVideoBytes.default, maxPageBytes: SETTINGS.maxPageBytes.default,
  requestTimeoutMs: SETTINGS.requestTimeoutMs.default, maxRedirects: SETTINGS.maxRedirects.default,
  pageConcurrency: SETTINGS.pageConcurrency.default, mediaConcurrency: SETTINGS.mediaConcurrency.default,
  matchBatchSize: SETTINGS.matchBatchSize.default, allowPrivate: SETTINGS.allowPrivate.default, allowAddresses: [], sameSite: true,
  robots: 'obey', leaseMs: 60_000, browser: false, chromiumPath: DEFAULT_CHROMIUM_PATH,
  patternBudgets: true, patternWindow: 50, patternBudget: 100,
}

/** Options a worker may set for itself whatever the job says (they bound this process, not the job). */
export type WorkerOverrides = Partial<Pick<ResolvedCrawlOptions, 'pageConcurrency' | 'mediaConcurrency' | 'matchBatchSize'>>

/** A new job's options over the defaults, checked: seeds, and bounds that would make a job hang or loop. */
export function resolveCrawlOptions(options: CrawlJobOptions): ResolvedCrawlOptions {
  const resolved = withDefaults({ ...DEFAULT_CRAWL_OPTIONS, seeds: [] as readonly string[] }, options) as ResolvedCrawlOptions
  if (resolved.seeds.length === 0) throw new ConfigError('a crawl needs at least one seed URL')
  for (const seed of resolved.seeds) {
    if (!URL.canParse(seed) || !/^https?:$/.test(new URL(seed).protocol)) throw new ConfigError(`seed ${JSON.stringify(seed)}: not an http(s) URL`)
  }
  checkBounds(resolved)
  return resolved
}

/**
 * An existing job's options as stored (options added since default), with this worker's own
 * overrides; the overrides are checked.
 */
export function attachedCrawlOptions(stored: Partial<ResolvedCrawlOptions>, seeds: readonly string[], overrides: WorkerOverrides): ResolvedCrawlOptions {
  checkBounds(withDefaults({ ...DEFAULT_CRAWL_OPTIONS, seeds }, overrides))
  return withDefaults({ ...DEFAULT_CRAWL_OPTIONS, ...stored, seeds }, overrides)
}

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
  at('patternWindow', o.patternWindow, 1, 1_000_000)
  at('patternBudget', o.patternBudget, 0, 100_000_000)
  for (const entry of o.denyList ?? []) parseDenyEntry(entry)
}
