import { type AnalystRole, ANALYST_ROLES, type Database, type Kysely, NonRetryableError } from '@arachnid/core'
import { type Actor, appendAudit } from './audit-log.js'
import { hashPassword } from './passwords.js'

export interface Analyst {
  readonly id: number
  readonly name: string
  readonly role: AnalystRole
}

const RANK: Readonly<Record<AnalystRole, number>> = { analyst: 1, supervisor: 2, admin: 3 }

/** Whether a role includes another's rights (admin > supervisor > analyst). */
export function hasRole(analyst: Pick<Analyst, 'role'>, needed: AnalystRole): boolean {
  return RANK[analyst.role] >= RANK[needed]
}

export function isAnalystRole(value: string): value is AnalystRole {
  return (ANALYST_ROLES as readonly string[]).includes(value)
}

/**
 * Creates an account (the password is stored as a scrypt hash only), or sets a new password and
 * role on an existing one; audited either way.
 *
 * @example
 * await addAnalyst(db, { name: 'alice', role: 'analyst', password }, { id: null, name: 'cli' })
 */
export async function addAnalyst(
  db: Kysely<Database>,
  input: { readonly name: string; readonly role: AnalystRole; readonly password: string },
  by: Actor,
): Promise<Analyst & { readonly created: boolean }> {
  const name = input.name.trim()
  if (!/^[\p{L}\p{N}._@-]{1,64}$/u.test(name)) throw new NonRetryableError('BAD_NAME', 'account names are 1-64 letters, digits, ".", "_", "@" or "-"')
  if (!isAnalystRole(input.role)) throw new NonRetryableError('BAD_ROLE', `role must be one of ${ANALYST_ROLES.join(', ')}`)
  const passwordHash = await hashPassword(input.password)
  return db.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('analysts').select('id').where('name', '=', name).executeTakeFirst()
    const row = await trx.insertInto('analysts').values({ name, role: input.role, password_hash: passwordHash })
      .onConflict((oc) => oc.column('name').doUpdateSet({ role: input.role, password_hash: passwordHash, disabled_at: null }))
      .returning(['id', 'name', 'role']).executeTakeFirstOrThrow()
    // A new password ends every session the old one opened.
    if (existing) await trx.deleteFrom('analyst_sessions').where('analyst_id', '=', row.id).execute()
    await appendAudit(trx, { actor: by, action: 'analyst-add', subject: `analyst:${row.id}`, detail: { name, role: input.role, created: !existing } })
    return { id: row.id, name: row.name, role: row.role, created: !existing }
  })
}

/** Disables an account and ends its sessions (accounts are never deleted: the audit log names them). */
export async function disableAnalyst(db: Kysely<Database>, name: string, by: Actor): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const row = await trx.updateTable('analysts').set({ disabled_at: new Date() }).where('name', '=', name).returning('id').executeTakeFirst()
    if (!row) return false
    await trx.deleteFrom('analyst_sessions').where('analyst_id', '=', row.id).execute()
    await appendAudit(trx, { actor: by, action: 'analyst-disable', subject: `analyst:${row.id}`, detail: { name } })
    return true
  })
}

export async function listAnalysts(db: Kysely<Database>): Promise<(Analyst & { readonly disabled: boolean; readonly createdAt: Date })[]> {
  const rows = await db.selectFrom('analysts').select(['id', 'name', 'role', 'disabled_at', 'created_at']).orderBy('name').execute()
  return rows.map((r) => ({ id: r.id, name: r.name, role: r.role, disabled: r.disabled_at !== null, createdAt: r.created_at }))
}
