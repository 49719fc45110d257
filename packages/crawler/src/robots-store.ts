import type { Database, Kysely } from '@arachnid/core'
import type { RobotsStore } from './robots-policy.js'

/**
 * A job's robots.txt bodies kept with its hosts (frontier_hosts), so every worker of the job
 * fetches each host's robots.txt once between them and all obey the same rules.
 */
export class JobRobotsStore implements RobotsStore {
  readonly #db: Kysely<Database>
  readonly #jobId: number
  readonly #delayMs: number

  /** `delayMs`: the politeness delay a host row is created with when robots.txt is its first request. */
  constructor(db: Kysely<Database>, jobId: number, delayMs: number) {
    this.#db = db
    this.#jobId = jobId
    this.#delayMs = delayMs
  }

  async get(origin: string): Promise<string | undefined> {
    const row = await this.#db.selectFrom('frontier_hosts').select('robots').where('job_id', '=', this.#jobId).where('host', '=', new URL(origin).host)
      .where('robots_fetched_at', 'is not', null).executeTakeFirst()
    return row ? (row.robots ?? '') : undefined
  }

  async put(origin: string, body: string): Promise<void> {
    await this.#db.insertInto('frontier_hosts').values({ job_id: this.#jobId, host: new URL(origin).host, delay_ms: this.#delayMs, robots: body, robots_fetched_at: new Date() })
      .onConflict((oc) => oc.columns(['job_id', 'host']).doUpdateSet({ robots: body, robots_fetched_at: new Date() })).execute()
  }
}
