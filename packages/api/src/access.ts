import { randomBytes } from 'node:crypto'
import { type Database, type Kysely, type Logger, hashSecret, sql, verifySecret } from '@arachnid/core'
import { passwordDigest } from './api-users.js'

/** An authenticated caller with its limits resolved (its own, else the service's defaults). */
export interface Caller {
  readonly id: number
  readonly name: string
  /** Requests per second. */
  readonly rate: number
  /** Hashes and media per UTC day. */
  readonly quota: number
  /** What it may do: `match` (every user), `export` (read lists' changes). */
  readonly scopes: readonly string[]
}

interface UserRow {
  readonly id: number
  readonly name: string
  readonly passwordHash: string
  readonly rate: number | null
  readonly quota: number | null
  readonly disabled: boolean
  readonly scopes: readonly string[]
}

/** Verified (name, password digest) pairs remembered at most; beyond, the memory starts over. */
const MAX_VERIFIED = 10_000

/**
 * The API users as this process knows them: read from the database in full (a small table) every
 * `reload()`, which the service calls every second, so a disabled user is refused within a second
 * and no call waits on the database to be authenticated. A password is verified with scrypt once
 * per process; after that the pair (name, SHA-256 of the password) is remembered for as long as
 * the stored hash is the same.
 */
export class UserDirectory {
  readonly #db: Kysely<Database>
  readonly #defaults: { readonly rate: number; readonly quota: number }
  #users = new Map<string, UserRow>()
  readonly #verified = new Map<string, string>()
  readonly #refused = new Map<string, string>()
  #loading: Promise<void> | undefined
  #decoy: Promise<string> | undefined

  constructor(db: Kysely<Database>, defaults: { readonly rate: number; readonly quota: number }) {
    this.#db = db
    this.#defaults = defaults
  }

  /** Reads every user again (one query); concurrent calls share one read. */
  reload(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        const rows = await this.#db.selectFrom('api_users').select(['id', 'name', 'password_hash', 'rate', 'daily_quota', 'disabled_at', 'scopes']).execute()
        this.#users = new Map(rows.map((r) => [r.name, {
          id: r.id, name: r.name, passwordHash: r.password_hash, rate: r.rate,
          quota: r.daily_quota === null ? null : Number(r.daily_quota), disabled: r.disabled_at !== null, scopes: r.scopes ?? ['match'],
        }]))
      } finally {
        this.#loading = undefined
      }
    })()
    return this.#loading
  }

  /**
   * The caller of an `Authorization: Basic ...` header, or undefined for a missing or malformed
   * header, an unknown or disabled user, or a wrong password (the caller is not told which: every
   * refusal costs one scrypt, as a wrong password does).
   */
  async authenticate(header: string | undefined): Promise<Caller | undefined> {
    const credentials = parseBasic(header)
    if (credentials === undefined) return undefined
    const { name, password } = credentials
    // A user added since the last read is found without waiting for the next one (strangers are
    // held back by the per-address limit on failed authentications).
    if (!this.#users.has(name)) await this.reload()
    const user = this.#users.get(name)
    if (user === undefined || user.disabled) {
      this.#decoy ??= hashSecret(randomBytes(24).toString('base64url'))
      await verifySecret(password, await this.#decoy)
      return undefined
    }
    const key = `${name}\u0000${passwordDigest(password)}`
    if (this.#verified.get(key) !== user.passwordHash) {
      // A password already found wrong is refused without another scrypt (a client retrying with
      // stale credentials would otherwise cost 100 ms of CPU per call).
      if (this.#refused.get(key) === user.passwordHash) return undefined
      if (!(await verifySecret(password, user.passwordHash))) {
        if (this.#refused.size >= MAX_VERIFIED) this.#refused.clear()
        this.#refused.set(key, user.passwordHash)
        return undefined
      }
      if (this.#verified.size >= MAX_VERIFIED) this.#verified.clear()
      this.#verified.set(key, user.passwordHash)
    }
    return { id: user.id, name: user.name, rate: user.rate ?? this.#defaults.rate, quota: user.quota ?? this.#defaults.quota, scopes: user.scopes }
  }
}

/** `Basic base64(name:password)`; the name may not hold a colon, the password may. */
export function parseBasic(header: string | undefined): { name: string; password: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/=._~-]+) *$/i.exec(header ?? '')
  if (!match) return undefined
  const text = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon <= 0) return undefined
  return { name: text.slice(0, colon), password: text.slice(colon + 1) }
}

/**
 * Requests per second per key, as token buckets holding one second's worth: a caller may burst
 * to its rate, then goes at its rate. Per process (a user calling two service processes gets its
 * rate from each; the daily quota is the limit shared through the database).
 */
export class TokenBuckets {
  readonly #buckets = new Map<string | number, { tokens: number; at: number }>()

  /** Takes one token; returns 0 when granted, else the seconds until one is free (at least 1). */
  take(key: string | number, rate: number, now = Date.now()): number {
    const bucket = this.#buckets.get(key) ?? { tokens: rate, at: now }
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate)
    bucket.at = now
    this.#buckets.set(key, bucket)
    if (this.#buckets.size > 100_000) this.#prune(now)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / rate))
  }

  /** The seconds until `key` has a token again (0: it has one now), taking nothing. */
  wait(key: string | number, rate: number, now = Date.now()): number {
    const bucket = this.#buckets.get(key)
    if (bucket === undefined) return 0
    const tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate)
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / rate))
  }

  /** Buckets idle long enough to be full again are forgotten. */
  #prune(now: number): void {
    for (const [key, bucket] of this.#buckets) if (now - bucket.at > 60_000) this.#buckets.delete(key)
  }
}

