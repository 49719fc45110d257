import { setTimeout as sleep } from 'node:timers/promises'
import { type Database, type Kysely, describeError } from '@arachnid/core'
import { CrawlJob, type CrawlDependencies } from './crawl-job.js'
import type { WorkerOverrides } from './crawl-options.js'

export interface WorkerOptions extends WorkerOverrides {
  /** How often to look for running jobs when there is nothing to do. Default 1000 ms. */
  readonly pollMs?: number
  /** Return once no running job has work left (for tests and batch use). Default false. */
  readonly exitWhenIdle?: boolean
  readonly signal?: AbortSignal
  /** Called when the worker joins and leaves a job. */
  readonly onJob?: (event: 'start' | 'end', jobId: number, job: CrawlJob) => void
}

/** The worker's own defaults (its concurrency comes from the job, or the CLI's configured values). */
export const DEFAULT_WORKER_OPTIONS = { pollMs: 1000, exitWhenIdle: false } as const

/**
 * The long-running worker: picks up running jobs (oldest first) and takes part in each until it
 * is done, paused or cancelled; any number of workers on any machines can share the database.
 */
export async function runWorker(deps: CrawlDependencies, options: WorkerOptions = {}): Promise<void> {
  const pollMs = options.pollMs ?? DEFAULT_WORKER_OPTIONS.pollMs
  while (!options.signal?.aborted) {
    const jobId = await nextJob(deps.db)
    if (jobId === undefined) {
      if (options.exitWhenIdle ?? DEFAULT_WORKER_OPTIONS.exitWhenIdle) return
      await sleep(pollMs, undefined, { signal: options.signal }).catch(() => {})
      continue
    }
    const job = await CrawlJob.attach(deps, jobId, options)
    options.onJob?.('start', jobId, job)
    // Shutting down (SIGINT, SIGTERM): leave the job to other workers, finishing what is under way.
    const leave = () => { void job.stop() }
    options.signal?.addEventListener('abort', leave, { once: true })
    try {
      await job.run()
    } catch (error) {
      deps.logger?.error({ job: jobId, error: describeError(error) }, 'worker: job run failed; will try again')
      await sleep(pollMs, undefined, { signal: options.signal }).catch(() => {})
    } finally {
      options.signal?.removeEventListener('abort', leave)
      options.onJob?.('end', jobId, job)
    }
  }
}

/**
 * A running job that has open work: pages queued or leased, media pending or leased. Work leased
 * by another worker counts (alive, it finds more pages and media as it goes; dead, its leases run
 * out), so a worker started while everything is momentarily leased (a worker restarted after a
 * crash, one more added to a busy job) joins the job and waits for work, rather than finding
 * nothing to take and, with --exit-when-idle, leaving a job that is far from done.
 */
async function nextJob(db: Kysely<Database>): Promise<number | undefined> {
  const row = await db.selectFrom('crawl_jobs as j').select('j.id').where('j.status', '=', 'running')
    .where((eb) => eb.or([
      eb.exists(eb.selectFrom('frontier as f').select('f.id').whereRef('f.job_id', '=', 'j.id').where('f.status', 'in', ['queued', 'leased'])),
      eb.exists(eb.selectFrom('media_fetches as m').select('m.id').whereRef('m.job_id', '=', 'j.id').where('m.state', 'in', ['pending', 'leased'])),
    ]))
    .orderBy('j.id').limit(1).executeTakeFirst()
  return row?.id
}
