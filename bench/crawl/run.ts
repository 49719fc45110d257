/**
 * Crawl throughput, in one run on one synthetic site on loopback:
 *   1. baseline: plain Crawlee CheerioCrawler (its own in-memory queue and HTTP client) fetching
 *      every page and every image once, without hashing;
 *   2. the full pipeline (Postgres frontier, bounded fetches, hashing, batched matching, records,
 *      notices to .eml) with 1 worker process, then with 2 worker processes sharing the job;
 *   3. the baseline again (the machine's load drifts: each pipeline run is compared with the mean).
 * Each worker's SQL statements and CPU time are counted (count-statements.mjs), and Postgres' CPU.
 * Run from the repository root:
 *   pnpm tsx bench/crawl/run.ts [--pages 5000] [--images 15000] [--workers 1,2] [--hash-workers 0,1] [--media-concurrency 8,16] [--statements]
 * Needs Postgres (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres); it
 * creates and drops its own database. Images are benign, synthetic, generated in memory.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { CheerioCrawler } from '@crawlee/cheerio'
import { Configuration, log as crawleeLog } from '@crawlee/core'
import { openApp, openCrawlSession, prepareDemo } from '@arachnid/cli'
import { SETTINGS, loadConfig, sql } from '@arachnid/core'
import { CrawlJob, discover, summarizeJob } from '@arachnid/crawler'
import { startSyntheticSite } from '@arachnid/synthetic'
import { openTestDatabase } from '@arachnid/test'

const args = new Map(process.argv.slice(2).map((a, i, all) => [a, all[i + 1]]))
const PAGES = Number(args.get('--pages') ?? 5000)
const IMAGES = Number(args.get('--images') ?? 15000)
const CONCURRENCY = 8
// The workers' media at once (ARACHNID_MEDIA_CONCURRENCY's default unless given).
const MEDIA_CONCURRENCY = (args.get('--media-concurrency') ?? process.env.ARACHNID_MEDIA_CONCURRENCY ?? String(SETTINGS.mediaConcurrency.default)).split(',').map(Number)
/** Which pipeline runs (worker processes each): default 1 then 2. */
const WORKERS = (args.get('--workers') ?? '1,2').split(',').map(Number)
/** Hashing threads per worker process (ARACHNID_HASH_WORKERS), each value a pipeline run of its own: `--hash-workers 0,1`. */
const HASH_WORKERS = (args.get('--hash-workers') ?? process.env.ARACHNID_HASH_WORKERS ?? String(SETTINGS.hashWorkers.default)).split(',').map(Number)
const TICKS = 100 // USER_HZ of /proc/<pid>/stat
const root = fileURLToPath(new URL('../../', import.meta.url))

