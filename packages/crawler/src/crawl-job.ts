import { createHash } from 'node:crypto'
import { CheerioCrawler } from '@crawlee/cheerio'
import { Configuration, log as crawleeLog } from '@crawlee/core'
import { type Database, type Kysely, type Logger, describeError, hexToBytes, sql } from '@arachnid/core'
import type { ImageHashes } from '@arachnid/hasher'
import { type KnownMatch, type Matcher, type Probe, recordMatches } from '@arachnid/matcher'
import { AddressGuard } from './address-guard.js'
import { discover, looksLikeImageUrl, type DiscoveredMedia } from './discover.js'
import { GuardedHttpClient } from './guarded-http-client.js'
import { BoundedFetcher, evidenceHeaders } from './http-fetch.js'
import { WorkQueue } from './work-queue.js'

export interface CrawlJobOptions {
  /** Start URLs. A seed that names an image file is fetched as media directly. */
  readonly seeds: readonly string[]
  readonly name?: string
  /** Pages per job (default 1000). */
  readonly maxPages?: number
  /** Link depth from the seeds (default 5). */
  readonly maxDepth?: number
  readonly maxMediaBytes?: number
  readonly maxPageBytes?: number
  readonly requestTimeoutMs?: number
  readonly maxRedirects?: number
  readonly pageConcurrency?: number
  readonly mediaConcurrency?: number
  /** Media hashed before one batched match lookup (default 64). */
  readonly matchBatchSize?: number
  /** Crawl private, loopback and link-local addresses (default false). */
  readonly allowPrivate?: boolean
  /** Addresses or CIDRs allowed although private (e.g. the demo's 127.0.0.1). */
  readonly allowAddresses?: readonly string[]
  /** Follow links only within the seeds' sites (same host or a subdomain). Default true. */
  readonly sameSite?: boolean
}

type ResolvedCrawlOptions = Omit<Required<CrawlJobOptions>, 'name'> & { readonly name?: string }

export const DEFAULT_CRAWL_OPTIONS: Omit<ResolvedCrawlOptions, 'seeds'> = {
  maxPages: 1000, maxDepth: 5, maxMediaBytes: 32 * 1024 * 1024, maxPageBytes: 5 * 1024 * 1024,
  requestTimeoutMs: 15_000, maxRedirects: 5, pageConcurrency: 8, mediaConcurrency: 8, matchBatchSize: 64,
  allowPrivate: false, allowAddresses: [], sameSite: true,
}

/** The part of the hasher the crawler uses. */
export interface ImageHasher {
  hash(bytes: Uint8Array): Promise<ImageHashes>
}

/** A media URL whose content matched, handed to whoever sends notices. */
export interface MatchedMedia {
  readonly jobId: number
  readonly fetchId: number
  readonly mediaId: number
  readonly url: string
  readonly finalUrl: string
  readonly serverIp: string | null
  readonly pageUrls: readonly string[]
  readonly detectedAt: Date
  readonly hashes: ImageHashes
  readonly matches: readonly KnownMatch[]
}

export interface CrawlDependencies {
  readonly db: Kysely<Database>
  readonly hasher: ImageHasher
  readonly matcher: Matcher
  readonly logger?: Logger
  /** Called after each match batch with the matched media URLs; returns how many notices it created. */
  readonly onMatched?: (items: readonly MatchedMedia[]) => Promise<number>
}

export interface CrawlCounters {
  pages: number
  pageErrors: number
  mediaQueued: number
  media: number
  mediaErrors: number
  distinctMedia: number
  bytes: number
  matchedMedia: number
  exactMatches: number
  nearMatches: number
  notices: number
  errors: Record<string, number>
}

export interface CrawlSummary extends CrawlCounters {
  readonly jobId: number
  readonly seconds: number
  readonly pagesPerSecond: number
  readonly mediaPerSecond: number
}

interface MediaTask { fetchId: number; url: string }
interface Hashed { fetchId: number; mediaId: number; url: string; finalUrl: string; serverIp: string | null; hashes: ImageHashes }

const EXACT = new Set(['sha256', 'md5', 'sha1'])

