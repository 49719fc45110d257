import type { ColumnType, Generated, Insertable, Selectable } from 'kysely'

/** timestamptz: read as Date, written as Date or ISO string, defaulted by the database. */
type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>
type Timestamp = ColumnType<Date, Date | string, Date | string>
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
type Json<T> = ColumnType<T, string, string>

export const JOB_STATUSES = ['running', 'paused', 'finished', 'failed', 'cancelled'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

export const MATCH_STATUSES = ['auto-confirmed', 'pending', 'confirmed', 'rejected'] as const
export type MatchStatus = (typeof MATCH_STATUSES)[number]

/**
 * pending: due at next_attempt_at; sending: claimed, nothing past the point of no return yet;
 * committing: the end of the message is being handed to SMTP (a crash here leaves it in doubt);
 * sent; failed: gave up; held: in doubt and the policy says an operator decides.
 */
export const OUTBOX_STATUSES = ['pending', 'sending', 'committing', 'sent', 'failed', 'held'] as const
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number]

export const NOTICE_STATUSES = ['open', 'removed', 'closed'] as const
export type NoticeStatus = (typeof NOTICE_STATUSES)[number]

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

/** One row per distinct content (sha256). Hashes and metadata only: never the bytes. */
export interface MediaTable {
  id: Generated<number>
  sha256: Uint8Array
  md5: Uint8Array
  sha1: Uint8Array
  blockhash: Uint8Array | null
  pdq: Uint8Array | null
  pdq_quality: number | null
  width: number | null
  height: number | null
  format: string | null
  bytes: number
  first_seen_at: CreatedAt
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

export interface HashListTable {
  id: Generated<number>
  name: string
  description: string | null
  /** hash_list_versions.id of the version that matches now. */
  active_version_id: number | null
  /** Bumped on activation and retraction, so matchers see a change with one small query. */
  changed_at: CreatedAt
  created_at: CreatedAt
  /** Largest PDQ distance for this list; null: the matcher's default. */
  pdq_threshold: ColumnType<number | null, number | null | undefined, number | null>
  /** Largest blockhash distance for this list; null: the matcher's default. */
  blockhash_threshold: ColumnType<number | null, number | null | undefined, number | null>
  /** verified: the review policy may notify its matches automatically; review-required: every match waits for an analyst. */
  review_mode: ColumnType<ListReviewMode, ListReviewMode | undefined, ListReviewMode>
  /** Higher first in the review queue, after distance. */
  review_priority: ColumnType<number, number | undefined, number>
}

export interface HashListVersionTable {
  id: Generated<number>
  list_id: number
  version: number
  status: 'importing' | 'active' | 'superseded' | 'failed'
  rows: number
  source: string | null
  created_at: CreatedAt
  activated_at: NullableTimestamp
  /** List file format the version was imported from. */
  format: ColumnType<string | null, string | null | undefined, string | null>
  rejected: ColumnType<number, number | undefined, number>
  /** Smallest and largest known_hashes.id of the version, so it loads by primary-key ranges. */
  first_id: ColumnType<number | null, number | null | undefined, number | null>
  last_id: ColumnType<number | null, number | null | undefined, number | null>
}

export interface KnownHashTable {
  id: Generated<number>
  list_id: number
  version_id: number
  algorithm: string
  hash: Uint8Array
  category: string | null
  external_id: string | null
  retracted_at: NullableTimestamp
  /** PDQ quality when the list gives it. */
  quality: ColumnType<number | null, number | null | undefined, number | null>
  retract_reason: ColumnType<string | null, string | null | undefined, string | null>
}

export const HASH_LIST_CHANGE_KINDS = ['activate', 'add', 'retract', 'settings'] as const
export type HashListChangeKind = (typeof HASH_LIST_CHANGE_KINDS)[number]

/**
 * What changed in the lists, in commit order (writers serialise on an advisory lock before taking
 * an id), so in-memory indexes apply deltas instead of reloading: a version activated, rows
 * `first_id..last_id` added to a version, rows retracted, or a list's thresholds changed.
 */
export interface HashListChangeTable {
  id: ColumnType<string, never, never>
  list_id: number
  version_id: number
  kind: HashListChangeKind
  first_id: number | null
  last_id: number | null
  known_hash_ids: ColumnType<number[] | null, number[] | null | undefined, number[] | null>
  created_at: CreatedAt
}

export interface MatchTable {
  id: Generated<number>
  media_id: number
  known_hash_id: number
  list_id: number
  list_version: number
  algorithm: string
  distance: number
  category: string | null
  external_id: string | null
  status: MatchStatus
  job_id: number | null
  created_at: CreatedAt
  /** Why the policy decided as it did (e.g. exact, near, low-quality, review-required, suppressed). */
  review_reason: ColumnType<string | null, string | null | undefined, string | null>
  /** Set when an analyst escalated the match to the supervisors' queue. */
  escalated_at: NullableTimestamp
  decided_by: ColumnType<number | null, number | null | undefined, number | null>
  decided_at: NullableTimestamp
}

export interface ProviderTable {
  id: Generated<number>
  name: string
  abuse_email: string
  source: string
  created_at: CreatedAt
  rdap_handle: string | null
}

/** Local provider directory: a CIDR or a domain (and its subdomains) mapped to a provider. */
export interface ProviderRuleTable {
  id: Generated<number>
  kind: 'cidr' | 'domain'
  pattern: string
  provider_id: number
  created_at: CreatedAt
}

export interface NoticeTable {
  id: Generated<number>
  reference: string
  media_url: string
  media_id: number
  provider_id: number | null
  status: NoticeStatus
  idempotency_key: string
  detected_at: Timestamp
  created_at: CreatedAt
  removed_at: NullableTimestamp
  /** The incident as composed at detection (URLs, hashes, matches), so reminders say the same. */
  incident: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>
  next_check_at: NullableTimestamp
  checks: ColumnType<number, number | undefined, number>
  /** Consecutive rechecks that found the material gone; removal is recorded at the configured count. */
  consecutive_gone: ColumnType<number, number | undefined, number>
  /** First check of the current run of "gone" checks: the removal time once confirmed. */
  first_gone_at: NullableTimestamp
  last_check_at: NullableTimestamp
  last_check_result: string | null
  reminders: ColumnType<number, number | undefined, number>
  escalations: ColumnType<number, number | undefined, number>
  ack_status: 'removed' | 'dispute' | null
  ack_at: NullableTimestamp
  /** An earlier notice, removed, for the same content at the same provider. */
  reupload_of: number | null
  host: string | null
  /** The crawl job that created the notice (null when made outside a crawl, e.g. by an analyst's confirmation). */
  job_id: ColumnType<number | null, number | null | undefined, number | null>
}

export const NOTICE_EVENT_KINDS = [
  'created', 'assigned', 'unassigned', 'sent', 'queued', 'check', 'reminder', 'escalation', 'ack', 'removed', 'reupload', 'in-doubt',
  'upheld', 'withdrawn',
] as const
export type NoticeEventKind = (typeof NOTICE_EVENT_KINDS)[number]

/** Everything that happened to a notice, in order: the history operators and providers ask about. */
export interface NoticeEventTable {
  id: Generated<number>
  notice_id: number
  kind: NoticeEventKind
  detail: ColumnType<Record<string, unknown>, string | undefined, string>
  at: CreatedAt
}

/** RDAP answers per IP, kept until expires_at. */
export interface RdapCacheTable {
  ip: string
  result: ColumnType<Record<string, unknown>, string, string>
  fetched_at: CreatedAt
  expires_at: Timestamp
}

/** Hosts and whether a provider was found for them; 'unassigned' ones are retried and shown to operators. */
export interface ProviderLookupTable {
  host: string
  status: 'resolved' | 'unassigned'
  attempts: ColumnType<number, number | undefined, number>
  addresses: ColumnType<string[], string | undefined, string>
  last_error: string | null
  provider_id: number | null
  next_attempt_at: CreatedAt
  updated_at: CreatedAt
}

/** Transactional outbox: written with the notice, delivered by a worker, at most once per key. */
export interface OutboxTable {
  id: Generated<number>
  notice_id: number
  idempotency_key: string
  kind: string
  to_address: string
  subject: string
  text_body: string
  html_body: string
  attachments: ColumnType<Array<{ filename: string; contentType: string; content: string }>, string | undefined, string>
  status: OutboxStatus
  attempts: ColumnType<number, number | undefined, number>
  next_attempt_at: CreatedAt
  lease_until: NullableTimestamp
  last_error: string | null
  message_id: string
  sent_at: NullableTimestamp
  created_at: CreatedAt
  /** The provider the email goes to (the notice's provider, or the upstream network for escalations). */
  provider_id: number | null
  /** Message-ID of the first notice, so reminders thread under it. */
  in_reply_to: string | null
  /** Sent again after a crash left the first attempt's outcome unknown. */
  in_doubt: ColumnType<boolean, boolean | undefined, boolean>
  committing_at: NullableTimestamp
}

export const LIST_REVIEW_MODES = ['verified', 'review-required'] as const
export type ListReviewMode = (typeof LIST_REVIEW_MODES)[number]

export const ANALYST_ROLES = ['analyst', 'supervisor', 'admin'] as const
export type AnalystRole = (typeof ANALYST_ROLES)[number]

/** A review account. The password is stored as a memory-hard (scrypt) hash only. */
export interface AnalystTable {
  id: Generated<number>
  name: string
  role: AnalystRole
  password_hash: string
  disabled_at: NullableTimestamp
  created_at: CreatedAt
}

/** A login session: the cookie's token is stored hashed, with the CSRF token bound to it. */
export interface AnalystSessionTable {
  token_hash: string
  analyst_id: number
  csrf_token: string
  created_at: CreatedAt
  last_seen_at: CreatedAt
  expires_at: Timestamp
}

/** The review policy: one row, read by every worker when it records matches. */
export interface ReviewPolicyTable {
  id: ColumnType<boolean, boolean | undefined, never>
  auto_exact: boolean
  auto_pdq_distance: number
  auto_blockhash_distance: number
  min_quality: number
  two_analysts_near: boolean
  updated_at: CreatedAt
  updated_by: string | null
}

/** A confirmation of a near match that waits for a second analyst. */
export interface ReviewVoteTable {
  media_id: number
  analyst_id: number
  vote: 'confirm'
  at: CreatedAt
}

/** Left by a rejection: this content never waits again for this list entry (in any version of the list). */
export interface ReviewSuppressionTable {
  id: Generated<number>
  media_id: number
  list_id: number
  algorithm: string
  hash: Uint8Array
  analyst_id: number | null
  reason: string | null
  created_at: CreatedAt
}

/** A provider's dispute of a notice (its words included), waiting for an analyst until resolved. */
export interface NoticeDisputeTable {
  id: Generated<number>
  notice_id: number
  media_id: number
  message: string | null
  via: ColumnType<string, string | undefined, string>
  created_at: CreatedAt
  escalated_at: NullableTimestamp
  resolved_at: NullableTimestamp
  resolved_by: number | null
  resolution: 'upheld' | 'withdrawn' | null
  resolution_reason: string | null
}

/** Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE): who did what, when and why. */
export interface AuditLogTable {
  id: ColumnType<string, never, never>
  at: CreatedAt
  actor_id: number | null
  actor: string
  action: string
  subject: string | null
  reason: string | null
  detail: ColumnType<Record<string, unknown>, string | undefined, never>
}

export interface Database {
  crawl_jobs: CrawlJobTable
  frontier: FrontierTable
  frontier_hosts: FrontierHostTable
  frontier_skips: FrontierSkipTable
  pages: PageTable
  media: MediaTable
  media_fetches: MediaFetchTable
  sightings: SightingTable
  hash_lists: HashListTable
  hash_list_versions: HashListVersionTable
  known_hashes: KnownHashTable
  hash_list_changes: HashListChangeTable
  matches: MatchTable
  providers: ProviderTable
  provider_rules: ProviderRuleTable
  notices: NoticeTable
  outbox: OutboxTable
  notice_events: NoticeEventTable
  rdap_cache: RdapCacheTable
  provider_lookups: ProviderLookupTable
  analysts: AnalystTable
  analyst_sessions: AnalystSessionTable
  review_policy: ReviewPolicyTable
  review_votes: ReviewVoteTable
  review_suppressions: ReviewSuppressionTable
  audit_log: AuditLogTable
  notice_disputes: NoticeDisputeTable
}

export type Media = Selectable<MediaTable>
export type NewMedia = Insertable<MediaTable>
export type Notice = Selectable<NoticeTable>
export type OutboxRow = Selectable<OutboxTable>
export type MatchRow = Selectable<MatchTable>
