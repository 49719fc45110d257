import { type Database, type Kysely, bytesToHex, sql } from '@arachnid/core'
import { ProviderDirectory } from '@arachnid/notifier'
import { type AuditEntry, listAudit } from './audit-log.js'

export interface QueueFilters {
  readonly listId?: number
  readonly jobId?: number
  /** Provider name, as the directory (or an earlier RDAP lookup) names it. */
  readonly provider?: string
  /** The supervisors' queue (escalated items) instead of the analysts'. */
  readonly escalated?: boolean
  /** Default 200, at most 1000. */
  readonly limit?: number
}

/** A provider's dispute of a notice about the media, in the provider's words. */
export interface QueueDispute {
  readonly id: number
  readonly reference: string
  readonly mediaUrl: string
  /** The provider the notice went to. */
  readonly provider: string | null
  /** What the provider wrote on the acknowledgement page (null when it wrote nothing). */
  readonly message: string | null
  readonly at: Date
  readonly escalated: boolean
}

/**
 * The one definition of what waits for an analyst, shared by the queue, the statistics and the
 * metrics, one row per (media, match) that puts it there:
 * - a pending match of a media not noticed through another match (auto-confirmed or confirmed:
 *   that media already has its notice, so its other matches change nothing);
 * - every match not rejected of a media whose notice a provider disputes, until an analyst
 *   upholds or withdraws it (`match_id` null when the notice has no match on record).
 * `escalated`: the row is in the supervisors' queue; a media is escalated when any row is.
 */
export function queueRows(db: Kysely<Database>) {
  const waiting = db.selectFrom('matches as m')
    .where('m.status', '=', 'pending')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('matches as x').select('x.id').whereRef('x.media_id', '=', 'm.media_id').where('x.status', 'in', ['auto-confirmed', 'confirmed']))))
    .select([
      'm.media_id', sql<number | null>`m.id`.as('match_id'), sql<boolean>`m.escalated_at is not null`.as('escalated'),
      sql<Date>`m.created_at`.as('since'), sql<string | null>`m.review_reason`.as('reason'),
    ])
  const disputed = db.selectFrom('notice_disputes as d')
    .leftJoin('matches as m', (join) => join.onRef('m.media_id', '=', 'd.media_id').on('m.status', '<>', 'rejected'))
    .where('d.resolved_at', 'is', null)
    .select([
      'd.media_id', sql<number | null>`m.id`.as('match_id'), sql<boolean>`d.escalated_at is not null`.as('escalated'),
      sql<Date>`d.created_at`.as('since'), sql<string | null>`'dispute'::text`.as('reason'),
    ])
  return waiting.unionAll(disputed)
}

/** Media waiting for an analyst (both queues) and, of those, escalated to the supervisors. */
export async function queueCounts(db: Kysely<Database>): Promise<{ pending: number; escalated: number; analysts: number }> {
  const row = await db.selectFrom(
    db.selectFrom(queueRows(db).as('q')).groupBy('q.media_id').select(['q.media_id', sql<boolean>`bool_or(q.escalated)`.as('escalated')]).as('w'),
  ).select([sql<number>`count(*)::int`.as('pending'), sql<number>`count(*) filter (where w.escalated)::int`.as('escalated')]).executeTakeFirstOrThrow()
  const pending = Number(row.pending)
  const escalated = Number(row.escalated)
  return { pending, escalated, analysts: pending - escalated }
}

/** One queue item: a media (the unit a notice is about) with its waiting matches. */
export interface QueueItem {
  readonly mediaId: number
  readonly distance: number
  readonly algorithms: readonly string[]
  readonly lists: readonly string[]
  readonly reasons: readonly string[]
  readonly priority: number
  readonly waitingSince: Date
  readonly escalated: boolean
  readonly url: string | null
  readonly provider: string | null
  /** Analysts who confirmed already (when two must agree). */
  readonly votes: readonly string[]
  /** Open disputes of the media's notices (reason "dispute"): confirm upholds the notice, reject withdraws it. */
  readonly disputes: readonly QueueDispute[]
}