/** Seconds until the next UTC midnight, when daily quotas start again. */
export function secondsToUtcMidnight(now = new Date()): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
  return Math.max(1, Math.ceil((next - now.getTime()) / 1000))
}

/**
 * Charges `n` hashes or media to a user's count for today (UTC), in the database so that the
 * quota holds across every service process: one statement, which adds only while the sum stays
 * within the quota. Returns false when it would not.
 */
export async function chargeQuota(db: Kysely<Database>, caller: Caller, n: number): Promise<boolean> {
  if (n === 0) return true
  if (n > caller.quota) return false
  const row = await sql<{ count: string }>`
    insert into api_usage (user_id, day, count) values (${caller.id}, (now() at time zone 'utc')::date, ${n})
    on conflict (user_id, day) do update set count = api_usage.count + excluded.count
    where api_usage.count + excluded.count <= ${caller.quota}
    returning count`.execute(db)
  return row.rows.length > 0
}

/** One audited call: counts only, never the media or what a URL served. */
export interface AuditRow {
  readonly userId: number | null
  readonly endpoint: string
  readonly status: number
  readonly hashes: number
  readonly media: number
  readonly csam: number
  readonly harmful: number
  readonly noKnownMatch: number
  readonly malformed: number
}

/**
 * Audit rows written in batches (one multi-row INSERT per second, or per 500 rows), so auditing
 * costs the calls nothing they wait for. `flush()` on close writes what is left.
 */
export class AuditWriter {
  readonly #db: Kysely<Database>
  readonly #logger: Logger | undefined
  #pending: AuditRow[] = []
  #writing: Promise<void> = Promise.resolve()

  constructor(db: Kysely<Database>, logger?: Logger) {
    this.#db = db
    this.#logger = logger
  }

  add(row: AuditRow): void {
    this.#pending.push(row)
    if (this.#pending.length >= 500) void this.flush()
  }

  /** Writes the rows added so far; resolves once they are in (a failure is logged, the rows dropped). */
  flush(): Promise<void> {
    const rows = this.#pending
    this.#pending = []
    this.#writing = this.#writing.then(async () => {
      if (rows.length === 0) return
      try {
        await this.#db.insertInto('api_audit').values(rows.map((r) => ({
          user_id: r.userId, endpoint: r.endpoint, status: r.status, hashes: r.hashes, media: r.media,
          csam: r.csam, harmful: r.harmful, no_known_match: r.noKnownMatch, malformed: r.malformed,
        }))).execute()
      } catch (error) {
        this.#logger?.error({ err: error, rows: rows.length }, 'api audit rows could not be written')
      }
    })
    return this.#writing
  }
}
