import type { Command } from 'commander'
import { type Database, type Kysely, loadConfig, sql } from '@arachnid/core'
import { summarizeJob } from '@arachnid/crawler'
import { noticeStats, type RemovalStats } from '@arachnid/notifier'
import { withApp } from '../app.js'

/** Retro-hunts shown one by one, newest first. */
const RECENT_HUNTS = 10

/**
 * What the retro-hunts found (a list's new entries searched for among the media already seen, on
 * import, append, pull or `lists hunt`): totals over every hunt, and the latest ones with their list,
 * when, what started them, media searched, matches, notices, and URLs found gone on recheck.
 */
async function retroHuntStats(db: Kysely<Database>) {
  const totals = await db.selectFrom('retro_hunts').select([
    sql<number>`count(*)::int`.as('hunts'), sql<number>`coalesce(sum(media_scanned), 0)::bigint`.as('media_scanned'),
    sql<number>`coalesce(sum(matched_media), 0)::int`.as('matched_media'), sql<number>`coalesce(sum(new_matches), 0)::int`.as('new_matches'),
    sql<number>`coalesce(sum(notices), 0)::int`.as('notices'), sql<number>`coalesce(sum(gone), 0)::int`.as('gone'),
  ]).executeTakeFirstOrThrow()
  const recent = await db.selectFrom('retro_hunts as h').innerJoin('hash_lists as l', 'l.id', 'h.list_id')
    .select(['h.id', 'l.name', 'h.trigger', 'h.status', 'h.entries', 'h.media_scanned', 'h.matched_media', 'h.new_matches', 'h.notices', 'h.gone', 'h.error', 'h.started_at', 'h.finished_at'])
    .orderBy('h.id', 'desc').limit(RECENT_HUNTS).execute()
  return {
    hunts: Number(totals.hunts), mediaScanned: Number(totals.media_scanned), matchedMedia: Number(totals.matched_media),
    newMatches: Number(totals.new_matches), notices: Number(totals.notices), gone: Number(totals.gone),
    recent: recent.map((h) => ({
      id: h.id, list: h.name, trigger: h.trigger, status: h.status, startedAt: h.started_at, finishedAt: h.finished_at, entries: h.entries,
      mediaScanned: h.media_scanned, matchedMedia: h.matched_media, newMatches: h.new_matches, notices: h.notices, gone: h.gone, error: h.error,
    })),
  }
}

export function registerStats(program: Command): void {
  program.command('stats')
    .description('counts (jobs, pages, media, matches, notices, deliveries), removal statistics per provider (removed, open, median and p90 time to removal, share removed within 24 h and 72 h, re-uploads), and what the retro-hunts found')
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
          retroHunts: await retroHuntStats(db),
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
        const h = stats.retroHunts
        process.stdout.write(`retro-hunts ${h.hunts}: ${h.mediaScanned} media searched, ${h.matchedMedia} matched (${h.newMatches} new matches), ${h.notices} notices, ${h.gone} URLs gone on recheck\n`)
        for (const r of h.recent) {
          process.stdout.write(`  hunt ${r.id} ${r.list} [${r.trigger} ${r.status}] ${r.startedAt.toISOString()}: ${r.entries} entries among ${r.mediaScanned} media, `
            + `${r.matchedMedia} matched (${r.newMatches} new matches), ${r.notices} notices, ${r.gone} URLs gone${r.error ? `; ${r.error}` : ''}\n`)
        }
      })
    })
}
