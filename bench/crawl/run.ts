/**
 * Crawl throughput, in one run on one synthetic site on loopback:
 *   1. baseline: plain Crawlee CheerioCrawler (its own in-memory queue and HTTP client) fetching
 *      every page and every image once, without hashing;
 *   2. the full pipeline (Postgres frontier, bounded fetches, hashing, batched matching, records,
 *      notices to .eml) with 1 worker process, then with 2 worker processes sharing the job.
 * Run from the repository root: pnpm tsx bench/crawl/run.ts [--pages 5000] [--images 15000]
 * Needs Postgres (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres); it
 * creates and drops its own database. Images are benign, synthetic, generated in memory.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { CheerioCrawler } from '@crawlee/cheerio'
import { Configuration, log as crawleeLog } from '@crawlee/core'
import { openApp, openCrawlSession, prepareDemo } from '@arachnid/cli'
import { loadConfig } from '@arachnid/core'
import { CrawlJob, discover, summarizeJob } from '@arachnid/crawler'
import { startSyntheticSite } from '@arachnid/synthetic'
import { openTestDatabase } from '@arachnid/test'

const args = new Map(process.argv.slice(2).map((a, i, all) => [a, all[i + 1]]))
const PAGES = Number(args.get('--pages') ?? 5000)
const IMAGES = Number(args.get('--images') ?? 15000)
const CONCURRENCY = 8
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

// 1. Baseline: plain Crawlee.
crawleeLog.setLevel(crawleeLog.LEVELS.OFF)
site.stats.reset()
const seenImages = new Set<string>()
let baselineImages = 0
const baselineStart = performance.now()
const baseline = new CheerioCrawler({
  maxConcurrency: CONCURRENCY, minConcurrency: CONCURRENCY, maxRequestRetries: 0, useSessionPool: false, persistCookiesPerSession: false,
  requestHandler: async ({ request, $, enqueueLinks, sendRequest }) => {
    await enqueueLinks({ strategy: 'same-origin' })
    const found = discover($ as never, request.loadedUrl ?? request.url)
    const fresh = found.media.map((m) => m.url).filter((u) => !seenImages.has(u) && u.startsWith(site.manifest.baseUrl))
    for (const u of fresh) seenImages.add(u)
    await Promise.all(fresh.map(async (url) => {
      const response = await sendRequest({ url, responseType: 'buffer' })
      if (response.statusCode === 200) baselineImages++
    }))
  },
}, new Configuration({ persistStorage: false, purgeOnStart: true }))
await baseline.run([`${site.manifest.baseUrl}/`])
const baselineSeconds = (performance.now() - baselineStart) / 1000
const baselinePages = site.stats.byPath.size - baselineImages
console.log(`baseline: ${baselinePages} pages, ${baselineImages} images in ${baselineSeconds.toFixed(1)} s`)

// 2. The pipeline, with 1 and then 2 worker processes.
const pg = await openTestDatabase('postgres')
const home = await mkdtemp(path.join(os.tmpdir(), 'arachnid-bench-'))
const app = await openApp(loadConfig({ home, databaseUrl: pg.url!, smtpUrl: '', logLevel: 'warn' }, {}))
console.log(await prepareDemo(app, site))

async function pipeline(workers: number): Promise<{ pages: number; media: number; matched: number; seconds: number }> {
  const session = await openCrawlSession(app)
  const job = await CrawlJob.create(session.deps, {
    seeds: [`${site.manifest.baseUrl}/`], allowAddresses: ['127.0.0.1/32'], maxPages: PAGES + 100, maxDepth: 20, name: `bench ${workers}`,
  })
  await session.close()
  const start = performance.now()
  const children = Array.from({ length: workers }, () => spawn(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'packages/cli/src/main.ts'), 'worker', '--exit-when-idle',
    '--page-concurrency', String(CONCURRENCY), '--media-concurrency', String(CONCURRENCY)], {
    cwd: home, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DATABASE_URL: pg.url!, ARACHNID_HOME: home, SMTP_URL: '', LOG_LEVEL: 'warn' },
  }))
  // Poll only the job's status: the full summary is heavier than it needs to be during the run.
  for (;;) {
    const row = await app.database.db.selectFrom('crawl_jobs').select('status').where('id', '=', job.id).executeTakeFirstOrThrow()
    if (row.status !== 'running') break
    await sleep(250)
  }
  const seconds = (performance.now() - start) / 1000
  await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.on('exit', resolve)))))
  const s = await summarizeJob(app.database.db, job.id)
  return { pages: s.pages, media: s.media, matched: s.matchedMedia, seconds }
}

const one = await pipeline(1)
console.log(`pipeline, 1 worker: ${one.pages} pages, ${one.media} media, ${one.matched} matched in ${one.seconds.toFixed(1)} s`)
const two = await pipeline(2)
console.log(`pipeline, 2 workers: ${two.pages} pages, ${two.media} media, ${two.matched} matched in ${two.seconds.toFixed(1)} s`)

const rows = [
  ['baseline (plain CheerioCrawler, no hashing)', baselinePages, baselineImages, baselineSeconds],
  ['pipeline, 1 worker', one.pages, one.media, one.seconds],
  ['pipeline, 2 workers', two.pages, two.media, two.seconds],
] as const
const basePps = baselinePages / baselineSeconds
console.log('\n| run | pages | media | seconds | pages/s | media/s | x baseline pages/s |\n|---|---:|---:|---:|---:|---:|---:|')
for (const [name, pages, media, seconds] of rows) {
  console.log(`| ${name} | ${pages} | ${media} | ${seconds.toFixed(1)} | ${(pages / seconds).toFixed(1)} | ${(media / seconds).toFixed(1)} | ${(pages / seconds / basePps).toFixed(2)} |`)
}
console.log(`\nload average after: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${os.availableParallelism()} cores`)

await app.close()
await site.close()
await pg.close()
await rm(home, { recursive: true, force: true })
