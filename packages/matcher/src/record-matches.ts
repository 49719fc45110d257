import type { Database, Kysely, MatchStatus } from '@arachnid/core'
import type { KnownMatch } from './matcher.js'

export interface RecordedMatch extends KnownMatch {
  readonly matchId: number
  readonly mediaId: number
  readonly status: MatchStatus
}

/**
 * Which matches notify at once and which wait for an analyst. Until the review queue exists every
 * match within its threshold is auto-confirmed; the seam is here so the policy has one home.
 */
export function decideStatus(_match: KnownMatch): MatchStatus {
  return 'auto-confirmed'
}

/**
 * Records the matches of one media. A match already recorded (same media, same list entry) is
 * not recorded again, so re-crawling the same content never doubles matches.
 * Returns only the matches that are new.
 */
export async function recordMatches(
  db: Kysely<Database>,
  items: readonly { mediaId: number; jobId: number | null; matches: readonly KnownMatch[] }[],
): Promise<RecordedMatch[]> {
  const values = items.flatMap((item) => item.matches.map((m) => ({
    media_id: item.mediaId, known_hash_id: m.knownHashId, list_id: m.listId, list_version: m.listVersion,
    algorithm: m.algorithm, distance: m.distance, category: m.category, external_id: m.externalId,
    status: decideStatus(m), job_id: item.jobId,
  })))
  if (values.length === 0) return []
  const inserted = await db.insertInto('matches').values(values)
    .onConflict((oc) => oc.columns(['media_id', 'known_hash_id']).doNothing())
    .returning(['id', 'media_id', 'known_hash_id', 'status']).execute()
  const byKey = new Map(items.flatMap((item) => item.matches.map((m) => [`${item.mediaId}:${m.knownHashId}`, m] as const)))
  return inserted.map((row) => ({ ...byKey.get(`${row.media_id}:${row.known_hash_id}`)!, matchId: row.id, mediaId: row.media_id, status: row.status }))
}