/**
 * One crawl job: Crawlee's CheerioCrawler walks the pages (bounded by pages, depth and site),
 * media found on them are fetched once per URL, hashed in memory, matched in batches, and every
 * match is recorded with its evidence. Bytes are never stored: only hashes and metadata.
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
  readonly #fetcher: BoundedFetcher
  readonly #mediaQueue: WorkQueue<MediaTask>
  readonly #knownContent = new Map<string, { mediaId: number; hashes: ImageHashes }>()
  #batch: Hashed[] = []
  #flushing: Promise<void> = Promise.resolve()
  readonly #sites: string[]
  #startedAt = 0

  private constructor(id: number, deps: CrawlDependencies, options: ResolvedCrawlOptions) {
    this.id = id
    this.#deps = deps
    this.#options = options
    this.#fetcher = new BoundedFetcher(new AddressGuard({ allowPrivate: options.allowPrivate, allow: options.allowAddresses }))
    this.#mediaQueue = new WorkQueue(options.mediaConcurrency, (task) => this.#processMedia(task))
    this.#sites = options.seeds.map((s) => siteOf(new URL(s).hostname))
  }

  /** Records the job (status running) and returns it ready to run. */
  static async create(deps: CrawlDependencies, options: CrawlJobOptions): Promise<CrawlJob> {
    const resolved: ResolvedCrawlOptions = { ...DEFAULT_CRAWL_OPTIONS, ...withoutUndefined(options) }
    if (resolved.seeds.length === 0) throw new Error('a crawl needs at least one seed URL')
    for (const seed of resolved.seeds) new URL(seed)
    const row = await deps.db.insertInto('crawl_jobs').values({
      name: resolved.name ?? resolved.seeds[0]!,
      seeds: JSON.stringify(resolved.seeds),
      options: JSON.stringify({ ...resolved, seeds: undefined }),
      status: 'running',
    }).returning('id').executeTakeFirstOrThrow()
    return new CrawlJob(row.id, deps, resolved)
  }

  async run(): Promise<CrawlSummary> {
    this.#startedAt = performance.now()
    let status: 'finished' | 'failed' = 'finished'
    try {
      const pageSeeds: string[] = []
      for (const seed of this.#options.seeds) {
        if (looksLikeImageUrl(seed)) await this.#queueMedia(null, [{ url: seed, via: 'link' }])
        else pageSeeds.push(seed)
      }
      if (pageSeeds.length > 0) await this.#crawlPages(pageSeeds)
      await this.#mediaQueue.onIdle()
      await this.#flush()
    } catch (error) {
      status = 'failed'
      throw error
    } finally {
      this.#fetcher.close()
      const summary = this.summary()
      await this.#deps.db.updateTable('crawl_jobs')
        .set({ status, finished_at: sql<Date>`now()`, summary: JSON.stringify(summary) })
        .where('id', '=', this.id).execute()
    }
    return this.summary()
  }

  summary(): CrawlSummary {
    const seconds = (performance.now() - this.#startedAt) / 1000
    return {
      jobId: this.id, ...this.counters, errors: { ...this.counters.errors }, seconds: round(seconds, 3),
      pagesPerSecond: round(this.counters.pages / Math.max(seconds, 1e-3), 1),
      mediaPerSecond: round(this.counters.media / Math.max(seconds, 1e-3), 1),
    }
  }

  /** Media fetches queued and not yet hashed. */
  get mediaBacklog(): number {
    return this.#mediaQueue.size
  }

  async #crawlPages(seeds: string[]): Promise<void> {
    const o = this.#options
    crawleeLog.setLevel(crawleeLog.LEVELS.OFF)
    const config = new Configuration({ persistStorage: false, purgeOnStart: true, availableMemoryRatio: 0.5 })
    const crawler: CheerioCrawler = new CheerioCrawler({
      httpClient: new GuardedHttpClient(this.#fetcher, { maxBytes: o.maxPageBytes, timeoutMs: o.requestTimeoutMs, maxRedirects: o.maxRedirects }),
      maxRequestsPerCrawl: o.maxPages,
      maxConcurrency: o.pageConcurrency,
      minConcurrency: Math.min(o.pageConcurrency, 4),
      maxRequestRetries: 1,
      navigationTimeoutSecs: Math.ceil(o.requestTimeoutMs / 1000),
      requestHandlerTimeoutSecs: Math.ceil(o.requestTimeoutMs / 1000) * 4,
      useSessionPool: false,
      persistCookiesPerSession: false,
      statusMessageLoggingInterval: 3600,
      requestHandler: async ({ request, response, $, body }) => {
        const depth = Number(request.userData.depth ?? 0)
        const finalUrl = request.loadedUrl ?? request.url
        const found = discover($ as never, finalUrl)
        const page = await this.#recordPage({
          url: request.url, finalUrl, depth, status: response.statusCode ?? null,
          contentType: String(response.headers['content-type'] ?? ''), bytes: Buffer.byteLength(body as never),
          mediaFound: found.media.length,
        })
        this.counters.pages++
        await this.#queueMedia(page, found.media)
        if (depth < o.maxDepth) {
          const next = found.links.filter((link) => !o.sameSite || this.#inScope(link))
          if (next.length > 0) await crawler.addRequests(next.map((url) => ({ url, userData: { depth: depth + 1 } })))
        }
      },
      errorHandler: ({ request }, error) => {
        if ((error as { retryable?: boolean }).retryable === false) request.noRetry = true
      },
      failedRequestHandler: async ({ request }, error) => {
        const { code, message } = describeError(error)
        this.#countError(code)
        this.counters.pageErrors++
        await this.#recordPage({
          url: request.url, finalUrl: request.loadedUrl ?? null, depth: Number(request.userData.depth ?? 0),
          status: null, contentType: null, bytes: null, mediaFound: 0, error: { code, message },
        })
      },
    }, config)
    await crawler.run(seeds.map((url) => ({ url, userData: { depth: 0 } })))
  }

  #inScope(url: string): boolean {
    const host = new URL(url).hostname
    return this.#sites.some((site) => host === site || host.endsWith(`.${site}`) || siteOf(host) === site)
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

  /** Registers the media URLs of a page (one fetch row per URL per job) and queues the new ones. */
  async #queueMedia(pageId: number | null, media: readonly DiscoveredMedia[]): Promise<void> {
    if (media.length === 0) return
    const rows = await this.#deps.db.insertInto('media_fetches')
      .values(media.map((m) => ({ job_id: this.id, url: m.url })))
      .onConflict((oc) => oc.columns(['job_id', 'url']).doUpdateSet((eb) => ({ url: eb.ref('excluded.url') })))
      .returning(['id', 'url', sql<boolean>`(xmax = 0)`.as('inserted')]).execute()
    if (pageId !== null) {
      const via = new Map(media.map((m) => [m.url, m.via]))
      await this.#deps.db.insertInto('sightings')
        .values(rows.map((r) => ({ job_id: this.id, page_id: pageId, fetch_id: r.id, via: via.get(r.url) ?? 'link' })))
        .onConflict((oc) => oc.columns(['page_id', 'fetch_id']).doNothing()).execute()
    }
    for (const row of rows) {
      if (row.inserted) {
        this.counters.mediaQueued++
        this.#mediaQueue.push({ fetchId: row.id, url: row.url })
      }
    }
  }

  async #processMedia(task: MediaTask): Promise<void> {
    const o = this.#options
    const db = this.#deps.db
    let fetched
    try {
      fetched = await this.#fetcher.fetch(task.url, { maxBytes: o.maxMediaBytes, timeoutMs: o.requestTimeoutMs, maxRedirects: o.maxRedirects })
    } catch (error) {
      const { code, message } = describeError(error)
      const response = (error as { response?: { statusCode: number; url: string; ip?: string; headers: Record<string, string> } }).response
      await this.#failMedia(task, code, message, {
        status: response?.statusCode ?? null, final_url: response?.url ?? null, server_ip: response?.ip ?? null,
        headers: response ? JSON.stringify(evidenceHeaders(response.headers)) : null,
      })
      return
    }
    this.counters.bytes += fetched.body.length
    const evidence = {
      status: fetched.statusCode, final_url: fetched.url, server_ip: fetched.ip ?? null, bytes: fetched.body.length,
      content_type: typeof fetched.headers['content-type'] === 'string' ? fetched.headers['content-type'] : null,
      headers: JSON.stringify(evidenceHeaders(fetched.headers)),
    }
    const sha256 = createHash('sha256').update(fetched.body).digest('hex')
    let known = this.#knownContent.get(sha256)
    if (known === undefined) {
      let hashes: ImageHashes
      try {
        hashes = await this.#deps.hasher.hash(fetched.body)
      } catch (error) {
        const { code, message } = describeError(error)
        await this.#failMedia(task, code, message, evidence)
        return
      }
      const media = await db.insertInto('media').values({
        sha256: hexToBytes(hashes.sha256), md5: hexToBytes(hashes.md5), sha1: hexToBytes(hashes.sha1),
        blockhash: hexToBytes(hashes.blockhash), pdq: hexToBytes(hashes.pdq), pdq_quality: hashes.pdqQuality,
        width: hashes.width, height: hashes.height, format: hashes.format, bytes: hashes.bytes,
      }).onConflict((oc) => oc.column('sha256').doUpdateSet((eb) => ({ sha256: eb.ref('excluded.sha256') })))
        .returning(['id', sql<boolean>`(xmax = 0)`.as('inserted')]).executeTakeFirstOrThrow()
      if (media.inserted) this.counters.distinctMedia++
      known = { mediaId: media.id, hashes }
      this.#knownContent.set(sha256, known)
    }
    await db.updateTable('media_fetches').set({ ...evidence, media_id: known.mediaId }).where('id', '=', task.fetchId).execute()
    this.counters.media++
    this.#batch.push({ fetchId: task.fetchId, mediaId: known.mediaId, url: task.url, finalUrl: fetched.url, serverIp: fetched.ip ?? null, hashes: known.hashes })
    if (this.#batch.length >= o.matchBatchSize) await this.#flush()
  }

  async #failMedia(task: MediaTask, code: string, message: string, evidence: Record<string, unknown>): Promise<void> {
    this.counters.mediaErrors++
    this.#countError(code)
    this.#deps.logger?.debug({ url: task.url, code, message }, 'media not hashed')
    await this.#deps.db.updateTable('media_fetches')
      .set({ ...evidence, error_code: code, error_message: message.slice(0, 1000) } as never)
      .where('id', '=', task.fetchId).execute()
  }

  /** Matches the buffered media in one lookup; batches are flushed one at a time, in order. */
  #flush(): Promise<void> {
    const batch = this.#batch
    this.#batch = []
    if (batch.length === 0) return this.#flushing
    this.#flushing = this.#flushing.then(() => this.#matchBatch(batch))
    return this.#flushing
  }

  async #matchBatch(batch: Hashed[]): Promise<void> {
    const probes: Probe[] = []
    const owner: number[] = []
    batch.forEach((item, i) => {
      const h = item.hashes
      for (const algorithm of ['sha256', 'md5', 'sha1', 'blockhash'] as const) { probes.push({ algorithm, hash: h[algorithm] }); owner.push(i) }
      probes.push({ algorithm: 'pdq', hash: h.pdq, quality: h.pdqQuality }); owner.push(i)
    })
    const results = await this.#deps.matcher.match(probes)
    const perItem: KnownMatch[][] = batch.map(() => [])
    results.forEach((found, p) => {
      const list = perItem[owner[p]!]!
      for (const m of found) if (!list.some((x) => x.knownHashId === m.knownHashId)) list.push(m)
    })
    const matched = batch.map((item, i) => ({ item, matches: perItem[i]! })).filter((x) => x.matches.length > 0)
    if (matched.length === 0) return
    await recordMatches(this.#deps.db, matched.map((x) => ({ mediaId: x.item.mediaId, jobId: this.id, matches: x.matches })))
    for (const x of matched) {
      this.counters.matchedMedia++
      if (x.matches.some((m) => EXACT.has(m.algorithm))) this.counters.exactMatches++
      else this.counters.nearMatches++
    }
    if (this.#deps.onMatched) {
      const pages = await this.#deps.db.selectFrom('sightings as s').innerJoin('pages as p', 'p.id', 's.page_id')
        .where('s.fetch_id', 'in', matched.map((x) => x.item.fetchId)).select(['s.fetch_id', 'p.url']).execute()
      const detectedAt = new Date()
      this.counters.notices += await this.#deps.onMatched(matched.map(({ item, matches }) => ({
        jobId: this.id, fetchId: item.fetchId, mediaId: item.mediaId, url: item.url, finalUrl: item.finalUrl,
        serverIp: item.serverIp, detectedAt, hashes: item.hashes, matches,
        pageUrls: pages.filter((p) => p.fetch_id === item.fetchId).map((p) => p.url),
      })))
    }
  }

  #countError(code: string): void {
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1
  }
}

/** The site a host belongs to, for scope: the host without a leading "www.". */
function siteOf(host: string): string {
  return host.replace(/^www\./, '')
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}