/** Open disputes of these media, oldest first. */
export async function openDisputes(db: Kysely<Database>, mediaIds: readonly number[]): Promise<(QueueDispute & { mediaId: number })[]> {
  if (mediaIds.length === 0) return []
  const rows = await db.selectFrom('notice_disputes as d').innerJoin('notices as n', 'n.id', 'd.notice_id').leftJoin('providers as p', 'p.id', 'n.provider_id')
    .where('d.media_id', 'in', mediaIds).where('d.resolved_at', 'is', null)
    .select(['d.id', 'd.media_id', 'n.reference', 'n.media_url', 'p.name', 'd.message', 'd.created_at', 'd.escalated_at']).orderBy('d.id').execute()
  return rows.map((r) => ({
    id: r.id, mediaId: r.media_id, reference: r.reference, mediaUrl: r.media_url, provider: r.name, message: r.message, at: r.created_at, escalated: r.escalated_at !== null,
  }))
}

export interface ProviderGuess { readonly name: string; readonly abuseEmail: string; readonly matchedBy: string }

/** The provider of a media URL as known now: the local directory first, then an earlier lookup of the host. */
export async function providerOf(db: Kysely<Database>, directory: ProviderDirectory, url: string | null, ip: string | null): Promise<ProviderGuess | undefined> {
  if (!url) return undefined
  let host: string
  try {
    host = new URL(url).hostname
  } catch {
    return undefined
  }
  const found = directory.resolve(host, ip)
  if (found) return { name: found.name, abuseEmail: found.abuseEmail, matchedBy: found.matchedBy }
  const lookup = await db.selectFrom('provider_lookups as l').innerJoin('providers as p', 'p.id', 'l.provider_id')
    .where('l.host', '=', host).select(['p.name', 'p.abuse_email']).executeTakeFirst()
  return lookup && { name: lookup.name, abuseEmail: lookup.abuse_email, matchedBy: `lookup ${host}` }
}

/**
 * Waiting media by priority: closest match first (exact before near), then the list's review
 * priority, then the longest waiting. Which media wait is `queueRows`' definition: media already
 * noticed through another match are left out, disputed notices are in.
 */