const site = await startSyntheticSite({ seed: 5, pages: PAGES, images: IMAGES, badInputs: false, cacheBytes: 2 * 1024 * 1024 * 1024 })
const imageUrls = site.manifest.images.map((i) => i.url)
console.log(`site: ${site.manifest.pages.length} pages, ${imageUrls.length} image URLs at ${site.manifest.baseUrl}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
{
  // Generate every image before timing anything, so every run is served from the same warm cache.
  const t = performance.now()
  for (let i = 0; i < imageUrls.length; i += 64) await Promise.all(imageUrls.slice(i, i + 64).map((u) => site.imageBytes(u)))
  console.log(`warm-up: ${imageUrls.length} images generated in ${((performance.now() - t) / 1000).toFixed(1)} s`)
}

// 1. Baseline: plain Crawlee. Run again after the pipeline runs: the machine's load drifts, and
// each pipeline run is compared with the mean of the two.
crawleeLog.setLevel(crawleeLog.LEVELS.OFF)
async function runBaseline(): Promise<{ pages: number; images: number; seconds: number; cpuSeconds: number }> {
  site.stats.reset()
  const seenImages = new Set<string>()
  let images = 0
  const start = performance.now()
  const cpu = process.cpuUsage()
  const crawler = new CheerioCrawler({
    maxConcurrency: CONCURRENCY, minConcurrency: CONCURRENCY, maxRequestRetries: 0, useSessionPool: false, persistCookiesPerSession: false,
    requestHandler: async ({ request, $, enqueueLinks, sendRequest }) => {
      await enqueueLinks({ strategy: 'same-origin' })
      const found = discover($ as never, request.loadedUrl ?? request.url)
      const fresh = found.media.map((m) => m.url).filter((u) => !seenImages.has(u) && u.startsWith(site.manifest.baseUrl))
      for (const u of fresh) seenImages.add(u)
      await Promise.all(fresh.map(async (url) => {
        const response = await sendRequest({ url, responseType: 'buffer' })
        if (response.statusCode === 200) images++
      }))
    },
  }, new Configuration({ persistStorage: false, purgeOnStart: true }))
  await crawler.run([`${site.manifest.baseUrl}/`])
  const seconds = (performance.now() - start) / 1000
  const result = { pages: site.stats.byPath.size - images, images, seconds, cpuSeconds: cpuSince(cpu) }
  console.log(`baseline: ${result.pages} pages, ${images} images in ${seconds.toFixed(1)} s; CPU s: bench+site ${result.cpuSeconds.toFixed(1)}; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  return result
}
// The CLI's bundle, built now if the sources changed since it was last built (a few seconds).
const build = spawnSync(process.execPath, [path.join(root, 'scripts/arachnid.mjs'), '--help'], { cwd: root, encoding: 'utf8' })
if (build.status !== 0) throw new Error(`scripts/arachnid.mjs --help failed: ${build.stderr}`)
const baselines = [await runBaseline()]

// 2. The pipeline, with 1 and then 2 worker processes.
const pg = await openTestDatabase('postgres')
const home = await mkdtemp(path.join(os.tmpdir(), 'arachnid-bench-'))
const app = await openApp(loadConfig({ home, databaseUrl: pg.url!, logLevel: 'warn' }, {}))
console.log(await prepareDemo(app, site))

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1e6
}

/** CPU seconds a process has used so far (utime + stime), or undefined once it is gone. */
async function procCpu(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / TICKS
  } catch {
    return undefined
  }
}

interface RunFigures { pages: number; media: number; matched: number; seconds: number; statements: number; kinds: Map<string, number>; workerCpu: number; postgresCpu: number; benchCpu: number }

