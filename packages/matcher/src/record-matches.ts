import { type Database, type Kysely, type MatchStatus, bytesToHex } from '@arachnid/core'
import type { KnownMatch } from './matcher.js'
import { type ReviewPolicy, decideStatus, loadReviewPolicy } from './review-policy.js'

export interface RecordedMatch extends KnownMatch {
  readonly matchId: number
  readonly mediaId: number
  readonly status: MatchStatus
  /** Why the policy decided so (see `decideStatus`). */
  readonly reason: string
  /** The ignore list that suppressed it (status rejected, reason 'ignored'); absent otherwise. */
  readonly suppressedBy?: string
}

/**
 * Records the matches of one media, each with the status the review policy gives it. A match
 * already recorded (same media, same list entry) is not recorded again, so re-crawling the same
 * content never doubles matches nor re-queues a decided one. Returns only the matches that are new.
 *
 * Ignore lists: a media with a match on a list flagged `ignore` has every match of the batch
 * (the ignore list's own included) recorded rejected, reason 'ignored', `suppressed_by` the ignore
 * list's name, so it is never noticed nor queued; each such media gets an `ignore-suppressed`
 * row in the audit log (written here with the matches, no review-package dependency).
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
    .where('k.id', 'in', [...new Set(all.map((x) => x.m.knownHashId))]).select(['k.id', 'k.quality', 'l.review_mode', 'l.ignore', 'l.name']).execute()
  const media = await db.selectFrom('media').where('id', 'in', mediaIds).select(['id', 'pdq_quality']).execute()
  const suppressions = await db.selectFrom('review_suppressions').where('media_id', 'in', mediaIds)
    .select(['media_id', 'list_id', 'algorithm', 'hash']).execute()
  const entryById = new Map(entries.map((e) => [e.id, e]))
  const qualityById = new Map(media.map((m) => [m.id, m.pdq_quality]))
  const suppressed = new Set(suppressions.map((s) => `${s.media_id}:${s.list_id}:${s.algorithm}:${bytesToHex(s.hash)}`))
  // The ignore list (first by name) each media matched, read from the list row rather than the match.
  const ignoredBy = new Map<number, string>()
  for (const { item, m } of all) {
    const entry = entryById.get(m.knownHashId)
    if (!entry?.ignore) continue
    const before = ignoredBy.get(item.mediaId)
    if (before === undefined || entry.name < before) ignoredBy.set(item.mediaId, entry.name)
  }
  const decided = all.map(({ item, m }) => ({
    item, m,
    decision: decideStatus(m, {
      policy, listMode: entryById.get(m.knownHashId)?.review_mode ?? 'verified', mediaQuality: qualityById.get(item.mediaId) ?? null,
      entryQuality: entryById.get(m.knownHashId)?.quality ?? null, suppressed: suppressed.has(`${item.mediaId}:${m.listId}:${m.algorithm}:${m.hash.toLowerCase()}`),
      ignoredBy: ignoredBy.get(item.mediaId) ?? null,
    }),
  }))
  const inserted = await db.insertInto('matches').values(decided.map(({ item, m, decision }) => ({
    media_id: item.mediaId, known_hash_id: m.knownHashId, list_id: m.listId, list_version: m.listVersion,
    algorithm: m.algorithm, distance: m.distance, category: m.category, external_id: m.externalId,
    status: decision.status, review_reason: decision.reason, job_id: item.jobId,
    timestamps: m.timestamps === undefined ? null : [...m.timestamps], share: m.share ?? null,
    suppressed_by: decision.reason === 'ignored' ? ignoredBy.get(item.mediaId) ?? null : null,
  }))).onConflict((oc) => oc.columns(['media_id', 'known_hash_id']).doNothing())
    .returning(['id', 'media_id', 'known_hash_id', 'status', 'review_reason', 'suppressed_by']).execute()
  const byKey = new Map(decided.map((x) => [`${x.item.mediaId}:${x.m.knownHashId}`, x.m] as const))
  const recorded: RecordedMatch[] = inserted.map((row) => ({
    ...byKey.get(`${row.media_id}:${row.known_hash_id}`)!, matchId: row.id, mediaId: row.media_id, status: row.status, reason: row.review_reason ?? '',
    ...(row.suppressed_by === null ? {} : { suppressedBy: row.suppressed_by }),
  }))
  await auditSuppressions(db, recorded)
  return recorded
}

/** One audit_log row per media whose new matches an ignore list suppressed, all in one statement. */
async function auditSuppressions(db: Kysely<Database>, recorded: readonly RecordedMatch[]): Promise<void> {
  const byMedia = new Map<number, { list: string; matches: { matchId: number; list: string; algorithm: string; distance: number }[] }>()
  for (const r of recorded) {
    if (r.suppressedBy === undefined) continue
    const entry = byMedia.get(r.mediaId) ?? { list: r.suppressedBy, matches: [] }
    entry.matches.push({ matchId: r.matchId, list: r.list, algorithm: r.algorithm, distance: r.distance })
    byMedia.set(r.mediaId, entry)
  }
  if (byMedia.size === 0) return
  await db.insertInto('audit_log').values([...byMedia].map(([mediaId, e]) => ({
    actor_id: null, actor: 'matcher', action: 'ignore-suppressed', subject: `media:${mediaId}`,
    reason: `matched ignore list ${e.list}`, detail: JSON.stringify({ ignoreList: e.list, matches: e.matches }),
  }))).execute()
}

/**
 * The media, of those given, that may be noticed now: those with at least one match the policy
 * auto-confirmed or an analyst confirmed. Media whose matches all wait (or were rejected) are not,
 * nor media an ignore list suppressed (any match with `suppressed_by`), whatever was recorded before.
 */
export async function notifiableMedia(db: Kysely<Database>, mediaIds: readonly number[]): Promise<Set<number>> {
  if (mediaIds.length === 0) return new Set()
  const rows = await db.selectFrom('matches').where('media_id', 'in', [...new Set(mediaIds)])
    .where('status', 'in', ['auto-confirmed', 'confirmed']).select('media_id').distinct().execute()
  if (rows.length === 0) return new Set()
  const ignored = await db.selectFrom('matches').where('media_id', 'in', rows.map((r) => r.media_id))
    .where('suppressed_by', 'is not', null).select('media_id').distinct().execute()
  const skip = new Set(ignored.map((r) => r.media_id))
  return new Set(rows.map((r) => r.media_id).filter((id) => !skip.has(id)))
}
