/** Matches: a media item matched a list entry (which version, how far), and what the review policy or an analyst decided. */
import type { ColumnType, Generated, Selectable } from 'kysely'
import type { CreatedAt, NullableTimestamp } from './column-types.js'

export const MATCH_STATUSES = ['auto-confirmed', 'pending', 'confirmed', 'rejected'] as const
export type MatchStatus = (typeof MATCH_STATUSES)[number]

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
  /** A video's match: where in the video (seconds) the matching frames lie. */
  timestamps: ColumnType<number[] | null, number[] | null | undefined, number[] | null>
  /** A video matched to a video entry: the share of its distinct good frames that matched (0..1). */
  share: ColumnType<number | null, number | null | undefined, number | null>
  /** The ignore list whose match suppressed this one (status rejected, review_reason 'ignored'); null otherwise. */
  suppressed_by: ColumnType<string | null, string | null | undefined, string | null>
}

/** Matches of media against list entries, with the review policy's decision. */
export interface MatchTables {
  matches: MatchTable
}

export type MatchRow = Selectable<MatchTable>