async function pipeline(workers: number, hashWorkers: number, mediaConcurrency: number): Promise<RunFigures> {
  const session = await openCrawlSession(app)
  const job = await CrawlJob.create(session.deps, {
    seeds: [`${site.manifest.baseUrl}/`], allowAddresses: ['127.0.0.1/32'], maxPages: PAGES + 100, maxDepth: 20, name: `bench ${workers} (${hashWorkers} hash workers)`,
  })
  await session.close()
  const dbName = new URL(pg.url!).pathname.slice(1)
  // Postgres' CPU: every backend serving the bench's database, sampled while the run goes on.
  const backends = new Map<number, { first: number; last: number }>()
  const sampleBackends = async () => {
    const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity where datname = ${dbName}`.execute(app.database.db)
    for (const { pid } of rows) {
      const cpu = await procCpu(pid)
      if (cpu === undefined) continue
      const seen = backends.get(pid)
      if (seen) seen.last = cpu
      else backends.set(pid, { first: cpu, last: cpu })
    }
  }
  await sampleBackends()
  const countFiles = Array.from({ length: workers }, (_, i) => path.join(home, `counts-${workers}-${hashWorkers}-${mediaConcurrency}-${i}`))
  const start = performance.now()
  const benchCpu = process.cpuUsage()
  // The worker as users start it (`pnpm arachnid worker`: scripts/arachnid.mjs, the CLI's bundle,
  // built before the first run below so that no run pays for building it).
  const children = countFiles.map((countFile) => spawn(process.execPath, [path.join(root, 'scripts/arachnid.mjs'), 'worker', '--exit-when-idle',
    '--page-concurrency', String(CONCURRENCY), '--media-concurrency', String(mediaConcurrency)], {
    cwd: home, stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env, DATABASE_URL: pg.url!, ARACHNID_HOME: home, SMTP_URL: '', LOG_LEVEL: 'warn', ARACHNID_HASH_WORKERS: String(hashWorkers),
      // Counts the worker's statements and CPU time (bench/crawl/count-statements.mjs).
      ARACHNID_BENCH_COUNTS: countFile, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${path.join(root, 'bench/crawl/count-statements.mjs')}`.trim(),
    },
  }))
  // Poll only the job's status: the full summary is heavier than it needs to be during the run.
  for (let tick = 0; ; tick++) {
    const row = await app.database.db.selectFrom('crawl_jobs').select('status').where('id', '=', job.id).executeTakeFirstOrThrow()
    if (row.status !== 'running') break
    if (tick % 4 === 0) await sampleBackends()
    await sleep(250)
  }
  const seconds = (performance.now() - start) / 1000
  const benchCpuSeconds = cpuSince(benchCpu)
  await sampleBackends()
  await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.on('exit', resolve)))))
  const s = await summarizeJob(app.database.db, job.id)
  // When the last page and the last media were recorded, from the job's start: which of the two the run waited for.
  const { rows: [ends] } = await sql<{ pages_s: number; media_s: number }>`select
      extract(epoch from (select max(fetched_at) from pages where job_id = ${job.id}) - j.created_at)::float8 as pages_s,
      extract(epoch from (select max(fetched_at) from media_fetches where job_id = ${job.id}) - j.created_at)::float8 as media_s
    from crawl_jobs j where j.id = ${job.id}`.execute(app.database.db)
  console.log(`  last page recorded at ${Number(ends!.pages_s).toFixed(1)} s, last media at ${Number(ends!.media_s).toFixed(1)} s after the job was created`)
  let statements = 0
  let workerCpu = 0
  const kinds = new Map<string, number>()
  // Worker processes' CPU by thread name: 'main', 'node' (hashing threads, libuv's pool, V8's
  // helpers), libvips' own.
  const threadCpu = new Map<string, number>()
  const written = (await readdir(home)).filter((f) => countFiles.some((c) => f.startsWith(`${path.basename(c)}-`)))
  for (const file of written) {
    const counted = JSON.parse(await readFile(path.join(home, file), 'utf8')) as { total: number; cpuSeconds: number; threadCpuSeconds?: Record<string, number>; kinds: Record<string, number> }
    statements += counted.total
    workerCpu += counted.cpuSeconds
    for (const [name, seconds] of Object.entries(counted.threadCpuSeconds ?? {})) threadCpu.set(name, (threadCpu.get(name) ?? 0) + seconds)
    for (const [k, n] of Object.entries(counted.kinds)) kinds.set(k, (kinds.get(k) ?? 0) + n)
  }
  let postgresCpu = 0
  for (const b of backends.values()) postgresCpu += b.last - b.first
  console.log(`  worker CPU s by thread: ${[...threadCpu].sort((a, b) => b[1] - a[1]).filter(([, t]) => t >= 0.1).map(([name, t]) => `${name} ${t.toFixed(1)}`).join(', ')}`)
  return { pages: s.pages, media: s.media, matched: s.matchedMedia, seconds, statements, kinds, workerCpu, postgresCpu, benchCpu: benchCpuSeconds }
}

/**
 * Which part of the pipeline a statement serves, by its first words: the page path (frontier,
 * pages, patterns, media URLs registered, sightings, leases), the media path (media leases,
 * hashes stored, evidence, match lookups) or matches and notices (the intake, the notifier's
 * outbox). A begin/commit pair is the page path's when the lease is a transaction (before
 * 2026-12-06) and the intake's otherwise: they are counted under "other".
 */