export async function listQueue(db: Kysely<Database>, filters: QueueFilters = {}): Promise<QueueItem[]> {
  const limit = Math.min(Math.max(1, filters.limit ?? 200), 1000)
  let query = db.selectFrom(queueRows(db).as('q')).leftJoin('matches as m', 'm.id', 'q.match_id').leftJoin('hash_lists as l', 'l.id', 'm.list_id')
    .groupBy('q.media_id')
    .select([
      'q.media_id',
      sql<number>`coalesce(min(m.distance), 0)::int`.as('distance'),
      sql<string[]>`coalesce(array_agg(distinct m.algorithm order by m.algorithm) filter (where m.algorithm is not null), '{}')`.as('algorithms'),
      sql<string[]>`coalesce(array_agg(distinct l.name order by l.name) filter (where l.name is not null), '{}')`.as('lists'),
      sql<string[]>`array_agg(distinct coalesce(q.reason, '') order by coalesce(q.reason, ''))`.as('reasons'),
      sql<number>`coalesce(max(l.review_priority), 0)::int`.as('priority'),
      sql<Date>`min(q.since)`.as('waiting_since'),
      sql<boolean>`bool_or(q.escalated)`.as('escalated'),
    ])
    .having(sql<boolean>`bool_or(q.escalated)`, '=', filters.escalated === true)
    .orderBy(sql`coalesce(min(m.distance), 0)`).orderBy(sql`coalesce(max(l.review_priority), 0)`, 'desc').orderBy(sql`min(q.since)`).orderBy('q.media_id')
  if (filters.listId !== undefined) query = query.having(sql<boolean>`bool_or(m.list_id = ${filters.listId})`, '=', true)
  if (filters.jobId !== undefined) query = query.having(sql<boolean>`bool_or(m.job_id = ${filters.jobId})`, '=', true)
  // The provider filter is applied after resolving providers, so fetch more rows than shown.
  const rows = await query.limit(filters.provider ? limit * 5 : limit).execute()
  if (rows.length === 0) return []
  const ids = rows.map((r) => r.media_id)
  const fetches = await db.selectFrom('media_fetches').where('media_id', 'in', ids).where('error_code', 'is', null)
    .select(['media_id', 'url', 'final_url', 'server_ip']).orderBy('id', 'desc').execute()
  const votes = await db.selectFrom('review_votes as v').innerJoin('analysts as a', 'a.id', 'v.analyst_id')
    .where('v.media_id', 'in', ids).select(['v.media_id', 'a.name']).orderBy('v.at').execute()
  const disputes = await openDisputes(db, ids)
  const directory = await ProviderDirectory.load(db)
  const items: QueueItem[] = []
  for (const r of rows) {
    const fetch = fetches.find((f) => f.media_id === r.media_id)
    const provider = await providerOf(db, directory, fetch?.final_url ?? fetch?.url ?? null, fetch?.server_ip ?? null)
    if (filters.provider && provider?.name !== filters.provider) continue
    items.push({
      mediaId: r.media_id, distance: Number(r.distance), algorithms: r.algorithms, lists: r.lists, reasons: r.reasons.filter(Boolean),
      priority: Number(r.priority), waitingSince: new Date(r.waiting_since), escalated: Boolean(r.escalated),
      url: fetch?.url ?? null, provider: provider?.name ?? null,
      votes: votes.filter((v) => v.media_id === r.media_id).map((v) => v.name),
      disputes: disputes.filter((d) => d.mediaId === r.media_id).map(({ mediaId: _, ...d }) => d),
    })
    if (items.length >= limit) break
  }
  return items
}

export interface MatchEvidence {
  readonly matchId: number
  readonly list: string
  readonly listId: number
  readonly listVersion: number
  readonly listMode: string
  readonly algorithm: string
  /** The list entry's hash. */
  readonly entryHash: string
  readonly distance: number
  readonly category: string | null
  readonly externalId: string | null
  readonly status: string
  readonly reason: string | null
  readonly escalatedAt: Date | null
  readonly decidedBy: string | null
  readonly decidedAt: Date | null
  readonly jobId: number | null
  readonly createdAt: Date
  /** A video's match: where in it (seconds) the matching frames lie. */
  readonly timestamps: readonly number[] | null
  /** A video matched to a known video: the share of its frames that matched. */
  readonly share: number | null
}

export interface ItemEvidence {
  readonly mediaId: number
  readonly kind: 'image' | 'video'
  /** A video's length in seconds. */
  readonly durationSeconds: number | null
  readonly hashes: { readonly sha256: string; readonly md5: string; readonly sha1: string; readonly blockhash: string | null; readonly pdq: string | null }
  readonly pdqQuality: number | null
  readonly width: number | null
  readonly height: number | null
  readonly format: string | null
  readonly bytes: number
  readonly firstSeenAt: Date
  readonly fetches: readonly { url: string; finalUrl: string | null; serverIp: string | null; status: number | null; contentType: string | null; fetchedAt: Date; jobId: number; pages: readonly string[] }[]
  readonly matches: readonly MatchEvidence[]
  readonly provider: ProviderGuess | null
  readonly notices: readonly { reference: string; mediaUrl: string; status: string; createdAt: Date }[]
  readonly votes: readonly { analyst: string; at: Date }[]
  /** Open disputes of the media's notices, with the providers' words. */
  readonly disputes: readonly QueueDispute[]
  /** Earlier decisions and previews of this media, newest first. */
  readonly history: readonly AuditEntry[]
}

