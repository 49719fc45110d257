import os from 'node:os'
import { Request, type IRequestManager, type RequestQueueOperationInfo, type Source } from '@crawlee/core'
import { type Database, type Kysely, sql } from '@arachnid/core'
import { DEFAULT_CRAWL_OPTIONS } from './crawl-options.js'
import { type RobotsPolicy } from './robots-policy.js'
import { urlKey } from './url-key.js'
import { urlPattern } from './url-pattern.js'
import { DEFAULT_URL_POLICY, refuseMediaUrl, refuseUrl, type SkipReason, type UrlPolicyOptions } from './url-policy.js'

export interface FrontierOptions {
  /** Pages per job. */
  readonly maxPages: number
  /** Link depth from the seeds. */
  readonly maxDepth: number
  /** Pages per host within a job (bounds endless calendars and other traps). */
  readonly maxPagesPerHost: number
  /** Requests in flight per host, across all workers. */
  readonly maxPerHost: number
  /** Least time between two requests to one host (robots.txt Crawl-delay can raise it). */
  readonly politenessDelayMs: number
  /** How long a leased URL stays with a worker before another may take it. */
  readonly leaseMs: number
  /** Leases a URL may take (its worker died each time) before it is given up. */
  readonly maxLeases: number
  /** Follow links only within the seeds' sites. */
  readonly sameSite: boolean
  /**
   * URLs leased at once by this worker (its page concurrency): a worker never holds more than it
   * can start, so the per-host cap is left for other workers to share.
   */
  readonly leaseBatch?: number
  /** Traps, deny list and third-party fetch rules. Default DEFAULT_URL_POLICY. */
  readonly urlPolicy?: UrlPolicyOptions
  /** Budgets per URL pattern, driven by yield. Default DEFAULT_PATTERN_BUDGET. */
  readonly patternBudget?: PatternBudget
}

/**
 * Budgets per URL pattern (urlPattern: host and path shape, query keys). Each page fetched counts
 * for its URL's pattern as yielding when it brought a media URL the job had not seen or a link of
 * a pattern the job had not seen. A pattern whose last `window` pages yielded nothing is barren:
 * its URLs still queued are cut to `budget` (shallowest kept), and it may add only as many more as
 * make up `budget` requests in all; the rest are skipped as PATTERN_BARREN. A page of it that
 * yields again lifts the cap, so a pattern that keeps yielding media keeps going.
 */
export interface PatternBudget {
  /** Off: no pattern is counted or capped. */
  readonly enabled: boolean
  /** Pages of a pattern in a row without yield before it is barren. */
  readonly window: number
  /** Requests a barren pattern still gets (queued, in flight and added later together). */
  readonly budget: number
}

export const DEFAULT_PATTERN_BUDGET: PatternBudget = {
  enabled: DEFAULT_CRAWL_OPTIONS.patternBudgets, window: DEFAULT_CRAWL_OPTIONS.patternWindow, budget: DEFAULT_CRAWL_OPTIONS.patternBudget,
}

/** What one fetched (or failed) page brought, for its pattern's yield. */
export interface PageYield {
  /** The URL the page was requested as (its pattern is the one counted). */
  readonly url: string
  /** Media URLs found on it. */
  readonly media: readonly string[]
  /** Links found on it. */
  readonly links: readonly string[]
}

/** Whether a pattern is barren by the rule: its last `window` pages (pages - lastYield of them in a row) yielded nothing. */
export function isBarren(pattern: { readonly pages: number; readonly lastYield: number }, window: number): boolean {
  return pattern.pages - pattern.lastYield >= window
}

/** The job's bounds default as a crawl job's do (`DEFAULT_CRAWL_OPTIONS`, from `SETTINGS` where they are settings); `maxLeases` and `leaseBatch` are the frontier's own. */
export const DEFAULT_FRONTIER_OPTIONS: FrontierOptions = {
  maxPages: DEFAULT_CRAWL_OPTIONS.maxPages, maxDepth: DEFAULT_CRAWL_OPTIONS.maxDepth, maxPagesPerHost: DEFAULT_CRAWL_OPTIONS.maxPagesPerHost,
  maxPerHost: DEFAULT_CRAWL_OPTIONS.maxPerHost, politenessDelayMs: DEFAULT_CRAWL_OPTIONS.politenessDelayMs, leaseMs: DEFAULT_CRAWL_OPTIONS.leaseMs,
  maxLeases: 4, sameSite: DEFAULT_CRAWL_OPTIONS.sameSite, leaseBatch: 8,
}

