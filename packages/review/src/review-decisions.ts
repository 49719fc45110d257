import { type Database, type Kysely, NonRetryableError, sql } from '@arachnid/core'
import { loadReviewPolicy, queueSuspects } from '@arachnid/matcher'
import { type CreateNoticesOptions, type ProviderLookup, type Reporter, MatchIntake } from '@arachnid/notifier'
import { type Analyst, hasRole } from './analyst-accounts.js'
import { appendAudit } from './audit-log.js'

export const DECISIONS = ['confirm', 'reject', 'escalate'] as const
export type Decision = (typeof DECISIONS)[number]

export function isDecision(value: unknown): value is Decision {
  return typeof value === 'string' && (DECISIONS as readonly string[]).includes(value)
}

/** Refusals a client can act on: the HTTP layer maps `status` to the response code. */
export class DecisionError extends NonRetryableError {
  readonly status: number
  constructor(code: string, message: string, status: number) {
    super(code, message)
    this.status = status
  }
}

export interface DecisionDeps {
  readonly db: Kysely<Database>
  /** Who sends notices, as the notices name it. */
  readonly reporter: Reporter
  /** Provider lookup for new notices. Default: the local provider directory, loaded per decision. */
  readonly lookup?: ProviderLookup
  /** Acknowledgement links, templates and recheck interval for the notices (the notifier's options). */
  readonly noticeOptions?: CreateNoticesOptions
  /** Where confirmed media get their notices. Default: the notifier's MatchIntake with the reporter, lookup and notice options above. */
  readonly intake?: MatchIntake
}

export interface DecisionResult {
  readonly mediaId: number
  readonly decision: Decision
  /**
   * confirmed/rejected/escalated, or awaiting-second when two analysts must agree and one has; on
   * a disputed notice: upheld (confirm) or withdrawn (reject).
   */
  readonly state: 'confirmed' | 'rejected' | 'escalated' | 'awaiting-second' | 'upheld' | 'withdrawn'
  readonly matches: number
  /** Notices created by a confirmation (none for a URL already noticed). */
  readonly notices: readonly string[]
  /** Notices withdrawn (closed) because an analyst agreed with the provider's dispute. */
  readonly withdrawn: readonly string[]
  readonly auditId: string
}

const EXACT = ['sha256', 'md5', 'sha1']

/**
 * Applies an analyst's decision on a waiting media and audits it:
 * - confirm: the match intake's notices (one notice and its outbox email per URL of the media),
 *   then the matches are confirmed; when the policy wants two analysts for near matches, the
 *   first confirmation is a vote and the second (by someone else) confirms;
 * - reject: the matches are rejected and the content suppressed for those list entries, so it
 *   never waits again for them (even in a later version of the list);
 * - escalate: the media moves to the supervisors' queue.
 * Escalated media are decided by supervisors and admins only.
 *
 * @example
 * await decide(deps, analyst, { mediaId: 12, decision: 'reject', reason: 'benign look-alike' })
 */
