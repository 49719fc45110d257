import { type Database, type Kysely, sql } from '@arachnid/core'

/** Removal figures for one provider, or for all of them. */
export interface RemovalStats {
  readonly provider: string
  readonly notices: number
  readonly removed: number
  readonly open: number
  /** Hours from the first notice sent (or the notice's creation, if none was sent) to removal. */
  readonly medianHoursToRemoval: number | null
  readonly p90HoursToRemoval: number | null
  /** Share of all notices removed within 24 h / 72 h of the first notice (0..1). */
  readonly removedWithin24h: number
  readonly removedWithin72h: number
  /** Notices for content a provider had removed before and that came back. */
  readonly reuploads: number
}

export interface NoticeStats {
  readonly overall: RemovalStats
  readonly providers: readonly RemovalStats[]
}

/** Percentile with linear interpolation between closest ranks (as Postgres's percentile_cont). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null
  const rank = (sorted.length - 1) * p
  const low = Math.floor(rank)
  const high = Math.ceil(rank)
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low)
}

interface Row { provider: string | null; status: string; hours: number | null; reupload: boolean }

function summarise(provider: string, rows: readonly Row[]): RemovalStats {
  const hours = rows.filter((r) => r.status === 'removed' && r.hours !== null).map((r) => Math.max(0, r.hours!)).sort((a, b) => a - b)
  const share = (limit: number) => (rows.length === 0 ? 0 : hours.filter((h) => h <= limit).length / rows.length)
  const round = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 1000)
  return {
    provider,
    notices: rows.length,
    removed: rows.filter((r) => r.status === 'removed').length,
    open: rows.filter((r) => r.status === 'open').length,
    medianHoursToRemoval: round(percentile(hours, 0.5)),
    p90HoursToRemoval: round(percentile(hours, 0.9)),
    removedWithin24h: round(share(24))!,
    removedWithin72h: round(share(72))!,
    reuploads: rows.filter((r) => r.reupload).length,
  }
}

/**
 * Removal statistics per provider and overall: how many notices, how many removed and open, how
 * long removal took (median, 90th percentile), what share came down within 24 and 72 hours, and
 * how many were re-uploads.
 *
 * @example
 * const { overall, providers } = await noticeStats(db)
 */
export async function noticeStats(db: Kysely<Database>): Promise<NoticeStats> {
  const rows = await db.selectFrom('notices as n')
    .leftJoin('providers as p', 'p.id', 'n.provider_id')
    .select([
      'p.name as provider', 'n.status', sql<boolean>`n.reupload_of is not null`.as('reupload'),
      sql<number | null>`extract(epoch from (n.removed_at - coalesce(
        (select min(o.sent_at) from outbox o where o.notice_id = n.id and o.kind = 'notice'), n.created_at))) / 3600.0`.as('hours'),
    ]).execute()
  const typed: Row[] = rows.map((r) => ({ provider: r.provider, status: r.status, hours: r.hours === null ? null : Number(r.hours), reupload: Boolean(r.reupload) }))
  const byProvider = new Map<string, Row[]>()
  for (const row of typed) {
    const name = row.provider ?? '(unassigned)'
    byProvider.set(name, [...(byProvider.get(name) ?? []), row])
  }
  return {
    overall: summarise('(all)', typed),
    providers: [...byProvider.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, list]) => summarise(name, list)),
  }
}

export interface NoticeHistory {
  readonly notice: {
    readonly reference: string
    readonly mediaUrl: string
    readonly status: string
    readonly provider: string | null
    readonly abuseEmail: string | null
    readonly detectedAt: Date
    readonly removedAt: Date | null
    readonly reminders: number
    readonly escalations: number
    readonly checks: number
    readonly lastCheck: string | null
    readonly nextCheckAt: Date | null
    readonly ack: string | null
    readonly reuploadOf: string | null
  }
  readonly emails: readonly { kind: string; to: string; status: string; attempts: number; messageId: string; sentAt: Date | null; inDoubt: boolean; lastError: string | null }[]
  readonly events: readonly { at: Date; kind: string; detail: Record<string, unknown> }[]
}

/** Everything about one notice: its state, every email, every event in order. */
export async function noticeHistory(db: Kysely<Database>, reference: string): Promise<NoticeHistory | undefined> {
  const n = await db.selectFrom('notices as n').leftJoin('providers as p', 'p.id', 'n.provider_id')
    .leftJoin('notices as r', 'r.id', 'n.reupload_of')
    .select(['n.id', 'n.reference', 'n.media_url', 'n.status', 'p.name', 'p.abuse_email', 'n.detected_at', 'n.removed_at', 'n.reminders', 'n.escalations',
      'n.checks', 'n.last_check_result', 'n.next_check_at', 'n.ack_status', 'r.reference as reupload_of'])
    .where('n.reference', '=', reference).executeTakeFirst()
  if (!n) return undefined
  const emails = await db.selectFrom('outbox').select(['kind', 'to_address', 'status', 'attempts', 'message_id', 'sent_at', 'in_doubt', 'last_error'])
    .where('notice_id', '=', n.id).orderBy('id').execute()
  const events = await db.selectFrom('notice_events').select(['at', 'kind', 'detail']).where('notice_id', '=', n.id).orderBy('id').execute()
  return {
    notice: {
      reference: n.reference, mediaUrl: n.media_url, status: n.status, provider: n.name, abuseEmail: n.abuse_email, detectedAt: n.detected_at,
      removedAt: n.removed_at, reminders: n.reminders, escalations: n.escalations, checks: n.checks, lastCheck: n.last_check_result,
      nextCheckAt: n.next_check_at, ack: n.ack_status, reuploadOf: n.reupload_of,
    },
    emails: emails.map((e) => ({ kind: e.kind, to: e.to_address, status: e.status, attempts: e.attempts, messageId: e.message_id, sentAt: e.sent_at, inDoubt: e.in_doubt, lastError: e.last_error })),
    events: events.map((e) => ({ at: e.at, kind: e.kind, detail: e.detail })),
  }
}
