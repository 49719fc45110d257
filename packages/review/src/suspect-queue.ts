import { type Database, type Kysely, NonRetryableError, SUSPECT_CLASSES, SUSPECT_MODES, type SuspectClass, sql } from '@arachnid/core'
import { type RetroHuntScope, type SuspectPolicy, addClassifiedEntries, loadSuspectPolicy } from '@arachnid/matcher'
import type { Analyst } from './analyst-accounts.js'
import { type Actor, appendAudit } from './audit-log.js'
import { policyBoolean, policyInteger } from './policy-admin.js'
import { DecisionError } from './review-decisions.js'

/** A suspect as the queue shows it: never the media, only where it was seen and beside what. */
export interface SuspectItem {
  readonly suspectId: number
  readonly mediaId: number
  readonly kind: 'image' | 'video'
  /** The media URL a preview would be fetched from (its latest successful fetch). */
  readonly url: string | null
  readonly pageUrl: string | null
  readonly jobId: number | null
  /** The confirmed match it was seen beside: that media and the lists it matched. */
  readonly besideMediaId: number | null
  readonly besideLists: readonly string[]
  readonly queuedAt: Date
  /** Votes so far (with the two-analyst rule), as "name: classification". */
  readonly votes: readonly string[]
}

/** Suspects by status, every status present (0 when none): the statistics page, /metrics and the CLI show these. */
export type SuspectCounts = Readonly<Record<'pending' | SuspectClass, number>>

export async function suspectCounts(db: Kysely<Database>): Promise<SuspectCounts> {
  const rows = await db.selectFrom('suspects').select(['status', sql<number>`count(*)::int`.as('n')]).groupBy('status').execute()
  const counts: Record<'pending' | SuspectClass, number> = { pending: 0, csam: 0, 'harmful-abusive-material': 0, not: 0 }
  for (const r of rows) counts[r.status] = Number(r.n)
  return counts
}

/** Pending suspects, oldest first (a media waits in the order it was queued). */
export async function listSuspects(db: Kysely<Database>, options: { readonly jobId?: number; readonly limit?: number } = {}): Promise<SuspectItem[]> {
  const limit = Math.min(Math.max(options.limit ?? 200, 1), 1000)
  let q = db.selectFrom('suspects as s').innerJoin('media as m', 'm.id', 's.media_id').leftJoin('pages as p', 'p.id', 's.page_id')
    .where('s.status', '=', 'pending')
    .select((eb) => [
      's.id', 's.media_id', 'm.kind', 'p.url as page_url', 's.job_id', 's.beside_media_id', 's.queued_at',
      eb.selectFrom('media_fetches as f').whereRef('f.media_id', '=', 's.media_id').where('f.error_code', 'is', null).select('f.url').orderBy('f.id', 'desc').limit(1).as('url'),
      sql<string[] | null>`(select array_agg(distinct l.name order by l.name) from matches x join hash_lists l on l.id = x.list_id
        where x.media_id = s.beside_media_id and x.status in ('auto-confirmed', 'confirmed'))`.as('beside_lists'),
      sql<string[] | null>`(select array_agg(a.name || ': ' || v.classification order by v.at) from suspect_votes v join analysts a on a.id = v.analyst_id where v.suspect_id = s.id)`.as('votes'),
    ])
    .orderBy('s.id').limit(limit)
  if (options.jobId !== undefined) q = q.where('s.job_id', '=', options.jobId)
  const rows = await q.execute()
  return rows.map((r) => ({
    suspectId: r.id, mediaId: r.media_id, kind: r.kind, url: r.url, pageUrl: r.page_url, jobId: r.job_id, besideMediaId: r.beside_media_id,
    besideLists: r.beside_lists ?? [], queuedAt: r.queued_at, votes: r.votes ?? [],
  }))
}

export interface ClassifyResult {
  readonly suspectId: number
  readonly mediaId: number
  readonly classification: SuspectClass
  /**
   * classified: it took effect (for csam and harmful-abusive-material, its hashes are list entries
   * now); awaiting-second: the two-analyst rule wants another analyst's same classification;
   * disputed: analysts gave different classifications, and it waits until two agree.
   */
  readonly state: 'classified' | 'awaiting-second' | 'disputed'
  /** The local list its hashes went into, and how many entries were added. */
  readonly list?: string
  readonly entries?: number
  /** A retro-hunt for the new entries was started (its figures go to retro_hunts, as for an import). */
  readonly huntStarted?: boolean
  readonly auditId: string
}

export interface ClassifyDeps {
  readonly db: Kysely<Database>
  /** Runs the retro-hunt over a classification's new entries (the CLI's: rechecks, notices, delivery); not awaited by the request. */
  readonly startRetroHunt?: (scope: RetroHuntScope) => void
}

