import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { type Database, type Kysely, SETTINGS, sql } from '@arachnid/core'
import type { Analyst } from './analyst-accounts.js'
import { decoyHash, verifyPassword } from './passwords.js'

/** The cookie that carries a session's token. */
export const SESSION_COOKIE = 'arachnid_session'

export interface Session {
  readonly analyst: Analyst
  /** Sent to the page and required back on every change: bound to this session only. */
  readonly csrfToken: string
  readonly expiresAt: Date
  /** The SHA-256 of the cookie's token: the session's key in analyst_sessions (its preview count is kept there). */
  readonly tokenHash: string
}

export interface SessionStoreOptions {
  /** Hours a session lasts after its last request. Default: the setting's (ARACHNID_SESSION_HOURS). */
  readonly sessionHours?: number
}

export const DEFAULT_SESSION_OPTIONS = { sessionHours: SETTINGS.sessionHours.default } as const

const digest = (token: string) => createHash('sha256').update(token).digest('hex')

/**
 * Login sessions kept in the database (so several `serve` processes share them). The cookie holds
 * a random token; only its SHA-256 is stored, so a copy of the database opens no session. Guessing
 * is slowed by the LoginThrottle, in the same database.
 *
 * @example
 * const opened = await sessions.login('alice', password)
 * const session = await sessions.get(opened?.token)
 */
export class SessionStore {
  readonly #db: Kysely<Database>
  readonly #hours: number

  constructor(db: Kysely<Database>, options: SessionStoreOptions = {}) {
    this.#db = db
    this.#hours = options.sessionHours ?? DEFAULT_SESSION_OPTIONS.sessionHours
  }

  /** Checks the password; on success opens a session and returns its cookie token. */
  async login(name: string, password: string): Promise<{ token: string; session: Session } | undefined> {
    const row = await this.#db.selectFrom('analysts').select(['id', 'name', 'role', 'password_hash'])
      .where('name', '=', name).where('disabled_at', 'is', null).executeTakeFirst()
    // Verify against a decoy when there is no such account, so timing does not reveal names.
    const ok = await verifyPassword(password, row?.password_hash ?? await decoyHash())
    if (!row || !ok) return undefined
    const token = randomBytes(32).toString('base64url')
    const csrfToken = randomBytes(32).toString('base64url')
    const expiresAt = new Date(Date.now() + this.#hours * 3_600_000)
    await this.#db.insertInto('analyst_sessions').values({ token_hash: digest(token), analyst_id: row.id, csrf_token: csrfToken, expires_at: expiresAt }).execute()
    await this.#db.deleteFrom('analyst_sessions').where('expires_at', '<', new Date()).execute()
    return { token, session: { analyst: { id: row.id, name: row.name, role: row.role }, csrfToken, expiresAt, tokenHash: digest(token) } }
  }

  /** The live session a cookie token opens (sliding expiry), or undefined. */
  async get(token: string | undefined): Promise<Session | undefined> {
    if (!token || token.length > 100) return undefined
    const row = await this.#db.updateTable('analyst_sessions as s')
      .set({ last_seen_at: sql<Date>`now()` as never, expires_at: sql<Date>`now() + make_interval(secs => ${this.#hours * 3600})` as never })
      .from('analysts as a')
      .whereRef('a.id', '=', 's.analyst_id')
      .where('s.token_hash', '=', digest(token)).where('s.expires_at', '>', sql<Date>`now()`).where('a.disabled_at', 'is', null)
      .returning(['a.id', 'a.name', 'a.role', 's.csrf_token', 's.expires_at']).executeTakeFirst()
    return row && { analyst: { id: row.id, name: row.name, role: row.role }, csrfToken: row.csrf_token, expiresAt: row.expires_at, tokenHash: digest(token) }
  }

  async logout(token: string | undefined): Promise<void> {
    if (token) await this.#db.deleteFrom('analyst_sessions').where('token_hash', '=', digest(token)).execute()
  }
}

/** Constant-time comparison of the CSRF token a request carries with its session's. */
export function csrfMatches(session: Session, given: string | undefined | null): boolean {
  if (!given) return false
  const a = Buffer.from(session.csrfToken)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}