/** Everything an analyst needs to decide on one media, except the media itself. */
export async function itemEvidence(db: Kysely<Database>, mediaId: number): Promise<ItemEvidence | undefined> {
  const media = await db.selectFrom('media').selectAll().where('id', '=', mediaId).executeTakeFirst()
  if (!media) return undefined
  const fetches = await db.selectFrom('media_fetches').where('media_id', '=', mediaId).where('error_code', 'is', null)
    .select(['id', 'url', 'final_url', 'server_ip', 'status', 'content_type', 'fetched_at', 'job_id']).orderBy('id', 'desc').limit(50).execute()
  const pages = fetches.length === 0 ? [] : await db.selectFrom('sightings as s').innerJoin('pages as p', 'p.id', 's.page_id')
    .where('s.fetch_id', 'in', fetches.map((f) => f.id)).select(['s.fetch_id', 'p.url']).execute()
  const matches = await db.selectFrom('matches as m').innerJoin('hash_lists as l', 'l.id', 'm.list_id')
    .innerJoin('known_hashes as k', 'k.id', 'm.known_hash_id').leftJoin('analysts as a', 'a.id', 'm.decided_by')
    .where('m.media_id', '=', mediaId)
    .select(['m.id', 'l.name', 'l.id as list_id', 'm.list_version', 'l.review_mode', 'm.algorithm', 'k.hash', 'm.distance', 'm.category', 'm.external_id',
      'm.status', 'm.review_reason', 'm.escalated_at', 'a.name as decided_by', 'm.decided_at', 'm.job_id', 'm.created_at', 'm.timestamps', 'm.share'])
    .orderBy('m.distance').orderBy('m.id').execute()
  const notices = await db.selectFrom('notices').where('media_id', '=', mediaId).select(['reference', 'media_url', 'status', 'created_at']).orderBy('id').execute()
  const votes = await db.selectFrom('review_votes as v').innerJoin('analysts as a', 'a.id', 'v.analyst_id').where('v.media_id', '=', mediaId)
    .select(['a.name', 'v.at']).orderBy('v.at').execute()
  const first = fetches[0]
  const provider = await providerOf(db, await ProviderDirectory.load(db), first?.final_url ?? first?.url ?? null, first?.server_ip ?? null)
  const hex = (b: Uint8Array | null) => (b ? bytesToHex(b) : null)
  return {
    mediaId, kind: media.kind, durationSeconds: media.duration_seconds === null ? null : Number(media.duration_seconds),
    hashes: { sha256: bytesToHex(media.sha256), md5: bytesToHex(media.md5), sha1: bytesToHex(media.sha1), blockhash: hex(media.blockhash), pdq: hex(media.pdq) },
    pdqQuality: media.pdq_quality, width: media.width, height: media.height, format: media.format, bytes: media.bytes, firstSeenAt: media.first_seen_at,
    fetches: fetches.map((f) => ({
      url: f.url, finalUrl: f.final_url, serverIp: f.server_ip, status: f.status, contentType: f.content_type, fetchedAt: f.fetched_at, jobId: f.job_id,
      pages: pages.filter((p) => p.fetch_id === f.id).map((p) => p.url),
    })),
    matches: matches.map((m) => ({
      matchId: m.id, list: m.name, listId: m.list_id, listVersion: m.list_version, listMode: m.review_mode, algorithm: m.algorithm, entryHash: bytesToHex(m.hash),
      distance: m.distance, category: m.category, externalId: m.external_id, status: m.status, reason: m.review_reason, escalatedAt: m.escalated_at,
      decidedBy: m.decided_by, decidedAt: m.decided_at, jobId: m.job_id, createdAt: m.created_at,
      timestamps: m.timestamps ? m.timestamps.map(Number) : null, share: m.share === null ? null : Number(m.share),
    })),
    provider: provider ?? null,
    notices: notices.map((n) => ({ reference: n.reference, mediaUrl: n.media_url, status: n.status, createdAt: n.created_at })),
    votes: votes.map((v) => ({ analyst: v.name, at: v.at })),
    disputes: (await openDisputes(db, [mediaId])).map(({ mediaId: _, ...d }) => d),
    history: await listAudit(db, { subject: `media:${mediaId}`, limit: 100 }),
  }
}