export function isSuspectClass(value: unknown): value is SuspectClass {
  return typeof value === 'string' && (SUSPECT_CLASSES as readonly string[]).includes(value)
}

/**
 * An analyst's classification of a suspect, audited. Without the two-analyst rule it takes effect
 * at once; with it, when two analysts have given the same classification (an analyst's later vote
 * replaces their earlier one; a vote that disagrees leaves the suspect disputed until two agree).
 * Taking effect: `not` closes it; `csam` or `harmful-abusive-material` appends its hashes to that
 * classification's local list with their provenance (addClassifiedEntries) and starts the
 * retro-hunt, which finds its other copies among the media seen and notices them as any match.
 */
export async function classifySuspect(deps: ClassifyDeps, analyst: Analyst, input: { readonly suspectId: number; readonly classification: SuspectClass; readonly reason?: string }): Promise<ClassifyResult> {
  const { db } = deps
  const { suspectId, classification } = input
  if (!isSuspectClass(classification)) throw new DecisionError('BAD_CLASSIFICATION', `classification must be one of ${SUSPECT_CLASSES.join(', ')}`, 400)
  const reason = input.reason?.trim() || undefined
  const suspect = await db.selectFrom('suspects').where('id', '=', suspectId).select(['media_id', 'status']).executeTakeFirst()
  if (!suspect) throw new DecisionError('NOT_FOUND', `no suspect ${suspectId}`, 404)
  if (suspect.status !== 'pending') throw new DecisionError('NOT_PENDING', `suspect ${suspectId} is classified already (${suspect.status})`, 409)
  const subject = `suspect:${suspectId}`
  const actor = { id: analyst.id, name: analyst.name }
  const policy = await loadSuspectPolicy(db)
  let agreed: string[] = [analyst.name]
  if (policy.twoAnalysts) {
    await db.insertInto('suspect_votes').values({ suspect_id: suspectId, analyst_id: analyst.id, classification, reason: reason ?? null })
      .onConflict((oc) => oc.columns(['suspect_id', 'analyst_id']).doUpdateSet({ classification, reason: reason ?? null, at: sql<Date>`now()` as never })).execute()
    const votes = await db.selectFrom('suspect_votes as v').innerJoin('analysts as a', 'a.id', 'v.analyst_id').where('v.suspect_id', '=', suspectId)
      .select(['a.name', 'v.classification']).orderBy('v.at').execute()
    agreed = votes.filter((v) => v.classification === classification).map((v) => v.name)
    if (agreed.length < 2) {
      const state = votes.some((v) => v.classification !== classification) ? 'disputed' as const : 'awaiting-second' as const
      const auditId = await appendAudit(db, { actor, action: 'classify-vote', subject, reason, detail: { media: suspect.media_id, classification, votes: votes.map((v) => `${v.name}: ${v.classification}`) } })
      return { suspectId, mediaId: suspect.media_id, classification, state, auditId }
    }
  }
  // The entries first, then the status: appending is idempotent (a hash in the list already is
  // not added again), so a crash between the two leaves the suspect waiting and classifying it
  // again adds nothing twice.
  const added = classification === 'not' ? undefined : await addClassifiedEntries(db, { suspectId, classification, analysts: agreed })
  const result = await db.transaction().execute(async (trx) => {
    const updated = await trx.updateTable('suspects').set({ status: classification, decided_at: sql<Date>`now()` as never, list_id: added?.listId ?? null })
      .where('id', '=', suspectId).where('status', '=', 'pending').returning('id').execute()
    if (updated.length === 0) throw new DecisionError('NOT_PENDING', `suspect ${suspectId} was classified meanwhile`, 409)
    const auditId = await appendAudit(trx, {
      actor, action: 'classify', subject, reason,
      detail: { media: suspect.media_id, classification, analysts: agreed, ...(added ? { list: added.list, entries: added.entries } : {}) },
    })
    return { suspectId, mediaId: suspect.media_id, classification, state: 'classified' as const, ...(added ? { list: added.list, entries: added.entries } : {}), auditId }
  })
  // Once the status is committed: the hunt runs on after the answer (its figures go to retro_hunts).
  const hunt = added?.added !== undefined && deps.startRetroHunt !== undefined
  if (hunt) deps.startRetroHunt!({ listId: added!.listId, versionId: added!.versionId, firstId: added!.added!.first, lastId: added!.added!.last, trigger: 'classification' })
  return added ? { ...result, huntStarted: hunt } : result
}

