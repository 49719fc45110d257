import { type Database, type Kysely, type MatchStatus, bytesToHex } from '@arachnid/core'
import type { KnownMatch } from './matcher.js'
import { type ReviewPolicy, decideStatus, loadReviewPolicy } from './review-policy.js'

export interface RecordedMatch extends KnownMatch {
  readonly matchId: number
  readonly mediaId: number
  readonly status: MatchStatus
  /** Why the policy decided so (see `decideStatus`). */
  readonly reason: string
}

/**
 * Records the matches of one media, each with the status the review policy gives it. A match
 * already recorded (same media, same list entry) is not recorded again, so re-crawling the same
 * content never doubles matches nor re-queues a decided one. Returns only the matches that are new.
 */
export async function recordMatches(
  db: Kysely<Database>,
  items: readonly { mediaId: number; jobId: number | null; matches: readonly KnownMatch[] }[],
  options: { readonly policy?: ReviewPolicy } = {},
): Promise<RecordedMatch[]> {
  const all = items.flatMap((item) => item.matches.map((m) => ({ item, m })))
  if (all.length === 0) return []
  const policy = options.policy ?? await loadReviewPolicy(db)
  const mediaIds = [...new Set(items.map((i) => i.mediaId))]
  // Three small batched queries for the whole batch: entries with their list's mode, content
  // quality, and suppressions left by earlier rejections.
  const entries = await db.selectFrom('known_hashes as k').innerJoin('hash_lists as l', 'l.id', 'k.list_id')
    .where('k.id', 'in', [...new Set(all.map((x) => x.m.knownHashId))]).select(['k.id', 'k.quality', 'l.review_mode']).execute()
  const media = await db.selectFrom('media').where('id', 'in', mediaIds).select(['id', 'pdq_quality']).execute()
  const suppressions = await db.selectFrom('review_suppressions').where('media_id', 'in', mediaIds)
    .select(['media_id', 'list_id', 'algorithm', 'hash']).execute()
  const entryById = new Map(entries.map((e) => [e.id, e]))
  const qualityById = new Map(media.map((m) => [m.id, m.pdq_quality]))
  const suppressed = new Set(suppressions.map((s) => `${s.media_id}:${s.list_id}:${s.algorithm}:${bytesToHex(s.hash)}`))
  const decided = all.map(({ item, m }) => ({
    item, m,
    decision: decideStatus(m, {
      policy, listMode: entryById.get(m.knownHashId)?.review_mode ?? 'verified', mediaQuality: qualityById.get(item.mediaId) ?? null,
      entryQuality: entryById.get(m.knownHashId)?.quality ?? null, suppressed: suppressed.has(`${item.mediaId}:${m.listId}:${m.algorithm}:${m.hash.toLowerCase()}`),
    }),
  }))
  const inserted = await db.insertInto('matches').values(decided.map(({ item, m, decision }) => ({
    media_id: item.mediaId, known_hash_id: m.knownHashId, list_id: m.listId, list_version: m.listVersion,
    algorithm: m.algorithm, distance: m.distance, category: m.category, external_id: m.externalId,
    status: decision.status, review_reason: decision.reason, job_id: item.jobId,
    timestamps: m.timestamps === undefined ? null : [...m.timestamps], share: m.share ?? null,
  }))).onConflict((oc) => oc.columns(['media_id', 'known_hash_id']).doNothing())
    .returning(['id', 'media_id', 'known_hash_id', 'status', 'review_reason']).execute()
  const byKey = new Map(decided.map((x) => [`${x.item.mediaId}:${x.m.knownHashId}`, x.m] as const))
  return inserted.map((row) => ({
    ...byKey.get(`${row.media_id}:${row.known_hash_id}`)!, matchId: row.id, mediaId: row.media_id, status: row.status, reason: row.review_reason ?? '',
  }))
}

/**
 * The media, of those given, that may be noticed now: those with at least one match the policy
 * auto-confirmed or an analyst confirmed. Media whose matches all wait (or were rejected) are not.
 */
export async function notifiableMedia(db: Kysely<Database>, mediaIds: readonly number[]): Promise<Set<number>> {
  if (mediaIds.length === 0) return new Set()
  const rows = await db.selectFrom('matches').where('media_id', 'in', [...new Set(mediaIds)])
    .where('status', 'in', ['auto-confirmed', 'confirmed']).select('media_id').distinct().execute()
  return new Set(rows.map((r) => r.media_id))
}
