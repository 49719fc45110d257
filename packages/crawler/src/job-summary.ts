import { type Database, type Kysely, sql } from '@arachnid/core'

export interface JobSummary {
  readonly jobId: number
  readonly status: string
  readonly pages: number
  readonly pageErrors: number
  readonly media: number
  readonly mediaErrors: number
  readonly mediaOpen: number
  readonly distinctMedia: number
  readonly bytes: number
  readonly matchedMedia: number
  readonly exactMatches: number
  readonly nearMatches: number
  readonly notices: number
  readonly queued: number
  readonly leased: number
  readonly errors: Record<string, number>
  readonly skipped: Record<string, number>
  readonly seconds: number
  readonly pagesPerSecond: number
  readonly mediaPerSecond: number
}

/**
 * A job's figures, from the database, so they are the same whichever worker or command asks
 * (`jobs show`, the progress display, the summary at the end of a run).
 */
export async function summarizeJob(db: Kysely<Database>, jobId: number, seconds?: number): Promise<JobSummary> {
  const [job, pages, media, matched, frontier, errors, skips, notices] = await Promise.all([
    db.selectFrom('crawl_jobs').select(['status', 'created_at', 'finished_at']).where('id', '=', jobId).executeTakeFirstOrThrow(),
    sql<{ n: number; failed: number }>`select count(*)::int as n, count(*) filter (where error_code is not null)::int as failed from pages where job_id = ${jobId}`.execute(db),
    sql<{ ok: number; failed: number; open: number; bytes: number; distinct: number }>`
      select count(*) filter (where media_id is not null)::int as ok,
             count(*) filter (where error_code is not null and state = 'done')::int as failed,
             count(*) filter (where state in ('pending', 'leased'))::int as open,
             coalesce(sum(bytes) filter (where media_id is not null), 0)::float8 as bytes,
             count(distinct media_id)::int as distinct
      from media_fetches where job_id = ${jobId}`.execute(db),
    sql<{ matched: number; exact: number }>`
      select count(*)::int as matched, count(*) filter (where exact)::int as exact from (
        select f.id, bool_or(m.algorithm in ('sha256', 'md5', 'sha1')) as exact
        from media_fetches f join matches m on m.media_id = f.media_id and m.status <> 'rejected'
        where f.job_id = ${jobId} group by f.id) t`.execute(db),
    sql<{ queued: number; leased: number }>`select count(*) filter (where status = 'queued')::int as queued, count(*) filter (where status = 'leased')::int as leased from frontier where job_id = ${jobId}`.execute(db),
    sql<{ code: string; n: number }>`
      select error_code as code, count(*)::int as n from (
        select error_code from pages where job_id = ${jobId} and error_code is not null
        union all select error_code from media_fetches where job_id = ${jobId} and error_code is not null) e
      group by error_code order by error_code`.execute(db),
    db.selectFrom('frontier_skips').select(['reason', 'count']).where('job_id', '=', jobId).orderBy('reason').execute(),
    sql<{ n: number }>`
      select count(*)::int as n from notices n
      where n.created_at >= (select created_at from crawl_jobs where id = ${jobId})
        and n.media_url in (select url from media_fetches where job_id = ${jobId})`.execute(db),
  ])
  const p = pages.rows[0]!
  const m = media.rows[0]!
  const x = matched.rows[0]!
  const f = frontier.rows[0]!
  const elapsed = seconds ?? ((job.finished_at ? new Date(job.finished_at).getTime() : Date.now()) - new Date(job.created_at).getTime()) / 1000
  const rate = (n: number) => Math.round((n / Math.max(elapsed, 1e-3)) * 10) / 10
  return {
    jobId, status: job.status, pages: p.n, pageErrors: p.failed, media: m.ok, mediaErrors: m.failed, mediaOpen: m.open,
    distinctMedia: m.distinct, bytes: Number(m.bytes), matchedMedia: x.matched, exactMatches: x.exact, nearMatches: x.matched - x.exact,
    notices: notices.rows[0]!.n, queued: f.queued, leased: f.leased,
    errors: Object.fromEntries(errors.rows.map((r) => [r.code, r.n])),
    skipped: Object.fromEntries(skips.map((s) => [s.reason, s.count])),
    seconds: Math.round(elapsed * 1000) / 1000, pagesPerSecond: rate(p.n), mediaPerSecond: rate(m.ok),
  }
}
