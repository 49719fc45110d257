import { type Database, type Kysely, sql } from '@arachnid/core'

export interface LoginThrottleOptions {
  /** Failed logins per account name within `windowMinutes` before further attempts are refused. Default 5. */
  readonly maxFailures?: number
  /** Default 15. */
  readonly windowMinutes?: number
}

export const DEFAULT_LOGIN_THROTTLE_OPTIONS = { maxFailures: 5, windowMinutes: 15 } as const

/** An attempt let through: settle it once the password has been checked. */
export interface LoginAttempt {
  /** The password was right: the name's failures are forgotten. */
  succeeded(): Promise<void>
  /** The password was wrong: the attempt stays counted as a failure. */
  failed(): Promise<void>
}

/**
 * Slows password guessing per account name, in the database (`login_failures`), so the lockout
 * holds across every `serve` process, as the sessions do. An attempt is recorded *before* the
 * password is checked and counted with the failures of the window: attempts that arrive at once,
 * in one process or several, each see the others, so at most `maxFailures` guesses get through
 * per window however they are spread. The price is on the careful side: attempts that see others
 * in flight may be refused though fewer than the maximum end up failing (they are not counted, so
 * the next attempt goes through); a crash mid-check leaves the attempt counted as a failure.
 *
 * @example
 * const attempt = await throttle.begin('alice')
 * if (!attempt) return refuse(429)
 * if (await passwordOk()) await attempt.succeeded()
 * else await attempt.failed()
 */
export class LoginThrottle {
  readonly #db: Kysely<Database>
  readonly #max: number
  readonly #windowSeconds: number

  constructor(db: Kysely<Database>, options: LoginThrottleOptions = {}) {
    this.#db = db
    this.#max = options.maxFailures ?? DEFAULT_LOGIN_THROTTLE_OPTIONS.maxFailures
    this.#windowSeconds = (options.windowMinutes ?? DEFAULT_LOGIN_THROTTLE_OPTIONS.windowMinutes) * 60
  }

  /** Records an attempt for this name; undefined (and nothing recorded) when the name is locked out. */
  async begin(name: string): Promise<LoginAttempt | undefined> {
    const since = sql<Date>`now() - make_interval(secs => ${this.#windowSeconds})`
    // Old rows of every name go as logins go on: the table holds one window of failures at most.
    await this.#db.deleteFrom('login_failures').where('at', '<', since).execute()
    const row = await this.#db.insertInto('login_failures').values({ name }).returning('id').executeTakeFirstOrThrow()
    const { n } = await this.#db.selectFrom('login_failures').where('name', '=', name).where('at', '>=', since)
      .select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()
    // More than the failures allowed, this attempt included: refused, and not counted as a failure itself.
    if (Number(n) > this.#max) {
      await this.#db.deleteFrom('login_failures').where('id', '=', row.id).execute()
      return undefined
    }
    return {
      succeeded: async () => {
        await this.#db.deleteFrom('login_failures').where('name', '=', name).execute()
      },
      failed: async () => {},
    }
  }
}
