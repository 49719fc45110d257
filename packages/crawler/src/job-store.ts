import { type Database, type JobStatus, type Kysely, NonRetryableError, sql } from '@arachnid/core'
import type { ResolvedCrawlOptions } from './crawl-options.js'
import { summarizeJob } from './job-summary.js'

/** A page as recorded: fetched (status, type, size, media found) or failed with a reason. */
export interface PageRecord {
  readonly url: string
  readonly finalUrl: string | null
  readonly depth: number
  readonly status: number | null
  readonly contentType: string | null
  readonly bytes: number | null
  readonly mediaFound: number
  readonly error?: { readonly code: string; readonly message: string }
}

/**
 * A crawl job's row and what one worker writes about it: the job created or read back, its
 * status as other processes set it (pause, cancel), the pages fetched, the worker's leases given
 * back, and the job marked finished by whichever worker sees nothing left.
 */
export class CrawlJobStore {
  readonly jobId: number
  readonly #db: Kysely<Database>

  constructor(db: Kysely<Database>, jobId: number) {
    this.#db = db
    this.jobId = jobId
  }

  /** Records a new running job with its options (those a worker sets for itself are not stored). */
  static async create(db: Kysely<Database>, options: ResolvedCrawlOptions): Promise<CrawlJobStore> {
    const { pageConcurrency: _p, mediaConcurrency: _m, ...stored } = options
    const row = await db.insertInto('crawl_jobs').values({
      name: options.name ?? options.seeds[0]!, seeds: JSON.stringify(options.seeds), options: JSON.stringify(stored), status: 'running',
    }).returning('id').executeTakeFirstOrThrow()
    return new CrawlJobStore(db, row.id)
  }

  /** An existing job's stored options and seeds; a NonRetryableError NO_JOB when there is none. */
  static async load(db: Kysely<Database>, jobId: number): Promise<{ store: CrawlJobStore; options: Partial<ResolvedCrawlOptions>; seeds: string[] }> {
    const row = await db.selectFrom('crawl_jobs').select(['options', 'seeds', 'status']).where('id', '=', jobId).executeTakeFirst()
    if (row === undefined) throw new NonRetryableError('NO_JOB', `no job ${jobId}`)
    const options = (typeof row.options === 'string' ? JSON.parse(row.options) : row.options) as Partial<ResolvedCrawlOptions>
    const seeds = (typeof row.seeds === 'string' ? JSON.parse(row.seeds) : row.seeds) as string[]
    return { store: new CrawlJobStore(db, jobId), options, seeds }
  }

  /** The job's status now, or undefined when it cannot be read (the caller keeps what it knew). */
  async status(): Promise<JobStatus | undefined> {
    const row = await this.#db.selectFrom('crawl_jobs').select('status').where('id', '=', this.jobId).executeTakeFirst().catch(() => undefined)
    return row?.status
  }

  /** Records a page (fetched or failed); a page recorded again (a retry) is updated. Returns its id. */
  async recordPage(page: PageRecord): Promise<number> {
    const row = await this.#db.insertInto('pages').values({
      job_id: this.jobId, url: page.url, final_url: page.finalUrl, depth: page.depth, status: page.status,
      content_type: page.contentType, bytes: page.bytes, media_found: page.mediaFound,
      error_code: page.error?.code ?? null, error_message: page.error?.message.slice(0, 1000) ?? null,
    }).onConflict((oc) => oc.columns(['job_id', 'url']).doUpdateSet((eb) => ({
      final_url: eb.ref('excluded.final_url'), status: eb.ref('excluded.status'), error_code: eb.ref('excluded.error_code'),
      error_message: eb.ref('excluded.error_message'), media_found: eb.ref('excluded.media_found'),
    }))).returning('id').executeTakeFirstOrThrow()
    return row.id
  }

  /**
   * Gives back what `worker` still holds of the job (pages and media), for the next worker, rather
   * than when its leases run out. `unstarted`: it was never started (a stop), so its lease does not
   * count towards giving it up.
   */
  async releaseLeases(worker: string, unstarted: boolean): Promise<void> {
    const attempts = unstarted ? sql<number>`greatest(attempts - 1, 0)` : sql<number>`attempts`
    await this.#db.updateTable('frontier').set({ status: 'queued', lease_until: null, leased_by: null, attempts })
      .where('job_id', '=', this.jobId).where('status', '=', 'leased').where('leased_by', '=', worker).execute()
    await this.#db.updateTable('media_fetches').set({ state: 'pending', lease_until: null, leased_by: null, attempts })
      .where('job_id', '=', this.jobId).where('state', '=', 'leased').where('leased_by', '=', worker).execute()
  }

  /** Marks the job finished when nothing of it is open and it is still running, whichever worker gets here first. */
  async finishIfDone(): Promise<void> {
    // The figures stored are those of the finished job (summarizeJob still reads it as running).
    const summary = { ...(await summarizeJob(this.#db, this.jobId)), status: 'finished' }
    await sql`update crawl_jobs set status = 'finished', finished_at = now(), updated_at = now(), summary = ${JSON.stringify(summary)}
      where id = ${this.jobId} and status = 'running'
        and not exists (select 1 from frontier where job_id = ${this.jobId} and status in ('queued', 'leased'))
        and not exists (select 1 from media_fetches where job_id = ${this.jobId} and state in ('pending', 'leased'))`.execute(this.#db)
  }
}
