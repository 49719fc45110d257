import { setTimeout as sleep } from 'node:timers/promises'
import { type Database, type Kysely, sql } from '@arachnid/core'

/**
 * A job's politeness clock per host, kept in frontier_hosts so that every worker and every kind
 * of request shares it: the frontier leases a page only once the host's clock allows it, and
 * robots.txt and media fetches reserve their own turn here. A host's delay is the job's
 * politeness delay, raised by its robots.txt Crawl-delay; with no delay nothing waits.
 */
export class HostClock {
  readonly #db: Kysely<Database>
  readonly #jobId: number
  readonly #delayMs: number

  /** `delayMs`: the job's politeness delay, used for hosts the frontier has not met yet (media hosts). */
  constructor(db: Kysely<Database>, jobId: number, delayMs: number) {
    this.#db = db
    this.#jobId = jobId
    this.#delayMs = delayMs
  }

  /** The delay of each given host (0 when none), in one query: lets a batch skip reserve() for hosts without one. */
  async delays(hosts: readonly string[]): Promise<Map<string, number>> {
    const keys = [...new Set(hosts.map((h) => h.toLowerCase()))]
    const result = new Map(keys.map((h) => [h, this.#delayMs]))
    if (keys.length === 0) return result
    const rows = await this.#db.selectFrom('frontier_hosts').select(['host', 'delay_ms']).where('job_id', '=', this.#jobId).where('host', 'in', keys).execute()
    for (const row of rows) result.set(row.host, Math.max(this.#delayMs, row.delay_ms))
    return result
  }

  /**
   * Takes the host's next turn (now, or one delay after the last request to it, whichever is
   * later) and waits for it. `host` is a URL's host (with its port when not the default).
   */
  async reserve(host: string, signal?: AbortSignal): Promise<void> {
    const key = host.toLowerCase()
    // The row's clock moves one delay past the turn taken; the turn itself is that minus the delay.
    const { rows } = await sql<{ wait_ms: number }>`
      insert into frontier_hosts as h (job_id, host, delay_ms, next_allowed_at, last_leased_at)
      values (${this.#jobId}, ${key}, ${this.#delayMs}, clock_timestamp() + make_interval(secs => ${this.#delayMs / 1000}), clock_timestamp())
      on conflict (job_id, host) do update set
        next_allowed_at = greatest(h.next_allowed_at, clock_timestamp()) + make_interval(secs => greatest(h.delay_ms, ${this.#delayMs}) / 1000.0),
        last_leased_at = clock_timestamp()
      returning greatest(0, extract(epoch from (h.next_allowed_at - make_interval(secs => greatest(h.delay_ms, ${this.#delayMs}) / 1000.0) - clock_timestamp())) * 1000)::float8 as wait_ms`.execute(this.#db)
    const waitMs = Number(rows[0]?.wait_ms ?? 0)
    if (waitMs > 0) await sleep(waitMs, undefined, signal ? { signal } : undefined)
  }
}
