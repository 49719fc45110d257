import { type Database, type Kysely, NonRetryableError, sql } from '@arachnid/core'

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
  /** For each error code: the first message recorded and the URL (page or media) it was recorded for. */
  readonly errorExamples: Record<string, { readonly message: string; readonly url: string }>
  readonly skipped: Record<string, number>
  /** URL patterns (pattern budgets): how many the job saw, and the barren ones first, then those with most pages (at most 20). */
  readonly patterns: PatternsSummary
  /** Emails of the job's notices: sent, waiting, being retried after an error, given up, held in doubt; notices with no provider yet; the latest error. */
  readonly delivery: DeliverySummary
  readonly seconds: number
  readonly pagesPerSecond: number
  readonly mediaPerSecond: number
}

export interface PatternsSummary {
  /** Patterns the job has seen. */
  readonly count: number
  /** Patterns barren now (their budget shrunk). */
  readonly barren: number
  readonly top: readonly PatternFigures[]
}

/** One URL pattern's figures in a job. */
export interface PatternFigures {
  readonly pattern: string
  /** The first URL seen with it. */
  readonly example: string
  /** Pages of it fetched (or failed). */
  readonly pages: number
  /** Pages that brought new media URLs or links of a new pattern. */
  readonly yielding: number
  readonly newMedia: number
  readonly newPatterns: number
  /** Pages fetched since the last one that yielded. */
  readonly barrenStreak: number
  /** Barren now: its cap refuses further URLs. */
  readonly barren: boolean
  /** URLs of it added to the frontier, and refused by its budget. */
  readonly enqueued: number
  readonly refused: number
}

export interface DeliverySummary {
  readonly sent: number
  /** Not sent yet and no attempt failed (due, or being sent now). */
  readonly queued: number
  /** An attempt failed; another is scheduled. */
  readonly retrying: number
  /** Given up after its attempts, or refused for good. */
  readonly failed: number
  /** In doubt after a crash, waiting for an operator (ARACHNID_IN_DOUBT=hold). */
  readonly held: number
  /** Notices whose hosting provider is not known yet (no email until it is). */
  readonly unassigned: number
  /** The most recent delivery error of the job's emails, if any is still unresolved. */
  readonly lastError: string | null
}

/**
 * A job's figures, from the database, so they are the same whichever worker or command asks
 * (`jobs show`, the progress display, the summary at the end of a run).
 */
export async function summarizeJob(db: Kysely<Database>, jobId: number, seconds?: number): Promise<JobSummary> {
  const job = await db.selectFrom('crawl_jobs').select(['status', 'created_at', 'finished_at']).where('id', '=', jobId).executeTakeFirst()
  if (job === undefined) throw new NonRetryableError('NO_JOB', `no job ${jobId} (\`arachnid jobs list\` shows the jobs)`)
  const [pages, media, matched, frontier, errors, examples, skips, notices, outbox, patterns, patternCounts] = await Promise.all([
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
    sql<{ code: string; message: string | null; url: string }>`
      select distinct on (code) code, message, url from (
        select error_code as code, error_message as message, url, fetched_at as at, id from pages where job_id = ${jobId} and error_code is not null
        union all select error_code, error_message, url, fetched_at, id from media_fetches where job_id = ${jobId} and error_code is not null) e
      order by code, at, id`.execute(db),
    db.selectFrom('frontier_skips').select(['reason', 'count']).where('job_id', '=', jobId).orderBy('reason').execute(),
    sql<{ n: number; unassigned: number }>`
      select count(*)::int as n, count(*) filter (where provider_id is null)::int as unassigned from notices where job_id = ${jobId}`.execute(db),
    sql<{ sent: number; queued: number; retrying: number; failed: number; held: number; last_error: string | null }>`
      select count(*) filter (where o.status = 'sent')::int as sent,
             count(*) filter (where o.status in ('pending', 'sending', 'committing') and o.last_error is null)::int as queued,
             count(*) filter (where o.status in ('pending', 'sending', 'committing') and o.last_error is not null)::int as retrying,
             count(*) filter (where o.status = 'failed')::int as failed,
             count(*) filter (where o.status = 'held')::int as held,
             (array_agg(o.last_error order by o.id desc) filter (where o.last_error is not null and o.status <> 'sent'))[1] as last_error
      from outbox o join notices n on n.id = o.notice_id
      where n.job_id = ${jobId} and o.kind = 'notice'`.execute(db),
    db.selectFrom('url_patterns').selectAll().where('job_id', '=', jobId)
      .orderBy(sql`cap is null`).orderBy('pages', 'desc').orderBy('pattern').limit(20).execute(),
    sql<{ n: number; barren: number }>`select count(*)::int as n, count(*) filter (where cap is not null)::int as barren from url_patterns where job_id = ${jobId}`.execute(db),
  ])
  const p = pages.rows[0]!
  const m = media.rows[0]!
  const x = matched.rows[0]!
  const f = frontier.rows[0]!
  const n = notices.rows[0]!
  const o = outbox.rows[0]!
  const elapsed = seconds ?? ((job.finished_at ? new Date(job.finished_at).getTime() : Date.now()) - new Date(job.created_at).getTime()) / 1000
  const rate = (n: number) => Math.round((n / Math.max(elapsed, 1e-3)) * 10) / 10
  return {
    jobId, status: job.status, pages: p.n, pageErrors: p.failed, media: m.ok, mediaErrors: m.failed, mediaOpen: m.open,
    distinctMedia: m.distinct, bytes: Number(m.bytes), matchedMedia: x.matched, exactMatches: x.exact, nearMatches: x.matched - x.exact,
    notices: n.n, queued: f.queued, leased: f.leased,
    errors: Object.fromEntries(errors.rows.map((r) => [r.code, r.n])),
    errorExamples: Object.fromEntries(examples.rows.map((r) => [r.code, { message: r.message ?? '', url: r.url }])),
    skipped: Object.fromEntries(skips.map((s) => [s.reason, s.count])),
    patterns: {
      count: patternCounts.rows[0]!.n, barren: patternCounts.rows[0]!.barren,
      top: patterns.map((r) => ({
        pattern: r.pattern, example: r.example, pages: r.pages, yielding: r.yielding, newMedia: r.new_media, newPatterns: r.new_patterns,
        barrenStreak: r.pages - r.last_yield, barren: r.cap !== null, enqueued: r.enqueued, refused: r.refused,
      })),
    },
    delivery: { sent: o.sent, queued: o.queued, retrying: o.retrying, failed: o.failed, held: o.held, unassigned: n.unassigned, lastError: o.last_error },
    seconds: Math.round(elapsed * 1000) / 1000, pagesPerSecond: rate(p.n), mediaPerSecond: rate(m.ok),
  }
}
