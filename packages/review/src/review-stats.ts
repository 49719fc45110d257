import { type Database, type Kysely, sql } from '@arachnid/core'
import { type NoticeStats, noticeStats } from '@arachnid/notifier'
import { queueCounts } from './review-queue.js'
import { suspectCounts } from './suspect-queue.js'

/** Histogram buckets for durations, in hours (upper bounds; the last is open-ended). */
export const DURATION_BUCKETS = [
  { label: '< 1 h', max: 1 }, { label: '1-6 h', max: 6 }, { label: '6-24 h', max: 24 },
  { label: '1-3 d', max: 72 }, { label: '3-7 d', max: 168 }, { label: '> 7 d', max: Number.POSITIVE_INFINITY },
] as const

export interface Bucketed {
  readonly label: string
  readonly count: number
}

export interface ReviewStats {
  /** The figures `arachnid stats` prints (the notifier's noticeStats), unchanged. */
  readonly removal: NoticeStats
  /** Notices created per day (UTC), the last `days` days, oldest first. */
  readonly noticesPerDay: readonly { day: string; count: number }[]
  /** Time to removal of every removed notice, overall and per provider, in DURATION_BUCKETS. */
  readonly timeToRemoval: { readonly overall: readonly Bucketed[]; readonly providers: readonly { provider: string; buckets: readonly Bucketed[] }[] }
  /** Age of the notices still open, in DURATION_BUCKETS. */
  readonly openAges: readonly Bucketed[]
  /** Media waiting for review (listQueue's definition: both queues) and, of those, escalated. */
  readonly queue: { readonly pending: number; readonly escalated: number }
  /** Suspects waiting for classification, and those classified so far by outcome. */
  readonly suspects: { readonly pending: number; readonly csam: number; readonly harmful: number; readonly not: number }
}

function bucket(hours: readonly number[]): Bucketed[] {
  return DURATION_BUCKETS.map((b, i) => ({
    label: b.label,
    count: hours.filter((h) => h < b.max && (i === 0 || h >= DURATION_BUCKETS[i - 1]!.max)).length,
  }))
}

/**
 * The statistics page's figures. The summary per provider is the notifier's `noticeStats` (what
 * `arachnid stats` prints); the distributions it has no per-notice output for use the same
 * definition of time to removal (from the first notice email sent, or the notice's creation when
 * none was sent, to the recorded removal).
 */
export async function reviewStats(db: Kysely<Database>, options: { readonly days?: number; readonly now?: Date } = {}): Promise<ReviewStats> {
  const days = options.days ?? 30
  const now = options.now ?? new Date()
  const removal = await noticeStats(db)
  const rows = await db.selectFrom('notices as n').leftJoin('providers as p', 'p.id', 'n.provider_id')
    .select([
      'p.name as provider', 'n.status', 'n.created_at',
      sql<number | null>`extract(epoch from (n.removed_at - coalesce(
        (select min(o.sent_at) from outbox o where o.notice_id = n.id and o.kind = 'notice'), n.created_at))) / 3600.0`.as('hours'),
    ]).execute()
  const removed = rows.filter((r) => r.status === 'removed' && r.hours !== null).map((r) => ({ provider: r.provider ?? '(unassigned)', hours: Math.max(0, Number(r.hours)) }))
  const providers = [...new Set(removed.map((r) => r.provider))].sort((a, b) => a.localeCompare(b))
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - (days - 1) * 86_400_000)
  const perDay = new Map<string, number>()
  for (let i = 0; i < days; i++) perDay.set(new Date(start.getTime() + i * 86_400_000).toISOString().slice(0, 10), 0)
  for (const r of rows) {
    const day = new Date(r.created_at).toISOString().slice(0, 10)
    if (perDay.has(day)) perDay.set(day, perDay.get(day)! + 1)
  }
  const open = rows.filter((r) => r.status === 'open').map((r) => Math.max(0, (now.getTime() - new Date(r.created_at).getTime()) / 3_600_000))
  // The queue's own definition, so "waiting for review" is what the queue shows.
  const queue = await queueCounts(db)
  const suspects = await suspectCounts(db)
  return {
    removal,
    noticesPerDay: [...perDay.entries()].map(([day, count]) => ({ day, count })),
    timeToRemoval: {
      overall: bucket(removed.map((r) => r.hours)),
      providers: providers.map((provider) => ({ provider, buckets: bucket(removed.filter((r) => r.provider === provider).map((r) => r.hours)) })),
    },
    openAges: bucket(open),
    queue: { pending: queue.pending, escalated: queue.escalated },
    suspects: { pending: suspects.pending, csam: suspects.csam, harmful: suspects['harmful-abusive-material'], not: suspects.not },
  }
}
