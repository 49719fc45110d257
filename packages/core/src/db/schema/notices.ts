/** Notices: one per matched media URL, its events, and the transactional outbox of emails. */
import type { ColumnType, Generated, Selectable } from 'kysely'
import type { CreatedAt, NullableTimestamp, Timestamp } from './column-types.js'

/**
 * pending: due at next_attempt_at; sending: claimed, nothing past the point of no return yet;
 * committing: the end of the message is being handed to SMTP (a crash here leaves it in doubt);
 * sent; failed: gave up; held: in doubt and the policy says an operator decides.
 */
export const OUTBOX_STATUSES = ['pending', 'sending', 'committing', 'sent', 'failed', 'held'] as const
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number]

export const NOTICE_STATUSES = ['open', 'removed', 'closed'] as const
export type NoticeStatus = (typeof NOTICE_STATUSES)[number]

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

/** Notices, their history and the outbox that delivers them. */
export interface NoticeTables {
  notices: NoticeTable
  outbox: OutboxTable
  notice_events: NoticeEventTable
}

export type Notice = Selectable<NoticeTable>
export type OutboxRow = Selectable<OutboxTable>
