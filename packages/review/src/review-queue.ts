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
 * priority, then the longest waiting. Media already noticed through another match are left out.
 */
export async function listQueue(db: Kysely<Database>, filters: QueueFilters = {}): Promise<QueueItem[]> {
  const limit = Math.min(Math.max(1, filters.limit ?? 200), 1000)
  let query = db.selectFrom('matches as m').innerJoin('hash_lists as l', 'l.id', 'm.list_id')
    .where('m.status', '=', 'pending')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('matches as x').select('x.id').whereRef('x.media_id', '=', 'm.media_id').where('x.status', 'in', ['auto-confirmed', 'confirmed']))))
    .groupBy('m.media_id')
    .select([
      'm.media_id',
      sql<number>`min(m.distance)::int`.as('distance'),
      sql<string[]>`array_agg(distinct m.algorithm order by m.algorithm)`.as('algorithms'),
      sql<string[]>`array_agg(distinct l.name order by l.name)`.as('lists'),
      sql<string[]>`array_agg(distinct coalesce(m.review_reason, '') order by coalesce(m.review_reason, ''))`.as('reasons'),
      sql<number>`max(l.review_priority)::int`.as('priority'),
      sql<Date>`min(m.created_at)`.as('waiting_since'),
      sql<boolean>`bool_or(m.escalated_at is not null)`.as('escalated'),
    ])
    .having(sql<boolean>`bool_or(m.escalated_at is not null)`, '=', filters.escalated === true)
    .orderBy(sql`min(m.distance)`).orderBy(sql`max(l.review_priority)`, 'desc').orderBy(sql`min(m.created_at)`).orderBy('m.media_id')
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
}

export interface ItemEvidence {
  readonly mediaId: number
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
      'm.status', 'm.review_reason', 'm.escalated_at', 'a.name as decided_by', 'm.decided_at', 'm.job_id', 'm.created_at'])
    .orderBy('m.distance').orderBy('m.id').execute()
  const notices = await db.selectFrom('notices').where('media_id', '=', mediaId).select(['reference', 'media_url', 'status', 'created_at']).orderBy('id').execute()
  const votes = await db.selectFrom('review_votes as v').innerJoin('analysts as a', 'a.id', 'v.analyst_id').where('v.media_id', '=', mediaId)
    .select(['a.name', 'v.at']).orderBy('v.at').execute()
  const first = fetches[0]
  const provider = await providerOf(db, await ProviderDirectory.load(db), first?.final_url ?? first?.url ?? null, first?.server_ip ?? null)
  const hex = (b: Uint8Array | null) => (b ? bytesToHex(b) : null)
  return {
    mediaId,
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
    })),
    provider: provider ?? null,
    notices: notices.map((n) => ({ reference: n.reference, mediaUrl: n.media_url, status: n.status, createdAt: n.created_at })),
    votes: votes.map((v) => ({ analyst: v.name, at: v.at })),
    history: await listAudit(db, { subject: `media:${mediaId}`, limit: 100 }),
  }
}
