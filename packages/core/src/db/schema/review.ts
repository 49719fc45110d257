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

/** Analysts, sessions, the review policy, votes, suppressions, disputes and the audit log. */
export interface ReviewTables {
  analysts: AnalystTable
  analyst_sessions: AnalystSessionTable
  review_policy: ReviewPolicyTable
  review_votes: ReviewVoteTable
  review_suppressions: ReviewSuppressionTable
  audit_log: AuditLogTable
  notice_disputes: NoticeDisputeTable
}
