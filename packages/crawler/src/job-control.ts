import { type Database, type Kysely, NonRetryableError, type JobStatus, sql } from '@arachnid/core'

/** Moves a job between states: running <-> paused, and either -> cancelled. */
export async function setJobStatus(db: Kysely<Database>, jobId: number, action: 'pause' | 'resume' | 'cancel'): Promise<JobStatus> {
  const from: Record<typeof action, JobStatus[]> = { pause: ['running'], resume: ['paused'], cancel: ['running', 'paused'] }
  const to: Record<typeof action, JobStatus> = { pause: 'paused', resume: 'running', cancel: 'cancelled' }
  const row = await db.updateTable('crawl_jobs').set({ status: to[action], updated_at: sql<Date>`now()`, ...(action === 'cancel' ? { finished_at: sql<Date>`now()` } : {}) })
    .where('id', '=', jobId).where('status', 'in', from[action]).returning('status').executeTakeFirst()
  if (row === undefined) {
    const current = await db.selectFrom('crawl_jobs').select('status').where('id', '=', jobId).executeTakeFirst()
    throw new NonRetryableError('JOB_STATE', current ? `job ${jobId} is ${current.status}; cannot ${action} it` : `no job ${jobId}`)
  }
  if (action === 'cancel') {
    // Leases end now; nothing of a cancelled job is crawled again.
    await db.updateTable('frontier').set({ status: 'failed', lease_until: null }).where('job_id', '=', jobId).where('status', 'in', ['queued', 'leased']).execute()
    await db.updateTable('media_fetches').set({ state: 'done', lease_until: null, error_code: 'CANCELLED', error_message: 'job cancelled before this media was fetched' })
      .where('job_id', '=', jobId).where('state', 'in', ['pending', 'leased']).execute()
  }
  return row.status
}

export interface JobListing {
  readonly id: number
  readonly name: string
  readonly status: string
  readonly createdAt: Date
  readonly finishedAt: Date | null
  readonly frontier: number
}

export async function listJobs(db: Kysely<Database>, limit = 50): Promise<JobListing[]> {
  const rows = await db.selectFrom('crawl_jobs').select(['id', 'name', 'status', 'created_at', 'finished_at', 'frontier_size'])
    .orderBy('id', 'desc').limit(limit).execute()
  return rows.map((r) => ({ id: r.id, name: r.name, status: r.status, createdAt: r.created_at, finishedAt: r.finished_at, frontier: r.frontier_size }))
}
