/** Analyst review: accounts, sessions, the review policy, votes, suppressions, providers' disputes and the append-only audit log. */
import type { ColumnType, Generated } from 'kysely'
import type { CreatedAt, NullableTimestamp, Timestamp } from './column-types.js'

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
  /** Previews shown in this session since its last break (the well-being prompt counts them). */
  previews: ColumnType<number, number | undefined, number>
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

export const SUSPECT_MODES = ['off', 'on', 'per-list'] as const
export type SuspectMode = (typeof SUSPECT_MODES)[number]
export const SUSPECT_CLASSES = ['csam', 'harmful-abusive-material', 'not'] as const
export type SuspectClass = (typeof SUSPECT_CLASSES)[number]

/** The suspect policy: one row, read when a batch's matches are recorded. */
export interface SuspectPolicyTable {
  id: ColumnType<boolean, boolean | undefined, never>
  /** off: no suspects; on: beside any confirmed match; per-list: beside confirmed matches of lists marked `suspects`. */
  mode: ColumnType<SuspectMode, SuspectMode | undefined, SuspectMode>
  /** Suspects queued at most per page, and per crawl job. */
  per_page: ColumnType<number, number | undefined, number>
  per_job: ColumnType<number, number | undefined, number>
  /** Two analysts must give the same classification before it takes effect. */
  two_analysts: ColumnType<boolean, boolean | undefined, boolean>
  /** Previews a session is shown before it is prompted to take a break; 0: never prompted. */
  previews_before_break: ColumnType<number, number | undefined, number>
  updated_at: CreatedAt
  updated_by: string | null
}

/** A media that matched nothing, seen on a page beside a confirmed match: waits for analysts to classify it. */
export interface SuspectTable {
  id: Generated<number>
  media_id: number
  job_id: number | null
  page_id: number | null
  /** The confirmed match's media it was seen beside. */
  beside_media_id: number | null
  status: ColumnType<'pending' | SuspectClass, 'pending' | SuspectClass | undefined, 'pending' | SuspectClass>
  queued_at: CreatedAt
  decided_at: NullableTimestamp
  /** The local list its hashes went into (classified csam or harmful-abusive-material). */
  list_id: ColumnType<number | null, number | null | undefined, number | null>
}

/** One analyst's classification of a suspect (with the two-analyst rule, two that agree decide). */
export interface SuspectVoteTable {
  suspect_id: number
  analyst_id: number
  classification: SuspectClass
  reason: string | null
  at: CreatedAt
}

/** Where a list entry made from a classified suspect came from: who classified it, when, which media and page. */
export interface ListEntryProvenanceTable {
  known_hash_id: number
  suspect_id: number
  media_id: number
  page_url: string | null
  classified_by: string[]
  classified_at: CreatedAt
}

/** Analysts, sessions, the review policy, votes, suppressions, disputes and the audit log. */
export interface ReviewTables {
  suspect_policy: SuspectPolicyTable
  suspects: SuspectTable
  suspect_votes: SuspectVoteTable
  list_entry_provenance: ListEntryProvenanceTable
  analysts: AnalystTable
  analyst_sessions: AnalystSessionTable
  review_policy: ReviewPolicyTable
  review_votes: ReviewVoteTable
  review_suppressions: ReviewSuppressionTable
  audit_log: AuditLogTable
  notice_disputes: NoticeDisputeTable
}