/** The suspect policy's fields from outside (API, CLI), checked; throws BAD_POLICY naming the bad field. */
export function parseSuspectPolicyChange(input: Record<string, unknown>): Partial<SuspectPolicy> {
  const out: Record<string, unknown> = {}
  if (input.mode !== undefined && input.mode !== '') {
    if (!(SUSPECT_MODES as readonly unknown[]).includes(input.mode)) throw new NonRetryableError('BAD_POLICY', `mode must be one of ${SUSPECT_MODES.join(', ')}`)
    out.mode = input.mode
  }
  for (const [key, max] of [['perPage', 10_000], ['perJob', 10_000_000], ['previewsBeforeBreak', 100_000]] as const) {
    const value = policyInteger(key, input[key], 0, max)
    if (value !== undefined) out[key] = value
  }
  const twoAnalysts = policyBoolean('twoAnalysts', input.twoAnalysts)
  if (twoAnalysts !== undefined) out.twoAnalysts = twoAnalysts
  return out as Partial<SuspectPolicy>
}

/** Changes the suspect policy for every worker at once (read with each batch) and audits it with the values before and after. */
export async function updateSuspectPolicy(db: Kysely<Database>, change: Partial<SuspectPolicy>, by: Actor, reason?: string): Promise<SuspectPolicy> {
  return db.transaction().execute(async (trx) => {
    const before = await loadSuspectPolicy(trx)
    const after = { ...before, ...change }
    await trx.updateTable('suspect_policy').set({
      mode: after.mode, per_page: after.perPage, per_job: after.perJob, two_analysts: after.twoAnalysts,
      previews_before_break: after.previewsBeforeBreak, updated_at: new Date(), updated_by: by.name,
    }).execute()
    await appendAudit(trx, { actor: by, action: 'suspect-policy-change', subject: 'suspect-policy', reason, detail: { before, after } })
    return after
  })
}

/** Marks a list whose confirmed matches queue suspects in the per-list mode (or not); audited. */
export async function setListSuspects(db: Kysely<Database>, list: { readonly id?: number; readonly name?: string }, suspects: boolean, by: Actor, reason?: string): Promise<{ id: number; name: string; suspects: boolean }> {
  return db.transaction().execute(async (trx) => {
    let q = trx.updateTable('hash_lists').set({ suspects })
    q = list.id !== undefined ? q.where('id', '=', list.id) : q.where('name', '=', list.name ?? '')
    const row = await q.returning(['id', 'name', 'suspects']).executeTakeFirst()
    if (!row) throw new NonRetryableError('NOT_FOUND', `no list ${list.id ?? list.name}`)
    await appendAudit(trx, { actor: by, action: 'list-suspects-change', subject: `list:${row.id}`, reason, detail: { list: row.name, suspects } })
    return row
  })
}

/**
 * Counts a preview shown to a session and says whether the session should be prompted to take a
 * break (the suspect policy's `previewsBeforeBreak`; 0 never prompts). The first preview past the
 * threshold is audited, so how often analysts are prompted can be read from the log.
 */
export async function countPreview(db: Kysely<Database>, session: { readonly tokenHash: string; readonly analyst: Actor }): Promise<{ previews: number; breakSuggested: boolean }> {
  const row = await sql<{ previews: number; limit: number }>`
    update analyst_sessions set previews = previews + 1 where token_hash = ${session.tokenHash}
    returning previews, (select previews_before_break from suspect_policy) as limit`.execute(db)
  const r = row.rows[0]
  if (!r) return { previews: 0, breakSuggested: false }
  const previews = Number(r.previews)
  const limit = Number(r.limit)
  const breakSuggested = limit > 0 && previews >= limit
  if (limit > 0 && previews === limit) await appendAudit(db, { actor: session.analyst, action: 'break-suggested', subject: `analyst:${session.analyst.id}`, detail: { previews } })
  return { previews, breakSuggested }
}

/** The session's previews since its last break, and whether it is past the policy's threshold. */
export async function sessionWellbeing(db: Kysely<Database>, tokenHash: string): Promise<{ previews: number; limit: number; breakSuggested: boolean }> {
  const row = await sql<{ previews: number | null; limit: number }>`
    select (select previews from analyst_sessions where token_hash = ${tokenHash}) as previews, previews_before_break as limit from suspect_policy`.execute(db)
  const previews = Number(row.rows[0]?.previews ?? 0)
  const limit = Number(row.rows[0]?.limit ?? 0)
  return { previews, limit, breakSuggested: limit > 0 && previews >= limit }
}

/** The analyst says they took a break: the session's count starts again; audited. */
export async function takeBreak(db: Kysely<Database>, session: { readonly tokenHash: string; readonly analyst: Actor }): Promise<void> {
  const row = await db.updateTable('analyst_sessions').set({ previews: 0 }).where('token_hash', '=', session.tokenHash).returning('previews').executeTakeFirst()
  if (row) await appendAudit(db, { actor: session.analyst, action: 'break-taken', subject: `analyst:${session.analyst.id}` })
}