function byPart(kinds: ReadonlyMap<string, number>): { pages: number; media: number; notices: number; other: number } {
  const out = { pages: 0, media: 0, notices: 0, other: 0 }
  for (const [kind, n] of kinds) {
    const k = kind.toLowerCase().replaceAll('"', '')
    if (/^(with hosts|with done|with p as|with j as)|^(insert into|update|select .* from) (pages|frontier|url_patterns|sightings|crawl_jobs|frontier_skips)\b|^(insert into|update) frontier_hosts|^update frontier_hosts set last_leased_at|^insert into media_fetches \(job_id, url, state\)|^select count\(\*\) as n from media_fetches/.test(k)) out.pages += n
    else if (/^(update|insert into) media(_fetches)?\b|^select host, delay_ms from frontier_hosts|^select p\.i, k\.id|^select id from media_fetches/.test(k)) out.media += n
    else if (/notice|outbox|matches|review_|known_hashes|pg_advisory|^select id, pdq_quality from media|^select s\.fetch_id, p\.url from sightings|^select id, list_id, version_id/.test(k)) out.notices += n
    else out.other += n
  }
  return out
}

const runs: [string, RunFigures][] = []
for (const workers of WORKERS) for (const hashWorkers of HASH_WORKERS) for (const mediaConcurrency of MEDIA_CONCURRENCY) {
  const r = await pipeline(workers, hashWorkers, mediaConcurrency)
  const name = `pipeline, ${workers} worker${workers === 1 ? '' : 's'}, ${hashWorkers} hash thread${hashWorkers === 1 ? '' : 's'} each${MEDIA_CONCURRENCY.length > 1 ? `, ${mediaConcurrency} media at once` : ''}`
  runs.push([name, r])
  console.log(`${name}: ${r.pages} pages, ${r.media} media, ${r.matched} matched in ${r.seconds.toFixed(1)} s; ` +
    `${r.statements} statements (${(r.statements / r.pages).toFixed(1)} per page, ${(r.statements / r.media).toFixed(2)} per media); ` +
    `CPU s: workers ${r.workerCpu.toFixed(1)}, postgres ${r.postgresCpu.toFixed(1)}, bench+site ${r.benchCpu.toFixed(1)}; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  const parts = byPart(r.kinds)
  console.log(`  statements by part: pages ${parts.pages} (${(parts.pages / r.pages).toFixed(2)} per page), media ${parts.media} (${(parts.media / r.media).toFixed(2)} per media), ` +
    `matches and notices ${parts.notices} (${(parts.notices / Math.max(1, r.matched)).toFixed(1)} per matched media), other ${parts.other}`)
  if (args.has('--statements')) {
    for (const [kind, n] of [...r.kinds].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(7)}  ${kind}`)
  }
}

baselines.push(await runBaseline())
const baseline = { pages: baselines[0]!.pages, images: baselines[0]!.images, seconds: (baselines[0]!.seconds + baselines[1]!.seconds) / 2 }
const basePps = baseline.pages / baseline.seconds
console.log('\n| run | pages | media | seconds | pages/s | media/s | x baseline pages/s |\n|---|---:|---:|---:|---:|---:|---:|')
console.log(`| baseline (plain CheerioCrawler, no hashing; mean of ${baselines.map((b) => b.seconds.toFixed(1)).join(' s and ')} s) | ${baseline.pages} | ${baseline.images} | ${baseline.seconds.toFixed(1)} | ${basePps.toFixed(1)} | ${(baseline.images / baseline.seconds).toFixed(1)} | 1.00 |`)
for (const [name, r] of runs) {
  console.log(`| ${name} | ${r.pages} | ${r.media} | ${r.seconds.toFixed(1)} | ${(r.pages / r.seconds).toFixed(1)} | ${(r.media / r.seconds).toFixed(1)} | ${(r.pages / r.seconds / basePps).toFixed(2)} |`)
}
console.log(`\nload average after: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${os.availableParallelism()} cores`)

await app.close()
await site.close()
await pg.close()
await rm(home, { recursive: true, force: true })