export async function decide(deps: DecisionDeps, analyst: Analyst, input: { readonly mediaId: number; readonly decision: Decision; readonly reason?: string }): Promise<DecisionResult> {
  const { db } = deps
  const { mediaId, decision } = input
  const reason = input.reason?.trim() || undefined
  const disputes = await db.selectFrom('notice_disputes').where('media_id', '=', mediaId).where('resolved_at', 'is', null).select(['id', 'notice_id', 'escalated_at']).execute()
  if (disputes.length > 0) return decideDispute(db, analyst, { mediaId, decision, reason }, disputes)
  const pending = await db.selectFrom('matches').where('media_id', '=', mediaId).where('status', '=', 'pending')
    .select(['id', 'list_id', 'algorithm', 'known_hash_id', 'escalated_at']).execute()
  if (pending.length === 0) throw new DecisionError('NOT_PENDING', `media ${mediaId} has nothing waiting for a decision`, 409)
  // The queue's definition (queueRows): a media noticed through another match does not wait.
  const noticed = await db.selectFrom('matches').where('media_id', '=', mediaId).where('status', 'in', ['auto-confirmed', 'confirmed']).select('id').limit(1).executeTakeFirst()
  if (noticed) throw new DecisionError('NOT_PENDING', `media ${mediaId} is noticed already through another match; nothing waits for a decision`, 409)
  const escalated = pending.some((m) => m.escalated_at !== null)
  if (escalated && !hasRole(analyst, 'supervisor')) throw new DecisionError('SUPERVISOR_ONLY', 'escalated media are decided by supervisors', 403)
  const ids = pending.map((m) => m.id)
  const subject = `media:${mediaId}`
  const actor = { id: analyst.id, name: analyst.name }

  if (decision === 'escalate') {
    if (escalated) throw new DecisionError('ALREADY_ESCALATED', `media ${mediaId} is already escalated`, 409)
    return db.transaction().execute(async (trx) => {
      await trx.updateTable('matches').set({ escalated_at: sql<Date>`now()` as never }).where('id', 'in', ids).execute()
      const auditId = await appendAudit(trx, { actor, action: 'escalate', subject, reason, detail: { matches: ids } })
      return { mediaId, decision, state: 'escalated' as const, matches: ids.length, notices: [], withdrawn: [], auditId }
    })
  }

  if (decision === 'reject') {
    const entries = await db.selectFrom('known_hashes').where('id', 'in', pending.map((m) => m.known_hash_id)).select(['id', 'list_id', 'algorithm', 'hash']).execute()
    return db.transaction().execute(async (trx) => {
      const updated = await trx.updateTable('matches').set({ status: 'rejected', decided_by: analyst.id, decided_at: sql<Date>`now()` as never })
        .where('id', 'in', ids).where('status', '=', 'pending').returning('id').execute()
      if (updated.length === 0) throw new DecisionError('NOT_PENDING', `media ${mediaId} was decided meanwhile`, 409)
      await trx.insertInto('review_suppressions').values(entries.map((e) => ({
        media_id: mediaId, list_id: e.list_id, algorithm: e.algorithm, hash: e.hash, analyst_id: analyst.id, reason: reason ?? null,
      }))).onConflict((oc) => oc.columns(['media_id', 'list_id', 'algorithm', 'hash']).doNothing()).execute()
      await trx.deleteFrom('review_votes').where('media_id', '=', mediaId).execute()
      const auditId = await appendAudit(trx, { actor, action: 'reject', subject, reason, detail: { matches: ids, suppressed: entries.length } })
      return { mediaId, decision, state: 'rejected' as const, matches: updated.length, notices: [], withdrawn: [], auditId }
    })
  }

  const policy = await loadReviewPolicy(db)
  const near = !pending.some((m) => EXACT.includes(m.algorithm))
  if (policy.twoAnalystsNear && near) {
    const voted = await db.insertInto('review_votes').values({ media_id: mediaId, analyst_id: analyst.id, vote: 'confirm' })
      .onConflict((oc) => oc.columns(['media_id', 'analyst_id']).doNothing()).returning('analyst_id').executeTakeFirst()
    const votes = await db.selectFrom('review_votes').where('media_id', '=', mediaId).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()
    if (Number(votes.n) < 2) {
      if (!voted) throw new DecisionError('ALREADY_VOTED', 'a second analyst must confirm this near match', 409)
      const auditId = await appendAudit(db, { actor, action: 'confirm-vote', subject, reason, detail: { matches: ids, votes: Number(votes.n) } })
      return { mediaId, decision, state: 'awaiting-second', matches: ids.length, notices: [], withdrawn: [], auditId }
    }
  }
  // Notices first, then the status: notices are idempotent per URL, so a crash between the two
  // leaves the media waiting, and confirming it again creates nothing twice.
  const intake = deps.intake ?? new MatchIntake(db, { reporter: deps.reporter, lookup: deps.lookup, notices: deps.noticeOptions })
  const created = await intake.confirmed(mediaId, ids)
  const result = await db.transaction().execute(async (trx) => {
    const updated = await trx.updateTable('matches').set({ status: 'confirmed', decided_by: analyst.id, decided_at: sql<Date>`now()` as never })
      .where('id', 'in', ids).where('status', '=', 'pending').returning('id').execute()
    const auditId = await appendAudit(trx, { actor, action: 'confirm', subject, reason, detail: { matches: ids, notices: created.references, unassigned: created.unassigned } })
    return { mediaId, decision, state: 'confirmed' as const, matches: updated.length, notices: created.references, withdrawn: [], auditId }
  })
  // A confirmed match anchors its pages: what was seen beside it and matches nothing becomes a suspect.
  await queueSuspects(db, [mediaId])
  return result
}

/**
 * A decision on a media whose notice a provider disputes:
 * - confirm upholds the notice: the disputes are closed as upheld and the notice goes on
 *   (rechecks, reminders) as before;
 * - reject agrees with the provider: the media's matches are rejected and suppressed (as for any
 *   rejection), its open notices are closed (withdrawn) with their unsent emails cancelled, and the
 *   disputes closed as withdrawn;
 * - escalate moves the disputes to the supervisors' queue.
 * Each is recorded in the notices' history and the audit log.
 */
