import { type Database, type Kysely, LIST_REVIEW_MODES, type ListReviewMode, NonRetryableError } from '@arachnid/core'
import { type ReviewPolicy, loadReviewPolicy } from '@arachnid/matcher'
import { type Actor, appendAudit } from './audit-log.js'

/** The numeric fields and their ranges: distances are of 256 bits, PDQ quality is 0 to 100. */
export const POLICY_RANGES = { autoPdqDistance: [0, 256], autoBlockhashDistance: [0, 256], minQuality: [0, 100] } as const
const BOOLEAN = ['autoExact', 'twoAnalystsNear'] as const

/** Checks a partial policy from outside (API, CLI); throws BAD_POLICY naming the bad field. */
export function parsePolicyChange(input: Record<string, unknown>): Partial<ReviewPolicy> {
  const out: Record<string, number | boolean> = {}
  for (const [key, [min, max]] of Object.entries(POLICY_RANGES)) {
    const value = policyInteger(key, input[key], min, max)
    if (value !== undefined) out[key] = value
  }
  for (const key of BOOLEAN) {
    const value = policyBoolean(key, input[key])
    if (value !== undefined) out[key] = value
  }
  return out as Partial<ReviewPolicy>
}

/** A policy's integer field from outside (a number, or a string of digits); undefined when absent or ''; BAD_POLICY naming the field otherwise. */
export function policyInteger(key: string, raw: unknown, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined
  const value = typeof raw === 'number' || (typeof raw === 'string' && /^\s*[+-]?\d+\s*$/.test(raw)) ? Number(raw) : Number.NaN
  if (!Number.isInteger(value) || value < min || value > max) throw new NonRetryableError('BAD_POLICY', `${key} ${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`)
  return value
}

/** A policy's yes/no field from outside (a boolean, or 1/true/on/yes, 0/false/off/no); undefined when absent. */
export function policyBoolean(key: string, raw: unknown): boolean | undefined {
  if (raw === undefined) return undefined
  if (typeof raw === 'boolean') return raw
  if (/^(1|true|on|yes)$/i.test(String(raw))) return true
  if (/^(0|false|off|no)$/i.test(String(raw))) return false
  throw new NonRetryableError('BAD_POLICY', `${key} must be true or false`)
}

/**
 * Changes the review policy for every worker at once (it is read when matches are recorded) and
 * audits the change with the values before and after. Matches already recorded keep their status.
 */
export async function updateReviewPolicy(db: Kysely<Database>, change: Partial<ReviewPolicy>, by: Actor, reason?: string): Promise<ReviewPolicy> {
  return db.transaction().execute(async (trx) => {
    const before = await loadReviewPolicy(trx)
    const after = { ...before, ...change }
    await trx.updateTable('review_policy').set({
      auto_exact: after.autoExact, auto_pdq_distance: after.autoPdqDistance, auto_blockhash_distance: after.autoBlockhashDistance,
      min_quality: after.minQuality, two_analysts_near: after.twoAnalystsNear, updated_at: new Date(), updated_by: by.name,
    }).execute()
    await appendAudit(trx, { actor: by, action: 'policy-change', subject: 'policy', reason, detail: { before, after } })
    return after
  })
}

/** Largest list review priority either way (the column is a Postgres integer). */
export const MAX_PRIORITY = 1_000_000

/** Marks a list verified (its close matches may notify at once) or review-required (every match waits); audited. */
export async function setListReview(
  db: Kysely<Database>,
  list: { readonly id?: number; readonly name?: string },
  change: { readonly mode?: ListReviewMode; readonly priority?: number },
  by: Actor,
  reason?: string,
): Promise<{ id: number; name: string; mode: ListReviewMode; priority: number }> {
  if (change.mode !== undefined && !LIST_REVIEW_MODES.includes(change.mode)) throw new NonRetryableError('BAD_MODE', `mode must be one of ${LIST_REVIEW_MODES.join(', ')}`)
  if (change.priority !== undefined && (!Number.isInteger(change.priority) || Math.abs(change.priority) > MAX_PRIORITY)) {
    throw new NonRetryableError('BAD_PRIORITY', `priority ${JSON.stringify(change.priority)}: expected an integer from ${-MAX_PRIORITY} to ${MAX_PRIORITY}`)
  }
  return db.transaction().execute(async (trx) => {
    let q = trx.selectFrom('hash_lists').select(['id', 'name', 'review_mode', 'review_priority'])
    q = list.id !== undefined ? q.where('id', '=', list.id) : q.where('name', '=', list.name ?? '')
    const before = await q.executeTakeFirst()
    if (!before) throw new NonRetryableError('NOT_FOUND', `no list ${list.id ?? list.name}`)
    const after = await trx.updateTable('hash_lists').set({ review_mode: change.mode ?? before.review_mode, review_priority: change.priority ?? before.review_priority })
      .where('id', '=', before.id).returning(['id', 'name', 'review_mode', 'review_priority']).executeTakeFirstOrThrow()
    await appendAudit(trx, {
      actor: by, action: 'list-review-change', subject: `list:${after.id}`, reason,
      detail: { list: after.name, before: { mode: before.review_mode, priority: before.review_priority }, after: { mode: after.review_mode, priority: after.review_priority } },
    })
    return { id: after.id, name: after.name, mode: after.review_mode, priority: after.review_priority }
  })
}

export async function listReviewModes(db: Kysely<Database>): Promise<{ id: number; name: string; mode: ListReviewMode; priority: number }[]> {
  const rows = await db.selectFrom('hash_lists').select(['id', 'name', 'review_mode', 'review_priority']).orderBy('name').execute()
  return rows.map((r) => ({ id: r.id, name: r.name, mode: r.review_mode, priority: r.review_priority }))
}
