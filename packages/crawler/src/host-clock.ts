import { setTimeout as sleep } from 'node:timers/promises'
import { type Database, type Kysely, sql } from '@arachnid/core'

/** How long a host's delay, once read, is trusted before it is read again. */
const KNOWN_FOR_MS = 5000

/**
 * A job's politeness clock per host, kept in frontier_hosts so that every worker and every kind
 * of request shares it: robots.txt, each page (when it is fetched) and each media fetch take
 * their turn here, and the frontier leases a host's next page only while its clock is free. A
 * host's delay is the job's politeness delay, raised by its robots.txt Crawl-delay; with no delay
 * nothing waits.
 */
export class HostClock {
  readonly #db: Kysely<Database>
  readonly #jobId: number
  readonly #delayMs: number
  /** Each host's delay as last read, with when: robots.txt can raise it, so it is read again after a while. */
  readonly #known = new Map<string, { delayMs: number; at: number }>()

  /** `delayMs`: the job's politeness delay, used for hosts the frontier has not met yet (media hosts). */
  constructor(db: Kysely<Database>, jobId: number, delayMs: number) {
    this.#db = db
    this.#jobId = jobId
    this.#delayMs = delayMs
  }

  /**
   * The delay of each given host (0 when none), as read within the last KNOWN_FOR_MS or in one
   * query for the rest: lets a batch skip reserve() for hosts without one.
   */
  async delays(hosts: readonly string[]): Promise<Map<string, number>> {
    const now = performance.now()
    const all = [...new Set(hosts.map((h) => h.toLowerCase()))]
    const fresh = all.filter((h) => { const k = this.#known.get(h); return k !== undefined && now - k.at <= KNOWN_FOR_MS })
    if (fresh.length === all.length) return new Map(fresh.map((h) => [h, this.#known.get(h)!.delayMs]))
    const result = await this.#read(all.filter((h) => !fresh.includes(h)))
    for (const h of fresh) result.set(h, this.#known.get(h)!.delayMs)
    return result
  }

  async #read(keys: readonly string[]): Promise<Map<string, number>> {
    const result = new Map(keys.map((h) => [h, this.#delayMs]))
    if (keys.length === 0) return result
    const rows = await this.#db.selectFrom('frontier_hosts').select(['host', 'delay_ms']).where('job_id', '=', this.#jobId).where('host', 'in', keys).execute()
    for (const row of rows) result.set(row.host, Math.max(this.#delayMs, row.delay_ms))
    const now = performance.now()
    for (const [host, delayMs] of result) this.#known.set(host, { delayMs, at: now })
    return result
  }

  /**
   * Politeness for one request, called right before it goes out: waits for and takes the host's
   * turn when the host has a delay, and returns at once when it has none.
   */
  async turn(url: URL, signal?: AbortSignal): Promise<void> {
    const host = url.host.toLowerCase()
    let known = this.#known.get(host)
    if (known === undefined || performance.now() - known.at > KNOWN_FOR_MS) {
      await this.#read([host])
      known = this.#known.get(host)!
    }
    if (known.delayMs > 0) await this.reserve(host, signal)
  }

  /**
   * Waits for the host's turn and takes it: returns once the host's clock is free (no request to
   * it within the delay) and has been set one delay ahead. The turn is taken at the moment the
   * request goes out, never booked ahead, so a waiter that wakes late cannot crowd the next one.
   * `host` is a URL's host (with its port when not the scheme's default).
   */
  async reserve(host: string, signal?: AbortSignal): Promise<void> {
    const key = host.toLowerCase()
    for (;;) {
      signal?.throwIfAborted()
      // The update takes the turn when the clock is free; otherwise the select says how long until
      // it is (it reads the row as it was before this statement, so it is the other holder's time).
      const { rows } = await sql<{ wait_ms: number }>`
        with taken as (
          update frontier_hosts set last_leased_at = clock_timestamp(),
            next_allowed_at = clock_timestamp() + make_interval(secs => greatest(delay_ms, ${this.#delayMs}) / 1000.0)
          where job_id = ${this.#jobId} and host = ${key} and next_allowed_at <= clock_timestamp()
          returning 0::float8 as wait_ms)
        select wait_ms from taken
        union all
        select greatest(1, extract(epoch from (next_allowed_at - clock_timestamp())) * 1000)::float8 from frontier_hosts
        where job_id = ${this.#jobId} and host = ${key} and not exists (select 1 from taken)`.execute(this.#db)
      if (rows.length === 0) {
        // A host not met before (media on another host): its row starts with this turn.
        const inserted = await this.#db.insertInto('frontier_hosts').values({
          job_id: this.#jobId, host: key, delay_ms: this.#delayMs,
          next_allowed_at: sql<Date>`clock_timestamp() + make_interval(secs => ${this.#delayMs / 1000})`, last_leased_at: sql<Date>`clock_timestamp()`,
        }).onConflict((oc) => oc.columns(['job_id', 'host']).doNothing()).returning('host').executeTakeFirst()
        if (inserted) return
        continue
      }
      const waitMs = Number(rows[0]!.wait_ms)
      if (waitMs <= 0) return
      await sleep(waitMs, undefined, signal ? { signal } : undefined)
    }
  }
}
