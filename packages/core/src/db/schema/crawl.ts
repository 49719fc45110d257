/** Crawl jobs: the jobs, their shared frontier, per-host politeness, skips, pages fetched and media URLs seen. */
import type { ColumnType, Generated } from 'kysely'
import type { CreatedAt, Json, NullableTimestamp } from './column-types.js'

export const JOB_STATUSES = ['running', 'paused', 'finished', 'failed', 'cancelled'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

export interface CrawlJobTable {
  id: Generated<number>
  name: string
  seeds: Json<string[]>
  options: Json<Record<string, unknown>>
  status: JobStatus
  created_at: CreatedAt
  finished_at: NullableTimestamp
  summary: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>
  updated_at: CreatedAt
  /** URLs in the job's frontier: the page limit is enforced against it. */
  frontier_size: ColumnType<number, number | undefined, number>
}

export const FRONTIER_STATUSES = ['queued', 'leased', 'done', 'failed'] as const
export type FrontierStatus = (typeof FRONTIER_STATUSES)[number]

/** One URL of a job's crawl frontier, shared by every worker (leased with an expiry). */
export interface FrontierTable {
  id: Generated<number>
  job_id: number
  url: string
  /** Normalised URL: the de-duplication key within a job. */
  url_key: string
  host: string
  depth: number
  /** Reported URLs (seeds given as reports) may be fetched although robots.txt disallows them. */
  reported: ColumnType<boolean, boolean | undefined, boolean>
  status: ColumnType<FrontierStatus, FrontierStatus | undefined, FrontierStatus>
  /** Leases taken: a URL whose worker keeps dying is given up after a few. */
  attempts: ColumnType<number, number | undefined, number>
  /** Crawlee's retry count, kept across leases. */
  retry_count: ColumnType<number, number | undefined, number>
  lease_until: NullableTimestamp
  leased_by: string | null
  not_before: CreatedAt
  added_at: CreatedAt
  /** The URL's pattern (urlPattern), when pattern budgets are on: a barren pattern's queued URLs are trimmed by it. */
  pattern: ColumnType<string | null, string | null | undefined, string | null>
}

/** Per job and host: the politeness clock, page count, and the host's robots.txt. */
export interface FrontierHostTable {
  job_id: number
  host: string
  next_allowed_at: CreatedAt
  last_leased_at: NullableTimestamp
  pages: ColumnType<number, number | undefined, number>
  /** Politeness delay between two leases on this host (configured, or robots.txt Crawl-delay). */
  delay_ms: ColumnType<number, number | undefined, number>
  robots: string | null
  robots_fetched_at: NullableTimestamp
}

/** URLs the frontier refused to add, counted by reason (trap bounds, scope, deny list, robots). */
export interface FrontierSkipTable {
  job_id: number
  reason: string
  count: ColumnType<number, number | undefined, number>
  example: string | null
}

/**
 * Per job and URL pattern (host and path shape, query keys): what its pages yielded, and the cap
 * on its URLs in the frontier once its recent pages yielded nothing (pattern budgets).
 */
export interface UrlPatternTable {
  job_id: number
  pattern: string
  /** The first URL seen with this pattern. */
  example: string
  /** URLs of this pattern added to the frontier. */
  enqueued: ColumnType<number, number | undefined, number>
  /** Pages of this pattern fetched (or failed). */
  pages: ColumnType<number, number | undefined, number>
  /** Pages that brought new media URLs or links of a new pattern. */
  yielding: ColumnType<number, number | undefined, number>
  new_media: ColumnType<number, number | undefined, number>
  new_patterns: ColumnType<number, number | undefined, number>
  /** `pages` as it was after the last page that yielded: pages - last_yield is the barren streak. */
  last_yield: ColumnType<number, number | undefined, number>
  /** While barren: the most URLs of this pattern the frontier may hold in all (enqueued). Null: no cap. */
  cap: number | null
  /** URLs refused because of the cap. */
  refused: ColumnType<number, number | undefined, number>
}

export interface PageTable {
  id: Generated<number>
  job_id: number
  url: string
  final_url: string | null
  depth: number
  status: number | null
  content_type: string | null
  bytes: number | null
  media_found: number
  error_code: string | null
  error_message: string | null
  fetched_at: CreatedAt
}

/** Evidence of one media URL fetched in one job: where, when, what the server said. */
export interface MediaFetchTable {
  id: Generated<number>
  job_id: number
  url: string
  final_url: string | null
  status: number | null
  content_type: string | null
  server_ip: string | null
  headers: ColumnType<Record<string, string> | null, string | null | undefined, string | null>
  bytes: number | null
  media_id: number | null
  error_code: string | null
  error_message: string | null
  fetched_at: CreatedAt
  /** pending: found, not fetched; leased: a worker has it; done: fetched, hashed and matched (or failed with a reason). */
  state: ColumnType<'pending' | 'leased' | 'done', 'pending' | 'leased' | 'done' | undefined, 'pending' | 'leased' | 'done'>
  lease_until: NullableTimestamp
  leased_by: string | null
  attempts: ColumnType<number, number | undefined, number>
}

/** A media URL seen on a page. */
export interface SightingTable {
  id: Generated<number>
  job_id: number
  page_id: number
  fetch_id: number
  via: string
  seen_at: CreatedAt
}

/** The tables of crawl jobs, their frontier and what they fetched. */
export interface CrawlTables {
  crawl_jobs: CrawlJobTable
  frontier: FrontierTable
  frontier_hosts: FrontierHostTable
  frontier_skips: FrontierSkipTable
  url_patterns: UrlPatternTable
  pages: PageTable
  media_fetches: MediaFetchTable
  sightings: SightingTable
}
