import type { Command } from 'commander'
import { loadConfig, sql } from '@arachnid/core'
import { withApp } from '../app.js'

export function registerStats(program: Command): void {
  program.command('stats')
    .description('counts: jobs, pages, media, matches, notices and their delivery')
    .option('--json', 'JSON output')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const db = app.database.db
        const count = async (table: 'crawl_jobs' | 'pages' | 'media' | 'media_fetches' | 'matches' | 'notices') =>
          Number((await db.selectFrom(table).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n)
        const outbox = await db.selectFrom('outbox').select(['status', sql<number>`count(*)::int`.as('n')]).groupBy('status').execute()
        const notices = await db.selectFrom('notices').select(['status', sql<number>`count(*)::int`.as('n')]).groupBy('status').execute()
        const jobs = await db.selectFrom('crawl_jobs').select(['id', 'name', 'status', 'created_at', 'finished_at', 'summary']).orderBy('id', 'desc').limit(10).execute()
        const stats = {
          jobs: await count('crawl_jobs'), pages: await count('pages'), mediaFetches: await count('media_fetches'),
          distinctMedia: await count('media'), matches: await count('matches'), notices: await count('notices'),
          noticesByStatus: Object.fromEntries(notices.map((r) => [r.status, Number(r.n)])),
          outboxByStatus: Object.fromEntries(outbox.map((r) => [r.status, Number(r.n)])),
          recentJobs: jobs.map((j) => ({ id: j.id, name: j.name, status: j.status, createdAt: j.created_at, finishedAt: j.finished_at, summary: j.summary })),
        }
        if (options.json) {
          process.stdout.write(`${JSON.stringify(stats)}\n`)
          return
        }
        process.stdout.write(`jobs ${stats.jobs}, pages ${stats.pages}, media fetched ${stats.mediaFetches} (${stats.distinctMedia} distinct), `
          + `matches ${stats.matches}, notices ${stats.notices} ${JSON.stringify(stats.noticesByStatus)}, outbox ${JSON.stringify(stats.outboxByStatus)}\n`)
        for (const j of stats.recentJobs) {
          const s = (j.summary ?? {}) as Record<string, unknown>
          process.stdout.write(`  job ${j.id} ${j.name} [${j.status}] pages ${s.pages ?? '-'} media ${s.media ?? '-'} matched ${s.matchedMedia ?? '-'} notices ${s.notices ?? '-'} ${s.seconds ?? '-'} s\n`)
        }
      })
    })
}
