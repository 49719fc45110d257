import type { Database, Kysely, ListReviewMode, MatchStatus } from '@arachnid/core'
import type { KnownMatch } from './matcher.js'

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
  /** The content matched an entry of this ignore list (see `hash_lists.ignore`): every match of it is suppressed. */
  readonly ignoredBy?: string | null
}

export const REVIEW_REASONS = ['ignored', 'suppressed', 'review-required', 'exact', 'low-quality', 'near-close', 'near'] as const
export type ReviewReason = (typeof REVIEW_REASONS)[number]

const EXACT = new Set(['sha256', 'md5', 'sha1'])

/**
 * Which matches notify at once and which wait for an analyst, and why. In order: content that
 * matched an ignore list is rejected (never noticed nor queued); content an analyst rejected for this entry stays rejected; every match on a review-required list waits;
 * exact matches notify (unless the policy says otherwise); perceptual matches on low-quality
 * hashes wait; perceptual matches within the low auto threshold notify, the rest wait.
 *
 * @example
 * decideStatus(match, { policy: DEFAULT_REVIEW_POLICY, listMode: 'verified', mediaQuality: 100, entryQuality: null, suppressed: false })
 * // { status: 'pending', reason: 'near' } for a PDQ match at distance 20
 */
export function decideStatus(match: KnownMatch, context: MatchContext): { status: MatchStatus; reason: ReviewReason } {
  const { policy } = context
  if (context.ignoredBy) return { status: 'rejected', reason: 'ignored' }
  if (context.suppressed) return { status: 'rejected', reason: 'suppressed' }
  if (context.listMode === 'review-required') return { status: 'pending', reason: 'review-required' }
  if (EXACT.has(match.algorithm)) return { status: policy.autoExact ? 'auto-confirmed' : 'pending', reason: 'exact' }
  const qualities = [context.mediaQuality, context.entryQuality]
  // Unknown content quality counts as low: a hash we cannot rate is not trusted to notify alone.
  if (context.mediaQuality === null || qualities.some((q) => q !== null && q < policy.minQuality)) return { status: 'pending', reason: 'low-quality' }
  // A video entry's distance is the farthest of its matched frames' PDQ distances.
  const limit = match.algorithm === 'blockhash' ? policy.autoBlockhashDistance : policy.autoPdqDistance
  return match.distance <= limit ? { status: 'auto-confirmed', reason: 'near-close' } : { status: 'pending', reason: 'near' }
}

/** The policy in force (the single review_policy row). */
export async function loadReviewPolicy(db: Kysely<Database>): Promise<ReviewPolicy> {
  return reviewPolicyOf(await db.selectFrom('review_policy').selectAll().executeTakeFirst())
}

/** The policy a review_policy row says (the defaults without one). */
export function reviewPolicyOf(row: Pick<Database['review_policy'], 'auto_exact' | 'auto_pdq_distance' | 'auto_blockhash_distance' | 'min_quality' | 'two_analysts_near'> | null | undefined): ReviewPolicy {
  if (!row) return DEFAULT_REVIEW_POLICY
  return {
    autoExact: row.auto_exact, autoPdqDistance: row.auto_pdq_distance, autoBlockhashDistance: row.auto_blockhash_distance,
    minQuality: row.min_quality, twoAnalystsNear: row.two_analysts_near,
  }
}
