import { type Database, type Kysely, type MatchStatus, sql } from '@arachnid/core'
import { jsonArrayFrom, jsonObjectFrom } from 'kysely/helpers/postgres'
import type { KnownMatch } from './matcher.js'
import { type ReviewPolicy, decideStatus, reviewPolicyOf } from './review-policy.js'

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
 *
 * Two statements for the whole batch (three with a suppression): one read (policy, entries,
 * content quality, suppressions) and one insert.
 */
export async function recordMatches(
  db: Kysely<Database>,
  items: readonly { mediaId: number; jobId: number | null; matches: readonly KnownMatch[] }[],
  options: { readonly policy?: ReviewPolicy } = {},
): Promise<RecordedMatch[]> {
  const all = items.flatMap((item) => item.matches.map((m) => ({ item, m })))
  if (all.length === 0) return []
  const mediaIds = [...new Set(items.map((i) => i.mediaId))]
  // One read for the whole batch: the policy in force (used unless one is given), the entries with
  // their list's mode, the content's quality, and suppressions left by earlier rejections.
  const read = await db.selectNoFrom((eb) => [
    jsonObjectFrom(eb.selectFrom('review_policy').selectAll()).as('policy'),
    jsonArrayFrom(eb.selectFrom('known_hashes as k').innerJoin('hash_lists as l', 'l.id', 'k.list_id')
      .where('k.id', 'in', [...new Set(all.map((x) => x.m.knownHashId))]).select(['k.id', 'k.quality', 'l.review_mode', 'l.ignore', 'l.name'])).as('entries'),
    jsonArrayFrom(eb.selectFrom('media').where('id', 'in', mediaIds).select(['id', 'pdq_quality'])).as('media'),
    jsonArrayFrom(eb.selectFrom('review_suppressions').where('media_id', 'in', mediaIds)
      .select(['media_id', 'list_id', 'algorithm', sql<string>`encode(hash, 'hex')`.as('hash')])).as('suppressions'),
  ]).executeTakeFirstOrThrow()
  const policy = options.policy ?? reviewPolicyOf(read.policy)
  const { entries, media, suppressions } = read
  const entryById = new Map(entries.map((e) => [e.id, e]))
  const qualityById = new Map(media.map((m) => [m.id, m.pdq_quality]))
  const suppressed = new Set(suppressions.map((s) => `${s.media_id}:${s.list_id}:${s.algorithm}:${s.hash}`))
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
  // In key order, so two workers recording the same media at once (a mirror in each one's batch)
  // wait on each other at most one way, never in a cycle; returned in the order given.
  const byKeyOrder = [...decided].sort((a, b) => a.item.mediaId - b.item.mediaId || a.m.knownHashId - b.m.knownHashId)
  const inserted = await db.insertInto('matches').values(byKeyOrder.map(({ item, m, decision }) => ({
    media_id: item.mediaId, known_hash_id: m.knownHashId, list_id: m.listId, list_version: m.listVersion,
    algorithm: m.algorithm, distance: m.distance, category: m.category, external_id: m.externalId,
    status: decision.status, review_reason: decision.reason, job_id: item.jobId,
    timestamps: m.timestamps === undefined ? null : [...m.timestamps], share: m.share ?? null,
    suppressed_by: decision.reason === 'ignored' ? ignoredBy.get(item.mediaId) ?? null : null,
  }))).onConflict((oc) => oc.columns(['media_id', 'known_hash_id']).doNothing())
    .returning(['id', 'media_id', 'known_hash_id', 'status', 'review_reason', 'suppressed_by']).execute()
  const rowByKey = new Map<string, (typeof inserted)[number]>(inserted.map((row) => [`${row.media_id}:${row.known_hash_id}`, row]))
  const recorded: RecordedMatch[] = []
  for (const { item, m } of decided) {
    const key = `${item.mediaId}:${m.knownHashId}`
    const row = rowByKey.get(key)
    if (row === undefined) continue
    // The same media twice in a batch (two URLs of one content): its matches are recorded once.
    rowByKey.delete(key)
    recorded.push({
      ...m, matchId: row.id, mediaId: row.media_id, status: row.status, reason: row.review_reason ?? '',
      ...(row.suppressed_by === null ? {} : { suppressedBy: row.suppressed_by }),
    })
  }
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
 * One statement; run after the batch's matches are recorded, so it sees what another worker
 * recorded for the same content meanwhile (the rows this one's insert left to it).
 */
export async function notifiableMedia(db: Kysely<Database>, mediaIds: readonly number[]): Promise<Set<number>> {
  if (mediaIds.length === 0) return new Set()
  const rows = await db.selectFrom('matches').where('media_id', 'in', [...new Set(mediaIds)]).groupBy('media_id')
    .having((eb) => eb.and([
      eb.fn<boolean>('bool_or', [eb('status', 'in', ['auto-confirmed', 'confirmed'])]),
      eb.not(eb.fn<boolean>('bool_or', [eb('suppressed_by', 'is not', null)])),
    ]))
    .select('media_id').execute()
  return new Set(rows.map((r) => r.media_id))
}
