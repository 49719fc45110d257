import { type Database, type Kysely, type ListReviewMode, type MatchStatus, bytesToHex } from '@arachnid/core'
import type { KnownMatch } from './matcher.js'

export interface RecordedMatch extends KnownMatch {
  readonly matchId: number
  readonly mediaId: number
  readonly status: MatchStatus
  /** Why the policy decided so (see `decideStatus`). */
  readonly reason: string
}

/**
 * The review policy. It lives in the database (table review_policy, one row) rather than in each
 * process's environment, so every worker on every machine routes a match the same way; admins
 * change it from the review page (audited) or with `arachnid analysts policy`.
 */
export interface ReviewPolicy {
  /** Exact cryptographic matches (sha256, md5, sha1) on verified lists notify at once. Default true. */
  readonly autoExact: boolean
  /** PDQ matches at most this far (of 256 bits) on verified lists notify at once; farther ones wait. Default 16 (the match threshold is 31). */
  readonly autoPdqDistance: number
  /** blockhash matches at most this far on verified lists notify at once; farther ones wait. Default 12 (the match threshold is 24). */
  readonly autoBlockhashDistance: number
  /** Perceptual matches on content (or list entries) of lower PDQ quality wait, whatever the distance. Default 80. */
  readonly minQuality: number
  /** A waiting match that is not exact needs two different analysts to confirm it. Default false. */
  readonly twoAnalystsNear: boolean
}

export const DEFAULT_REVIEW_POLICY: ReviewPolicy = {
  autoExact: true, autoPdqDistance: 16, autoBlockhashDistance: 12, minQuality: 80, twoAnalystsNear: false,
}

/** What the policy knows about one match besides the match itself. */
export interface MatchContext {
  readonly policy: ReviewPolicy
  readonly listMode: ListReviewMode
  /** PDQ quality of the content found (the hasher's measure of how much texture it has); null: unknown. */
  readonly mediaQuality: number | null
  /** PDQ quality of the list entry, when the list gives one. */
  readonly entryQuality: number | null
  /** An analyst rejected this content for this list entry before. */
  readonly suppressed: boolean
}

export const REVIEW_REASONS = ['suppressed', 'review-required', 'exact', 'low-quality', 'near-close', 'near'] as const
export type ReviewReason = (typeof REVIEW_REASONS)[number]

const EXACT = new Set(['sha256', 'md5', 'sha1'])

/**
 * Which matches notify at once and which wait for an analyst, and why. In order: content an
 * analyst rejected for this entry stays rejected; every match on a review-required list waits;
 * exact matches notify (unless the policy says otherwise); perceptual matches on low-quality
 * hashes wait; perceptual matches within the low auto threshold notify, the rest wait.
 *
 * @example
 * decideStatus(match, { policy: DEFAULT_REVIEW_POLICY, listMode: 'verified', mediaQuality: 100, entryQuality: null, suppressed: false })
 * // { status: 'pending', reason: 'near' } for a PDQ match at distance 20
 */
export function decideStatus(match: KnownMatch, context: MatchContext): { status: MatchStatus; reason: ReviewReason } {
  const { policy } = context
  if (context.suppressed) return { status: 'rejected', reason: 'suppressed' }
  if (context.listMode === 'review-required') return { status: 'pending', reason: 'review-required' }
  if (EXACT.has(match.algorithm)) return { status: policy.autoExact ? 'auto-confirmed' : 'pending', reason: 'exact' }
  const qualities = [context.mediaQuality, context.entryQuality]
  // Unknown content quality counts as low: a hash we cannot rate is not trusted to notify alone.
  if (context.mediaQuality === null || qualities.some((q) => q !== null && q < policy.minQuality)) return { status: 'pending', reason: 'low-quality' }
  const limit = match.algorithm === 'pdq' ? policy.autoPdqDistance : policy.autoBlockhashDistance
  return match.distance <= limit ? { status: 'auto-confirmed', reason: 'near-close' } : { status: 'pending', reason: 'near' }
}

/** The policy in force (the single review_policy row). */
export async function loadReviewPolicy(db: Kysely<Database>): Promise<ReviewPolicy> {
  const row = await db.selectFrom('review_policy').selectAll().executeTakeFirst()
  if (!row) return DEFAULT_REVIEW_POLICY
  return {
    autoExact: row.auto_exact, autoPdqDistance: row.auto_pdq_distance, autoBlockhashDistance: row.auto_blockhash_distance,
    minQuality: row.min_quality, twoAnalystsNear: row.two_analysts_near,
  }
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