async function decideDispute(
  db: Kysely<Database>,
  analyst: Analyst,
  input: { readonly mediaId: number; readonly decision: Decision; readonly reason?: string },
  disputes: readonly { id: number; notice_id: number; escalated_at: Date | null }[],
): Promise<DecisionResult> {
  const { mediaId, decision, reason } = input
  const escalated = disputes.some((d) => d.escalated_at !== null)
  if (escalated && !hasRole(analyst, 'supervisor')) throw new DecisionError('SUPERVISOR_ONLY', 'escalated disputes are decided by supervisors', 403)
  const ids = disputes.map((d) => d.id)
  const subject = `media:${mediaId}`
  const actor = { id: analyst.id, name: analyst.name }
  const noticeIds = [...new Set(disputes.map((d) => d.notice_id))]
  const references = (await db.selectFrom('notices').where('id', 'in', noticeIds).select('reference').orderBy('id').execute()).map((n) => n.reference)

  if (decision === 'escalate') {
    if (escalated) throw new DecisionError('ALREADY_ESCALATED', `the dispute about media ${mediaId} is already escalated`, 409)
    return db.transaction().execute(async (trx) => {
      await trx.updateTable('notice_disputes').set({ escalated_at: sql<Date>`now()` as never }).where('id', 'in', ids).where('resolved_at', 'is', null).execute()
      const auditId = await appendAudit(trx, { actor, action: 'escalate', subject, reason, detail: { disputes: ids, notices: references } })
      return { mediaId, decision, state: 'escalated' as const, matches: 0, notices: [], withdrawn: [], auditId }
    })
  }

  const resolution = decision === 'confirm' ? 'upheld' as const : 'withdrawn' as const
  return db.transaction().execute(async (trx) => {
    const resolved = await trx.updateTable('notice_disputes').set({
      resolved_at: sql<Date>`now()` as never, resolved_by: analyst.id, resolution, resolution_reason: reason ?? null,
    }).where('id', 'in', ids).where('resolved_at', 'is', null).returning('id').execute()
    if (resolved.length === 0) throw new DecisionError('NOT_PENDING', `the dispute about media ${mediaId} was decided meanwhile`, 409)
    if (resolution === 'upheld') {
      await trx.insertInto('notice_events').values(noticeIds.map((id) => ({ notice_id: id, kind: 'upheld' as const, detail: JSON.stringify({ analyst: analyst.name, reason: reason ?? null }) }))).execute()
      const auditId = await appendAudit(trx, { actor, action: 'notice-upheld', subject, reason, detail: { disputes: ids, notices: references } })
      return { mediaId, decision, state: 'upheld' as const, matches: 0, notices: [], withdrawn: [], auditId }
    }
    const matches = await trx.updateTable('matches').set({ status: 'rejected', decided_by: analyst.id, decided_at: sql<Date>`now()` as never })
      .where('media_id', '=', mediaId).where('status', '<>', 'rejected').returning(['id', 'known_hash_id']).execute()
    if (matches.length > 0) {
      const entries = await trx.selectFrom('known_hashes').where('id', 'in', matches.map((m) => m.known_hash_id)).select(['list_id', 'algorithm', 'hash']).execute()
      await trx.insertInto('review_suppressions').values(entries.map((e) => ({
        media_id: mediaId, list_id: e.list_id, algorithm: e.algorithm, hash: e.hash, analyst_id: analyst.id, reason: reason ?? null,
      }))).onConflict((oc) => oc.columns(['media_id', 'list_id', 'algorithm', 'hash']).doNothing()).execute()
    }
    // Every open notice about this content goes, not only the disputed one: the content is what was wrong.
    const closed = await trx.updateTable('notices').set({ status: 'closed', next_check_at: null })
      .where('media_id', '=', mediaId).where('status', '=', 'open').returning(['id', 'reference']).execute()
    closed.sort((a, b) => a.id - b.id)
    if (closed.length > 0) {
      const closedIds = closed.map((n) => n.id)
      await trx.updateTable('outbox').set({ status: 'failed', last_error: 'cancelled: the notice was withdrawn after the provider\'s dispute' })
        .where('notice_id', 'in', closedIds).where('status', 'in', ['pending', 'held']).execute()
      await trx.insertInto('notice_events').values(closedIds.map((id) => ({ notice_id: id, kind: 'withdrawn' as const, detail: JSON.stringify({ analyst: analyst.name, reason: reason ?? null }) }))).execute()
    }
    await trx.deleteFrom('review_votes').where('media_id', '=', mediaId).execute()
    const withdrawn = closed.map((n) => n.reference)
    const auditId = await appendAudit(trx, { actor, action: 'notice-withdrawn', subject, reason, detail: { disputes: ids, notices: withdrawn, matches: matches.map((m) => m.id) } })
    return { mediaId, decision, state: 'withdrawn' as const, matches: matches.length, notices: [], withdrawn, auditId }
  })
}