export interface FrontierCandidate {
  readonly url: string
  readonly depth: number
  readonly reported?: boolean
}

/** How long a new URL may stay on hold before any worker takes it for stranded (see #releaseStranded), and how often a worker looks. */
const HELD_STRANDED_MS = 10_000
const HELD_SWEEP_MS = 5_000

/** Longest a handled page waits to be marked done when no lease comes first. */
const DONE_FLUSH_MS = 50

/** Ids as a Postgres bigint[] literal (PGlite and node-postgres take it as text alike). */
function doneIds(ids: readonly number[]): string {
  return `{${ids.join(',')}}`
}

/** A stable id for this worker process, recorded with each lease. */
export function workerId(): string {
  return `${os.hostname()}:${process.pid}`
}

/** The site a host belongs to for scope: the host without a leading "www.". */
export function siteOf(host: string): string {
  return host.toLowerCase().replace(/^www\./, '')
}

/** Adds refusals, counted by reason with the first example, to the job's skip counts (pages and media alike). */
export async function recordSkips(db: Kysely<Database>, jobId: number, skips: ReadonlyMap<SkipReason, { count: number; example: string }>): Promise<void> {
  if (skips.size === 0) return
  await db.insertInto('frontier_skips')
    .values([...skips].map(([reason, s]) => ({ job_id: jobId, reason, count: s.count, example: s.example.slice(0, 500) })))
    .onConflict((oc) => oc.columns(['job_id', 'reason']).doUpdateSet((eb) => ({ count: sql<number>`${eb.ref('frontier_skips.count')} + ${eb.ref('excluded.count')}` })))
    .execute()
}

interface Leased { id: number; url: string; depth: number; host: string; reported: boolean; retry_count: number }
interface NewRow { url: string; key: string; host: string; depth: number; reported: boolean; pattern: string | null }
type Skip = (reason: SkipReason, url: string, count?: number) => void

/**
 * A crawl job's frontier kept in Postgres and shared by every worker: URLs de-duplicated by
 * normalised key, leased in small batches with `FOR UPDATE SKIP LOCKED` (an expired lease is
 * taken again, so a dead worker loses nothing), hosts interleaved fairly (least recently leased
 * first) under a per-host politeness clock and in-flight cap, and every bound (pages, depth,
 * pages per host, URL traps, deny list, robots.txt) enforced when URLs are added, with skips
 * counted by reason. Plugs into Crawlee as its `requestManager`.
 */
export class PostgresFrontier implements IRequestManager {
  readonly #db: Kysely<Database>
  readonly #jobId: number
  readonly #worker: string
  readonly #options: FrontierOptions
  readonly #sites: string[]
  readonly #robots: RobotsPolicy | undefined
  readonly #buffer: Leased[] = []
  readonly #inFlight = new Map<string, Leased>()
  readonly #crawlDelays = new Map<string, number>()
  /** Pages handled and not yet marked done: marked with the next lease, or within DONE_FLUSH_MS. */
  readonly #done: number[] = []
  #doneTimer: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined
  #sweptAt = performance.now()
  /** frontier_hosts rows this worker has made sure of, with the delay given (the upsert is then a no-op). */
  readonly #knownHosts = new Map<string, number>()
  #patternBudget: PatternBudget
  #leasing: Promise<number> | undefined
  #stopped = false
  #handled = 0
  #total = 0

  constructor(db: Kysely<Database>, jobId: number, seeds: readonly string[], options: FrontierOptions, robots?: RobotsPolicy, worker = workerId()) {
    this.#db = db
    this.#jobId = jobId
    this.#worker = worker
    this.#options = options
    this.#robots = robots
    this.#sites = seeds.map((s) => siteOf(new URL(s).hostname))
    this.#patternBudget = options.patternBudget ?? DEFAULT_PATTERN_BUDGET
  }

  /** The job's pattern budget knobs (the crawler sets them from the job's options). */
  setPatternBudget(budget: PatternBudget): void {
    this.#patternBudget = budget
  }

  get jobId(): number {
    return this.#jobId
  }

