import type { Command } from 'commander'
import { loadConfig, sql } from '@arachnid/core'
import { summarizeJob } from '@arachnid/crawler'
import { noticeStats, type RemovalStats } from '@arachnid/notifier'
import { withApp } from '../app.js'

export function registerStats(program: Command): void {
  program.command('stats')
    .description('counts (jobs, pages, media, matches, notices, deliveries) and removal statistics per provider: removed, open, median and p90 time to removal, share removed within 24 h and 72 h, re-uploads')
    .option('--json', 'JSON output')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const db = app.database.db
        const count = async (table: 'crawl_jobs' | 'pages' | 'media' | 'media_fetches' | 'matches' | 'notices') =>
          Number((await db.selectFrom(table).select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n)
        const outbox = await db.selectFrom('outbox').select(['status', sql<number>`count(*)::int`.as('n')]).groupBy('status').execute()
        const notices = await db.selectFrom('notices').select(['status', sql<number>`count(*)::int`.as('n')]).groupBy('status').execute()
        const jobs = await db.selectFrom('crawl_jobs').select(['id', 'name', 'status', 'created_at', 'finished_at']).orderBy('id', 'desc').limit(10).execute()
        // "Matches" means what `demo` and `jobs show` count: media URLs that matched (one URL counts
        // once however many list entries and hash kinds it matched; rejected matches do not count).
        const matched = await sql<{ urls: number; entries: number }>`
          select count(distinct f.url)::int as urls, count(distinct (f.media_id, m.known_hash_id))::int as entries
          from media_fetches f join matches m on m.media_id = f.media_id and m.status <> 'rejected'`.execute(db)
        const stats = {
          jobs: await count('crawl_jobs'), pages: await count('pages'), mediaFetches: await count('media_fetches'),
          distinctMedia: await count('media'), matches: matched.rows[0]!.urls, matchedEntries: matched.rows[0]!.entries, notices: await count('notices'),
          noticesByStatus: Object.fromEntries(notices.map((r) => [r.status, Number(r.n)])),
          outboxByStatus: Object.fromEntries(outbox.map((r) => [r.status, Number(r.n)])),
          removal: await noticeStats(db),
          // Each job's figures as `jobs show` gives them (from the database now, status included).
          recentJobs: await Promise.all(jobs.map(async (j) => ({ id: j.id, name: j.name, status: j.status, createdAt: j.created_at, finishedAt: j.finished_at, summary: await summarizeJob(db, j.id) }))),
        }
        if (options.json) {
          process.stdout.write(`${JSON.stringify(stats)}\n`)
          return
        }
        process.stdout.write(`jobs ${stats.jobs}, pages ${stats.pages}, media fetched ${stats.mediaFetches} (${stats.distinctMedia} distinct), `
          + `matches ${stats.matches} media URLs (${stats.matchedEntries} list entries), notices ${stats.notices} ${JSON.stringify(stats.noticesByStatus)}, outbox ${JSON.stringify(stats.outboxByStatus)}\n`)
        const hours = (h: number | null) => (h === null ? '-' : h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} d`)
        const pct = (v: number) => `${Math.round(v * 100)}%`
        const line = (r: RemovalStats) => `  ${r.provider.padEnd(28)} ${String(r.notices).padStart(6)} ${String(r.removed).padStart(8)} ${String(r.open).padStart(6)} `
          + `${hours(r.medianHoursToRemoval).padStart(9)} ${hours(r.p90HoursToRemoval).padStart(9)} ${pct(r.removedWithin24h).padStart(6)} ${pct(r.removedWithin72h).padStart(6)} ${String(r.reuploads).padStart(10)}\n`
        process.stdout.write(`  ${'provider'.padEnd(28)} ${'notices'.padStart(6)} ${'removed'.padStart(8)} ${'open'.padStart(6)} ${'median'.padStart(9)} ${'p90'.padStart(9)} ${'<24h'.padStart(6)} ${'<72h'.padStart(6)} ${'re-uploads'.padStart(10)}\n`)
        for (const r of stats.removal.providers) process.stdout.write(line(r))
        process.stdout.write(line(stats.removal.overall))
        for (const j of stats.recentJobs) {
          const s = j.summary
          process.stdout.write(`  job ${j.id} ${j.name} [${j.status}] pages ${s.pages} media ${s.media} matched ${s.matchedMedia} notices ${s.notices} ${s.seconds} s\n`)
        }
      })
    })
}
