import { createHash, randomBytes } from 'node:crypto'
import { API_SCOPES, type ApiScope, type Database, type Kysely, NonRetryableError, hashSecret, sql } from '@arachnid/core'

/** Generated passwords: 24 random bytes, base64url (32 characters, 192 bits). */
const PASSWORD_BYTES = 24

/** A short digest of a password, to remember a verified one without keeping it. */
export function passwordDigest(password: string): string {
  return createHash('sha256').update(password).digest('base64url')
}

/** API user names: what HTTP Basic can carry (no colon), short, printable. */
const USER_NAME = /^[A-Za-z0-9._@-]{1,64}$/

export interface ApiUser {
  readonly name: string
  /** Requests per second; null: the service's default (ARACHNID_API_RATE). */
  readonly rate: number | null
  /** Hashes and media per UTC day; null: the service's default (ARACHNID_API_DAILY_QUOTA). */
  readonly quota: number | null
  /** Hashes and media checked today (UTC). */
  readonly usedToday: number
  readonly disabled: boolean
  readonly createdAt: Date
  /** What it may do beyond matching (`export`: read lists' changes, to subscribe to them); absent for a user that only matches. */
  readonly scopes?: readonly string[]
}

/**
 * Adds an API user and returns its password, generated here and shown only this once (it is
 * stored as a scrypt hash).
 *
 * @example
 * const { password } = await addApiUser(db, { name: 'host-a', rate: 50 })
 */
export async function addApiUser(db: Kysely<Database>, user: { readonly name: string; readonly rate?: number; readonly quota?: number; readonly scopes?: readonly ApiScope[] }): Promise<{ user: string; password: string }> {
  if (!USER_NAME.test(user.name)) throw new NonRetryableError('BAD_USER_NAME', `user name ${JSON.stringify(user.name.slice(0, 80))}: expected 1 to 64 letters, digits, . _ @ or -`)
  const bad = (user.scopes ?? []).find((s) => !(API_SCOPES as readonly string[]).includes(s))
  if (bad !== undefined) throw new NonRetryableError('BAD_SCOPE', `scope ${JSON.stringify(String(bad).slice(0, 40))}: expected ${API_SCOPES.join(' or ')}`)
  // Every user may match; a scope given adds to that.
  const scopes = [...new Set<string>(['match', ...(user.scopes ?? [])])]
  const password = randomBytes(PASSWORD_BYTES).toString('base64url')
  const inserted = await db.insertInto('api_users')
    .values({ name: user.name, password_hash: await hashSecret(password), rate: user.rate ?? null, daily_quota: user.quota ?? null, scopes })
    .onConflict((oc) => oc.column('name').doNothing()).returning('id').executeTakeFirst()
  if (inserted === undefined) throw new NonRetryableError('USER_EXISTS', `an API user named "${user.name}" exists already`)
  return { user: user.name, password }
}

/** Every API user with its limits and what it used today (UTC), by name. */
export async function listApiUsers(db: Kysely<Database>): Promise<ApiUser[]> {
  const rows = await db.selectFrom('api_users as u')
    .leftJoin('api_usage as g', (join) => join.onRef('g.user_id', '=', 'u.id').on('g.day', '=', sql<Date>`(now() at time zone 'utc')::date`))
    .select(['u.name', 'u.rate', 'u.daily_quota', 'u.disabled_at', 'u.created_at', 'u.scopes', 'g.count']).orderBy('u.name').execute()
  return rows.map((r) => ({
    name: r.name, rate: r.rate, quota: r.daily_quota === null ? null : Number(r.daily_quota), usedToday: Number(r.count ?? 0),
    disabled: r.disabled_at !== null, createdAt: r.created_at,
    ...((r.scopes ?? []).some((s) => s !== 'match') ? { scopes: r.scopes } : {}),
  }))
}

/** Disables a user: its calls are refused (401) from the service's next look at the users, within a second. */
export async function disableApiUser(db: Kysely<Database>, name: string): Promise<{ alreadyDisabled: boolean }> {
  const row = await db.selectFrom('api_users').where('name', '=', name).select(['id', 'disabled_at']).executeTakeFirst()
  if (row === undefined) throw new NonRetryableError('NO_SUCH_USER', `no API user named "${name}"`)
  if (row.disabled_at !== null) return { alreadyDisabled: true }
  await db.updateTable('api_users').set({ disabled_at: sql<Date>`now()` }).where('id', '=', row.id).execute()
  return { alreadyDisabled: false }
}