  /** Stop leasing (job paused or cancelled); buffered leases go back to the queue. */
  async stop(): Promise<void> {
    this.#stopped = true
    await this.#flushDone()
    const ids = this.#buffer.splice(0).map((r) => r.id)
    if (ids.length > 0) {
      await this.#db.updateTable('frontier').set({ status: 'queued', lease_until: null, leased_by: null, attempts: sql<number>`greatest(attempts - 1, 0)` })
        .where('id', 'in', ids).where('leased_by', '=', this.#worker).execute()
    }
  }

  inScope(url: URL): boolean {
    if (!this.#options.sameSite) return true
    const host = siteOf(url.hostname)
    return this.#sites.some((site) => host === site || host.endsWith(`.${site}`))
  }

  /**
   * Adds URLs that pass every bound; returns how many were new. Refusals are counted by reason
   * in frontier_skips; duplicates are not refusals.
   */
  async add(candidates: readonly FrontierCandidate[]): Promise<number> {
    const skips = new Map<SkipReason, { count: number; example: string }>()
    const skip = (reason: SkipReason, url: string) => {
      const entry = skips.get(reason) ?? { count: 0, example: url }
      entry.count++
      skips.set(reason, entry)
    }
    const policy = { ...DEFAULT_URL_POLICY, ...this.#options.urlPolicy }
    const accepted = new Map<string, NewRow>()
    const patterns = this.#patternBudget.enabled

    for (const candidate of candidates) {
      let url: URL
      try {
        url = new URL(candidate.url)
      } catch {
        continue
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') continue
      if (!candidate.reported && !this.inScope(url)) { skip('OUT_OF_SCOPE', candidate.url); continue }
      if (candidate.depth > this.#options.maxDepth) { skip('DEPTH', candidate.url); continue }
      const refused = refuseUrl(url, policy)
      if (refused) { skip(refused, candidate.url); continue }
      if (this.#robots && !candidate.reported) {
        const robots = await this.#robots.forOrigin(url.origin)
        if (!robots.allowed(url.toString())) { skip('ROBOTS', candidate.url); continue }
        if (robots.crawlDelayMs > 0) this.#crawlDelays.set(url.host.toLowerCase(), robots.crawlDelayMs)
      }
      const key = urlKey(url.toString())
      if (!accepted.has(key)) {
        accepted.set(key, { url: url.toString(), key, host: url.host.toLowerCase(), depth: candidate.depth, reported: candidate.reported ?? false, pattern: patterns ? urlPattern(url) : null })
      }
    }
    let added = 0
    if (accepted.size > 0) added = await this.#insert([...accepted.values()], (reason, url, count = 1) => {
      const entry = skips.get(reason) ?? { count: 0, example: url }
      entry.count += count
      skips.set(reason, entry)
    })
    await recordSkips(this.#db, this.#jobId, skips)
    this.#total += added
    return added
  }

  /**
   * Inserts new URLs, then enforces the job's and each host's page limits with one short atomic
   * counter update each (no lock held across statements, so concurrent page handlers and workers
   * do not queue behind each other). Rows are inserted on hold (not_before = infinity) and
   * released once within the limits; the excess is deleted and counted as skipped.
   */
  async #insert(rows: NewRow[], skip: Skip): Promise<number> {
    const db = this.#db
    const hosts = [...new Set(rows.map((r) => r.host))]
    const delays = hosts.map((host) => ({ host, delay: Math.max(this.#options.politenessDelayMs, this.#crawlDelays.get(host) ?? 0) }))
    // A host's row, once this worker has made sure of it with this delay, needs no upsert again (it only ever raises the delay).
    const unknown = delays.filter((h) => this.#knownHosts.get(h.host) !== h.delay)
    if (unknown.length > 0) {
      await db.insertInto('frontier_hosts').values(unknown.map((h) => ({ job_id: this.#jobId, host: h.host, delay_ms: h.delay })))
        .onConflict((oc) => oc.columns(['job_id', 'host']).doUpdateSet((eb) => ({ delay_ms: sql<number>`greatest(${eb.ref('frontier_hosts.delay_ms')}, ${eb.ref('excluded.delay_ms')})` }))).execute()
      for (const h of unknown) this.#knownHosts.set(h.host, h.delay)
    }
    const inserted = await db.insertInto('frontier').values(rows.map((r) => ({
      job_id: this.#jobId, url: r.url, url_key: r.key, host: r.host, depth: r.depth, reported: r.reported, not_before: sql<Date>`'infinity'::timestamptz`, pattern: r.pattern,
    }))).onConflict((oc) => oc.columns(['job_id', 'url_key']).doNothing()).returning(['id', 'host', 'url', 'pattern']).execute()
    if (inserted.length === 0) return 0
    // Every counter (the job's, each pattern's, each host's) is raised by what was inserted, and
    // the rows released, in one statement when nothing goes over its limit (the usual case).
    const byPattern = new Map<string, { id: number; url: string }[]>()
    for (const row of inserted) if (row.pattern !== null) byPattern.set(row.pattern, [...(byPattern.get(row.pattern) ?? []), row])
    const perHost = new Map<string, number>()
    for (const row of inserted) perHost.set(row.host, (perHost.get(row.host) ?? 0) + 1)
    const patternsJson = JSON.stringify([...byPattern].map(([pattern, mine]) => ({ pattern, example: mine[0]!.url.slice(0, 500), n: mine.length })))
    const hostsJson = JSON.stringify([...perHost].map(([host, n]) => ({ host, n })))
    const ids = `{${inserted.map((r) => r.id).join(',')}}`
    const { rows: [counted] } = await sql<{ frontier_size: number; patterns: { pattern: string; enqueued: number; cap: number | null }[] | null; hosts: { host: string; pages: number }[] | null; released: number }>`
      with j as (
        update crawl_jobs set frontier_size = frontier_size + ${inserted.length} where id = ${this.#jobId} returning frontier_size
      ), pt as (
        insert into url_patterns as u (job_id, pattern, example, enqueued)
        select ${this.#jobId}, x.pattern, x.example, x.n from jsonb_to_recordset(${patternsJson}::jsonb) as x(pattern text, example text, n integer)
        on conflict (job_id, pattern) do update set enqueued = u.enqueued + excluded.enqueued
        returning u.pattern, u.enqueued, u.cap
      ), h as (
        update frontier_hosts fh set pages = fh.pages + x.n from jsonb_to_recordset(${hostsJson}::jsonb) as x(host text, n integer)
        where fh.job_id = ${this.#jobId} and fh.host = x.host
        returning fh.host, fh.pages
      ), rel as (
        update frontier set not_before = now()
        where id = any(${ids}::int[])
          and (select frontier_size from j) <= ${this.#options.maxPages}
          and not exists (select 1 from pt where pt.cap is not null and pt.enqueued > pt.cap)
          and not exists (select 1 from h where h.pages > ${this.#options.maxPagesPerHost})
        returning id
      )
      select (select frontier_size from j) as frontier_size, (select json_agg(pt) from pt) as patterns, (select json_agg(h) from h) as hosts,
        (select count(*) from rel)::int as released`.execute(db)
    if (Number(counted!.released) === inserted.length) return inserted.length
    return this.#overLimits(inserted, counted!, skip)
  }

  /**
   * Some limit was passed: the excess is refused in order (the job's page limit, then each
   * pattern's cap, then each host's page limit, as if counted one after the other), the counters
   * raised for refused rows lowered again, the refused rows deleted, and the rest released.
   */
  async #overLimits(
    inserted: { id: number; host: string; url: string; pattern: string | null }[],
    counted: { frontier_size: number; patterns: { pattern: string; enqueued: number; cap: number | null }[] | null; hosts: { host: string; pages: number }[] | null },
    skip: Skip,
  ): Promise<number> {
    const db = this.#db
    const drop = new Set<number>()
    const overJob = Math.min(inserted.length, Math.max(0, Number(counted.frontier_size) - this.#options.maxPages))
    for (const row of inserted.slice(inserted.length - overJob)) { drop.add(row.id); skip('MAX_PAGES', row.url) }
    for (const p of counted.patterns ?? []) {
      const all = inserted.filter((r) => r.pattern === p.pattern)
      const mine = all.filter((r) => !drop.has(r.id))
      // As counted without the rows the job's limit refused.
      const enqueued = Number(p.enqueued) - (all.length - mine.length)
      const over = p.cap === null ? 0 : Math.min(mine.length, Math.max(0, enqueued - Number(p.cap)))
      for (const row of mine.slice(mine.length - over)) { drop.add(row.id); skip('PATTERN_BARREN', row.url) }
      if (all.length - mine.length + over > 0) {
        await db.updateTable('url_patterns').set((eb) => ({ enqueued: eb('enqueued', '-', all.length - mine.length + over), refused: eb('refused', '+', over) }))
          .where('job_id', '=', this.#jobId).where('pattern', '=', p.pattern).execute()
      }
    }
    for (const h of counted.hosts ?? []) {
      const all = inserted.filter((r) => r.host === h.host)
      const mine = all.filter((r) => !drop.has(r.id))
      const pages = Number(h.pages) - (all.length - mine.length)
      const overHost = Math.min(mine.length, Math.max(0, pages - this.#options.maxPagesPerHost))
      for (const row of mine.slice(mine.length - overHost)) { drop.add(row.id); skip('HOST_MAX_PAGES', row.url) }
      const lower = all.length - mine.length + overHost
      if (lower > 0) await db.updateTable('frontier_hosts').set((eb) => ({ pages: eb('pages', '-', lower) })).where('job_id', '=', this.#jobId).where('host', '=', h.host).execute()
    }
    if (drop.size > 0) {
      await db.deleteFrom('frontier').where('id', 'in', [...drop]).execute()
      await db.updateTable('crawl_jobs').set((eb) => ({ frontier_size: eb('frontier_size', '-', drop.size) })).where('id', '=', this.#jobId).execute()
    }
    const kept = inserted.filter((r) => !drop.has(r.id)).map((r) => r.id)
    if (kept.length > 0) await db.updateTable('frontier').set({ not_before: sql<Date>`now()` }).where('id', 'in', kept).execute()
    return kept.length
  }

  /**
   * Counts what a fetched (or failed) page yielded for its pattern: media URLs the job had not
   * registered, links (in scope, not refused by policy) of patterns the job had not seen. When the
   * pattern's last `window` pages yielded nothing, it turns barren (see PatternBudget). Three
   * short statements per page; call it before the page's media and links are added.
   */
  async recordYield(page: PageYield): Promise<void> {
    const parts = this.yieldParts(page)
    if (parts === undefined) return
    const { pattern, media, linked } = parts
    const db = this.#db
    let newMedia = 0
    if (media.length > 0) {
      const seen = await db.selectFrom('media_fetches').select((eb) => eb.fn.countAll<number>().as('n'))
        .where('job_id', '=', this.#jobId).where('url', 'in', media).executeTakeFirstOrThrow()
      newMedia = media.length - Number(seen.n)
    }
    let newPatterns = 0
    if (linked.size > 0) {
      const created = await db.insertInto('url_patterns')
        .values([...linked].map(([p, example]) => ({ job_id: this.#jobId, pattern: p, example: example.slice(0, 500) })))
        .onConflict((oc) => oc.columns(['job_id', 'pattern']).doNothing()).returning('pattern').execute()
      newPatterns = created.length
    }
    const yielded = newMedia > 0 || newPatterns > 0 ? 1 : 0
    const row = await db.insertInto('url_patterns').values({
      job_id: this.#jobId, pattern, example: page.url.slice(0, 500), pages: 1, yielding: yielded, new_media: newMedia, new_patterns: newPatterns, last_yield: yielded,
    }).onConflict((oc) => oc.columns(['job_id', 'pattern']).doUpdateSet((eb) => ({
      pages: sql<number>`${eb.ref('url_patterns.pages')} + 1`,
      yielding: sql<number>`${eb.ref('url_patterns.yielding')} + ${eb.ref('excluded.yielding')}`,
      new_media: sql<number>`${eb.ref('url_patterns.new_media')} + ${eb.ref('excluded.new_media')}`,
      new_patterns: sql<number>`${eb.ref('url_patterns.new_patterns')} + ${eb.ref('excluded.new_patterns')}`,
      last_yield: sql<number>`case when ${eb.ref('excluded.yielding')} > 0 then ${eb.ref('url_patterns.pages')} + 1 else ${eb.ref('url_patterns.last_yield')} end`,
      // It yields again: it keeps going.
      cap: sql<number | null>`case when ${eb.ref('excluded.yielding')} > 0 then null else ${eb.ref('url_patterns.cap')} end`,
    }))).returning(['pages', 'last_yield', 'cap']).executeTakeFirstOrThrow()
    await this.afterYield(pattern, page.url, { pages: row.pages, lastYield: row.last_yield, cap: row.cap })
  }

  /**
   * What recordYield counts for a page, worked out without the database: its pattern, the media
   * URLs the policy lets through, and one link (in scope, not refused) of each other pattern it
   * links to. Undefined when budgets are off or the URL has no pattern. (The page writer counts
   * them in the statement that records the page: see recordFetchedPage.)
   */
  yieldParts(page: PageYield): { pattern: string; media: string[]; linked: Map<string, string> } | undefined {
    if (!this.#patternBudget.enabled) return undefined
    let pattern: string
    try {
      pattern = urlPattern(page.url)
    } catch {
      return undefined
    }
    const policy = { ...DEFAULT_URL_POLICY, ...this.#options.urlPolicy }
    const media = [...new Set(page.media)].filter((m) => {
      try {
        return refuseMediaUrl(new URL(m), policy) === undefined
      } catch {
        return false
      }
    })
    const linked = new Map<string, string>()
    for (const link of page.links) {
      let url: URL
      try {
        url = new URL(link)
      } catch {
        continue
      }
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !this.inScope(url) || refuseUrl(url, policy) !== undefined) continue
      const p = urlPattern(url)
      if (p !== pattern && !linked.has(p)) linked.set(p, link)
    }
    return { pattern, media, linked }
  }

  /** After a page was counted for its pattern: a pattern whose last `window` pages yielded nothing turns barren. */
  async afterYield(pattern: string, url: string, row: { readonly pages: number; readonly lastYield: number; readonly cap: number | null }): Promise<void> {
    const budget = this.#patternBudget
    if (budget.enabled && row.cap === null && isBarren(row, budget.window)) await this.#turnBarren(pattern, budget.budget, url)
  }

  /**
   * A pattern turns barren: of its URLs not yet fetched (the page that made it barren is), those
   * in flight and the shallowest queued
   * ones are kept up to `budget`, the rest deleted (PATTERN_BARREN); its cap lets it add only what
   * makes up `budget` requests in all. One transaction; the pattern's row is claimed first, so
   * two workers seeing it at once do it once.
   */
  async #turnBarren(pattern: string, budget: number, fetchedUrl: string): Promise<void> {
    const skips = new Map<SkipReason, { count: number; example: string }>()
    // Pages handled are no longer in flight: marked done first, so they do not count against the budget.
    await this.#flushDone()
    await this.#db.transaction().execute(async (trx) => {
      const claimed = await trx.updateTable('url_patterns').set({ cap: sql<number>`enqueued` })
        .where('job_id', '=', this.#jobId).where('pattern', '=', pattern).where('cap', 'is', null).returning('enqueued').executeTakeFirst()
      if (claimed === undefined) return
      const open = await trx.selectFrom('frontier').select(['id', 'url', 'host', 'status'])
        .where('job_id', '=', this.#jobId).where('pattern', '=', pattern).where('status', 'in', ['queued', 'leased']).where('url', '<>', fetchedUrl)
        .orderBy('depth').orderBy('id').execute()
      const leased = open.filter((r) => r.status === 'leased').length
      const queued = open.filter((r) => r.status === 'queued')
      const keep = Math.max(0, budget - leased)
      const cut = queued.slice(keep)
      const room = Math.max(0, keep - queued.length)
      if (cut.length > 0) {
        await trx.deleteFrom('frontier').where('id', 'in', cut.map((r) => r.id)).execute()
        await trx.updateTable('crawl_jobs').set((eb) => ({ frontier_size: eb('frontier_size', '-', cut.length) })).where('id', '=', this.#jobId).execute()
        const perHost = new Map<string, number>()
        for (const r of cut) perHost.set(r.host, (perHost.get(r.host) ?? 0) + 1)
        for (const [host, n] of perHost) {
          await trx.updateTable('frontier_hosts').set((eb) => ({ pages: sql<number>`greatest(0, ${eb.ref('pages')} - ${n})` }))
            .where('job_id', '=', this.#jobId).where('host', '=', host).execute()
        }
        skips.set('PATTERN_BARREN', { count: cut.length, example: cut[0]!.url })
      }
      await trx.updateTable('url_patterns').set((eb) => ({
        enqueued: eb('enqueued', '-', cut.length), refused: eb('refused', '+', cut.length), cap: claimed.enqueued - cut.length + room,
      })).where('job_id', '=', this.#jobId).where('pattern', '=', pattern).execute()
    })
    await recordSkips(this.#db, this.#jobId, skips)
  }

  /** Holds a host back (429/503 with Retry-After, or a server in trouble). */
  async backoff(host: string, delayMs: number): Promise<void> {
    await this.#db.updateTable('frontier_hosts')
      .set({ next_allowed_at: sql<Date>`greatest(next_allowed_at, now() + make_interval(secs => ${delayMs / 1000}))` })
      .where('job_id', '=', this.#jobId).where('host', '=', host.toLowerCase()).execute()
  }

  /**
   * Leases up to `limit` URLs, one host's share at a time, fairly across hosts, and in the same
   * statement marks done the pages handled since the last one (their leases no longer count
   * against their hosts' room). One round trip.
   */
  async #lease(limit: number): Promise<number> {
    if (this.#stopped) return this.#flushDone().then(() => 0)
    const o = this.#options
    if (performance.now() - this.#sweptAt > HELD_SWEEP_MS) await this.#releaseStranded()
    const done = this.#done.splice(0)
    let rows: (Leased & { attempts: number })[]
    try {
      rows = (await sql<Leased & { attempts: number }>`
        with done as (
          update frontier set status = 'done', lease_until = null
          where id = any(${doneIds(done)}::bigint[])
          returning id
        ), hosts as (
          -- A host with a politeness delay has one page leased at a time (its room is at most 1): the
          -- page takes its turn on the host's clock as its request goes out (HostClock.turn), so a
          -- lease never sits on a turn.
          select h.host, greatest(0, (case when h.delay_ms > 0 then 1 else ${o.maxPerHost} end) - (
            select count(*) from frontier x
            where x.job_id = h.job_id and x.host = h.host and x.status = 'leased' and x.lease_until > now()
              and x.id <> all(${doneIds(done)}::bigint[])))::int as room
          from frontier_hosts h
          -- Each status its own condition (here and in picked), so each is an ordered read of the
          -- (job_id, status, host, depth, id) index: with an OR, Postgres read every queued row of
          -- the host and sorted them (or scanned the table past the done rows) for every lease.
          where h.job_id = ${this.#jobId} and h.next_allowed_at <= now()
            and (exists (select 1 from frontier q where q.job_id = h.job_id and q.host = h.host and q.status = 'queued')
              or exists (select 1 from frontier q where q.job_id = h.job_id and q.host = h.host and q.status = 'leased' and q.lease_until < now()))
          order by h.last_leased_at nulls first
          limit ${limit}
          for update of h skip locked
        ), picked as (
          select f.id from hosts
          cross join lateral (
            select open.id from (
              select id, depth from (
                select q.id, q.depth from frontier q
                where q.job_id = ${this.#jobId} and q.host = hosts.host and q.status = 'queued' and q.not_before <= now()
                order by q.depth, q.id
                limit hosts.room
                for update of q skip locked) queued
              union all
              select id, depth from (
                select q.id, q.depth from frontier q
                where q.job_id = ${this.#jobId} and q.host = hosts.host and q.status = 'leased' and q.lease_until < now() and q.not_before <= now()
                order by q.depth, q.id
                limit hosts.room
                for update of q skip locked) expired
            ) open
            order by open.depth, open.id
            limit hosts.room
          ) f
          limit ${limit}
        ), leased as (
          update frontier set status = 'leased', attempts = attempts + 1, leased_by = ${this.#worker},
            lease_until = now() + make_interval(secs => ${o.leaseMs / 1000})
          from picked where frontier.id = picked.id
          returning frontier.id, frontier.url, frontier.depth, frontier.host, frontier.reported, frontier.retry_count, frontier.attempts
        ), touched as (
          -- Fairness only: the politeness clock moves when a request is sent (HostClock.reserve).
          update frontier_hosts set last_leased_at = clock_timestamp()
          where job_id = ${this.#jobId} and host in (select host from leased)
        )
        select * from leased`.execute(this.#db)).rows
    } catch (error) {
      // Not marked: they are marked with the next lease (or flush).
      this.#done.unshift(...done)
      throw error
    }
    const leased = rows.map((r) => ({ ...r, id: Number(r.id) }))
    const given = leased.filter((r) => r.attempts > o.maxLeases)
    if (given.length > 0) {
      // Its workers kept dying on it: give it up with a reason rather than loop forever.
      await this.#db.updateTable('frontier').set({ status: 'failed', lease_until: null }).where('id', 'in', given.map((r) => r.id)).execute()
      await this.#db.insertInto('pages').values(given.map((r) => ({
        job_id: this.#jobId, url: r.url, depth: r.depth, media_found: 0, error_code: 'LEASE_EXPIRED', error_message: `leased ${r.attempts - 1} times without finishing`,
      }))).onConflict((oc) => oc.columns(['job_id', 'url']).doNothing()).execute()
    }
    for (const row of leased) if (row.attempts <= o.maxLeases) this.#buffer.push(row)
    return leased.length - given.length
  }

  /**
   * New URLs are inserted on hold (not_before = infinity) and released a statement later, once
   * within the limits: a worker killed in between leaves them on hold, where nobody would ever
   * lease them and the job could never finish. Any worker releases what has been held longer than
   * HELD_STRANDED_MS (a live worker releases its own within milliseconds); their counters may
   * miss them, so limits can be passed by what one page added. At most once per HELD_SWEEP_MS.
   */
  async #releaseStranded(): Promise<void> {
    this.#sweptAt = performance.now()
    await sql`update frontier set not_before = now()
      where job_id = ${this.#jobId} and status = 'queued' and not_before = 'infinity'::timestamptz
        and added_at < now() - make_interval(secs => ${HELD_STRANDED_MS / 1000})`.execute(this.#db)
  }

  // ---- Crawlee's IRequestManager ----

  /** One lease query at a time per process: concurrent callers share its result. */
  #leaseShared(): Promise<number> {
    this.#leasing ??= this.#lease(Math.max(1, (this.#options.leaseBatch ?? DEFAULT_FRONTIER_OPTIONS.leaseBatch!) - this.#inFlight.size)).finally(() => { this.#leasing = undefined })
    return this.#leasing
  }

  async fetchNextRequest<T extends Record<string, unknown> = Record<string, unknown>>(): Promise<Request<T> | null> {
    if (this.#buffer.length === 0) await this.#leaseShared()
    const row = this.#buffer.shift()
    if (row === undefined) return null
    const request = new Request<T>({ url: row.url, uniqueKey: `${this.#jobId}:${row.id}`, userData: { depth: row.depth, reported: row.reported } as unknown as T })
    request.id = String(row.id)
    request.retryCount = row.retry_count
    this.#inFlight.set(request.id, row)
    return request
  }

  async isEmpty(): Promise<boolean> {
    if (this.#buffer.length > 0) return false
    // Crawlee asks when a task ends and on its pool's tick; answering "empty" without looking
    // would idle a slot until the next tick, so look (concurrent askers share one lease query).
    await this.#leaseShared()
    return this.#buffer.length === 0
  }

  async isFinished(): Promise<boolean> {
    if (this.#stopped) {
      if (this.#inFlight.size > 0) return false
      await this.#flushDone()
      return true
    }
    if (this.#buffer.length > 0 || this.#inFlight.size > 0) return false
    await this.#flushDone()
    const open = await this.#db.selectFrom('frontier').select('id').where('job_id', '=', this.#jobId)
      .where((eb) => eb.or([eb('status', '=', 'queued'), eb('status', '=', 'leased')])).limit(1).executeTakeFirst()
    return open === undefined
  }

  async handledCount(): Promise<number> {
    return this.#handled
  }

  getTotalCount(): number {
    return this.#total
  }

  getPendingCount(): number {
    return this.#buffer.length + this.#inFlight.size
  }

  async markRequestHandled(request: Request): Promise<RequestQueueOperationInfo | null> {
    this.#inFlight.delete(String(request.id))
    this.#handled++
    // Marked done with the next lease (Crawlee asks for the next request as this one ends), or soon.
    this.#done.push(Number(request.id))
    this.#doneTimer ??= setTimeout(() => { this.#doneTimer = undefined; void this.#flushDone().catch(() => {}) }, DONE_FLUSH_MS)
    return null
  }

  /**
   * Marks done, in one statement, the pages handled and not yet marked (call before anything that
   * reads the frontier's state: the job's end, giving back leases). A worker killed before this
   * leaves them leased, to be fetched again when their leases run out, like those in flight.
   */
  async flush(): Promise<void> {
    await this.#flushDone()
  }

  async #flushDone(): Promise<void> {
    if (this.#doneTimer) { clearTimeout(this.#doneTimer); this.#doneTimer = undefined }
    while (this.#flushing) await this.#flushing
    if (this.#done.length === 0) return
    const ids = this.#done.splice(0)
    this.#flushing = this.#db.updateTable('frontier').set({ status: 'done', lease_until: null }).where('id', 'in', ids).execute()
      .then(() => undefined, (error: unknown) => { this.#done.unshift(...ids); throw error })
      .finally(() => { this.#flushing = undefined })
    await this.#flushing
  }

  async reclaimRequest(request: Request): Promise<RequestQueueOperationInfo | null> {
    this.#inFlight.delete(String(request.id))
    await this.#db.updateTable('frontier').set({ status: 'queued', lease_until: null, leased_by: null, retry_count: request.retryCount })
      .where('id', '=', Number(request.id)).execute()
    return null
  }

  async addRequest(requestLike: Source): Promise<RequestQueueOperationInfo> {
    const url = typeof requestLike === 'string' ? requestLike : (requestLike as { url: string }).url
    const depth = typeof requestLike === 'string' ? 0 : Number((requestLike as { userData?: { depth?: number } }).userData?.depth ?? 0)
    const added = await this.add([{ url, depth }])
    return { requestId: url, uniqueKey: url, wasAlreadyPresent: added === 0, wasAlreadyHandled: false, forefront: false }
  }

  async addRequestsBatched(requests: unknown): Promise<any> {
    const list = (Array.isArray(requests) ? requests : []) as Source[]
    for (const r of list) await this.addRequest(r)
    return { addedRequests: [], waitForAllRequestsToBeAdded: Promise.resolve([]) }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Request> {
    for (;;) {
      const request = await this.fetchNextRequest()
      if (request === null) return
      yield request
    }
  }
}
