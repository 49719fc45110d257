import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { ConfigError, loadConfig } from '@arachnid/core'
import { withApp } from '../app.js'
import { formatBytes } from '../progress.js'
import { openCrawlSession, runCrawl } from '../run-crawl.js'
import { CrawlJob, type CrawlJobOptions, type RobotsMode } from '@arachnid/crawler'

const int = (v: string) => {
  const n = Number.parseInt(v, 10)
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`expected a non-negative integer, got "${v}"`)
  return n
}

/** Seed URLs from a file: one per line; blank lines and # comments skipped. */
export async function readSeeds(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8')
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
}

export function registerCrawl(program: Command): void {
  program.command('crawl')
    .description('crawl from seed URLs: hash every image found, match against the known lists, send notices')
    .argument('[urls...]', 'seed URLs')
    .option('--seeds <file>', 'file of seed URLs, one per line')
    .option('--max-pages <n>', 'pages in this job', int)
    .option('--depth <n>', 'link depth from the seeds', int)
    .option('--allow-private', 'crawl private, loopback and link-local addresses')
    .option('--allow <cidr...>', 'addresses or CIDRs to allow although private (e.g. 127.0.0.1/32)')
    .option('--name <name>', 'job name')
    .option('--reported', 'the seeds are reported URLs: fetched even where robots.txt or the site scope would not')
    .option('--robots <mode>', 'robots.txt: obey (default) or ignore')
    .option('--politeness-ms <n>', 'least time between two requests to one host', int)
    .option('--max-per-host <n>', 'requests in flight per host, across all workers', int)
    .option('--max-pages-per-host <n>', 'pages per host (bounds calendars and other traps)', int)
    .option('--deny <entry...>', 'extra deny-list entries: host[/path-prefix] never fetched')
    .option('--browser', 'render pages in Chromium (Debian\'s /usr/bin/chromium) so media added by scripts are found')
    .option('--detach', 'create the job and return; `arachnid worker` processes crawl it')
    .option('--json', 'print the summary as one JSON object')
    .action(async (urls: string[], options: {
      seeds?: string; maxPages?: number; depth?: number; allowPrivate?: boolean; allow?: string[]; name?: string; json?: boolean
      reported?: boolean; browser?: boolean; robots?: string; politenessMs?: number; maxPerHost?: number; maxPagesPerHost?: number; deny?: string[]; detach?: boolean
    }) => {
      if (options.robots !== undefined && options.robots !== 'obey' && options.robots !== 'ignore') throw new ConfigError(`--robots must be obey or ignore, got "${options.robots}"`)
      const config = loadConfig({ maxPages: options.maxPages, maxDepth: options.depth, allowPrivate: options.allowPrivate })
      const seeds = [...urls, ...(options.seeds ? await readSeeds(options.seeds) : [])]
      if (seeds.length === 0) throw new ConfigError('give at least one seed URL, or --seeds FILE')
      const bad = seeds.filter((s) => { try { return !/^https?:$/.test(new URL(s).protocol) } catch { return true } })
      if (bad.length > 0) throw new ConfigError(`not http(s) URLs: ${bad.join(', ')}`)
      const jobOptions: CrawlJobOptions = {
        seeds, name: options.name, maxPages: config.maxPages, maxDepth: config.maxDepth, allowPrivate: config.allowPrivate,
        allowAddresses: options.allow, maxMediaBytes: config.maxMediaBytes, maxPageBytes: config.maxPageBytes,
        requestTimeoutMs: config.requestTimeoutMs, maxRedirects: config.maxRedirects, pageConcurrency: config.pageConcurrency,
        mediaConcurrency: config.mediaConcurrency, matchBatchSize: config.matchBatchSize, reported: options.reported,
        robots: options.robots as RobotsMode | undefined, politenessDelayMs: options.politenessMs, maxPerHost: options.maxPerHost,
        maxPagesPerHost: options.maxPagesPerHost, denyList: options.deny, browser: options.browser,
      }
      await withApp(config, async (app) => {
        if (options.detach) {
          const session = await openCrawlSession(app)
          try {
            const job = await CrawlJob.create(session.deps, jobOptions)
            process.stdout.write(options.json ? `${JSON.stringify({ jobId: job.id, status: 'running' })}\n` : `job ${job.id} created; \`arachnid worker\` processes will crawl it (\`arachnid jobs show ${job.id}\`)\n`)
          } finally {
            await session.close()
          }
          return
        }
        const result = await runCrawl(app, jobOptions, { progress: process.stderr })
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
        else {
          process.stdout.write(`job ${result.jobId}: ${result.pages} pages (${result.pageErrors} failed), ${result.media} media hashed (${formatBytes(result.bytes)}), `
            + `${result.mediaErrors} media refused, ${result.matchedMedia} matched (${result.exactMatches} exact, ${result.nearMatches} near), `
            + `${result.notices} notices, ${result.delivered} delivered, ${result.seconds.toFixed(1)} s\n`)
          for (const [code, n] of Object.entries(result.errors)) process.stdout.write(`  ${code}: ${n}\n`)
          for (const [reason, n] of Object.entries(result.skipped)) process.stdout.write(`  skipped ${reason}: ${n}\n`)
        }
      })
    })
}
