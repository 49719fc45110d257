import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { ConfigError, loadConfig } from '@arachnid/core'
import { withApp } from '../app.js'
import { addressRange, choice, integer, text } from '../parse-options.js'
import { formatBytes } from '../progress.js'
import { type CrawlRunResult, openCrawlSession, runCrawl } from '../run-crawl.js'
import { CrawlJob, type CrawlJobOptions, ROBOTS_MODES, type RobotsMode, parseDenyEntry } from '@arachnid/crawler'

/** Seed URLs from a file: one per line; blank lines and # comments skipped. */
export async function readSeeds(file: string): Promise<string[]> {
  let content: string
  try {
    content = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a folder, not a file' : (error as Error).message
    throw new ConfigError(`--seeds ${file}: cannot read it (${why})`, { cause: error })
  }
  return content.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
}

/** A repeatable deny-list entry, checked: one that could never match is refused rather than ignored. */
function denyEntry(value: string, previous: string[] | undefined): string[] {
  try {
    parseDenyEntry(value)
  } catch (error) {
    throw new ConfigError(`--deny ${(error as Error).message.replace(/^deny-list entry /, '')}`, { cause: error })
  }
  return [...(previous ?? []), value.trim()]
}

/** The one-line summary and its detail lines, as printed without --json. */
export function formatCrawlResult(result: CrawlRunResult): string {
  const lines = [`job ${result.jobId}${result.interrupted ? ' (interrupted, paused)' : ''}: ${result.pages} pages (${result.pageErrors} failed), `
    + `${result.media} media hashed (${result.distinctMedia} distinct, ${formatBytes(result.bytes)}), `
    + `${result.mediaErrors} media refused, ${result.matchedMedia} matched (${result.exactMatches} exact, ${result.nearMatches} near), `
    + `${result.notices} notices, ${result.delivered} delivered, ${result.seconds.toFixed(1)} s`]
  if (result.deliveryFailed > 0) {
    lines.push(`  delivery failed for ${result.deliveryFailed} of ${result.notices} notice emails`
      + `${result.deliveryRetrying > 0 ? ` (${result.deliveryRetrying} will be retried by \`arachnid notify worker\` or \`notify run\`)` : ''}`
      + `${result.deliveryError ? `: ${result.deliveryError}` : ''}`)
  }
  if (result.unassigned > 0) lines.push(`  ${result.unassigned} notices wait for their hosting provider to be found (\`arachnid providers list\`)`)
  for (const [code, n] of Object.entries(result.errors)) {
    const example = result.errorExamples[code]
    lines.push(`  ${code}: ${n}${example ? ` (first: ${example.message.split('\n')[0]} at ${example.url})` : ''}`)
  }
  for (const [reason, n] of Object.entries(result.skipped)) lines.push(`  skipped ${reason}: ${n}`)
  return `${lines.join('\n')}\n`
}

export function registerCrawl(program: Command): void {
  program.command('crawl')
    .description('crawl from seed URLs: hash every image found, match against the known lists, send notices')
    .argument('[urls...]', 'seed URLs')
    .option('--seeds <file>', 'file of seed URLs, one per line')
    .option('--max-pages <n>', 'pages in this job', integer('--max-pages', 1, 100_000_000))
    .option('--depth <n>', 'link depth from the seeds', integer('--depth', 0, 1000))
    .option('--allow-private', 'crawl private, loopback and link-local addresses')
    .option('--allow <cidr...>', 'addresses or CIDRs to allow although private (e.g. 127.0.0.1/32)', addressRange('--allow'))
    .option('--name <name>', 'job name', text('--name'))
    .option('--reported', 'the seeds are reported URLs: fetched even where robots.txt or the site scope would not')
    .option('--robots <mode>', 'robots.txt: obey (default) or ignore', choice('--robots', ROBOTS_MODES))
    .option('--politeness-ms <n>', 'least time between two requests to one host (robots.txt, pages and media)', integer('--politeness-ms', 0, 3_600_000))
    .option('--max-per-host <n>', 'requests in flight per host, across all workers', integer('--max-per-host', 1, 1000))
    .option('--max-pages-per-host <n>', 'pages per host (bounds calendars and other traps)', integer('--max-pages-per-host', 1, 100_000_000))
    .option('--deny <entry...>', 'extra deny-list entries: host[:port][/path-prefix], neither pages nor media fetched there', denyEntry)
    .option('--pattern-window <n>', 'pages of one URL pattern in a row that brought no new media or new link pattern before its budget shrinks (default 50)', integer('--pattern-window', 1, 1_000_000))
    .option('--pattern-budget <n>', 'requests a barren URL pattern still gets; the rest are skipped as PATTERN_BARREN (default 100)', integer('--pattern-budget', 0, 100_000_000))
    .option('--no-pattern-budgets', 'no budgets per URL pattern: every URL within the other bounds is crawled')
    .option('--browser', 'render pages in Chromium (Debian\'s /usr/bin/chromium) so media added by scripts are found')
    .option('--detach', 'create the job and return; `arachnid worker` processes crawl it')
    .option('--json', 'print the summary as one JSON object')
    .action(async (urls: string[], options: {
      seeds?: string; maxPages?: number; depth?: number; allowPrivate?: boolean; allow?: string[]; name?: string; json?: boolean
      reported?: boolean; browser?: boolean; robots?: RobotsMode; politenessMs?: number; maxPerHost?: number; maxPagesPerHost?: number; deny?: string[]; detach?: boolean
      patternWindow?: number; patternBudget?: number; patternBudgets?: boolean
    }) => {
      const config = loadConfig({ maxPages: options.maxPages, maxDepth: options.depth, allowPrivate: options.allowPrivate })
      const seeds = [...urls, ...(options.seeds ? await readSeeds(options.seeds) : [])]
      if (seeds.length === 0) throw new ConfigError('give at least one seed URL, or --seeds FILE')
      const bad = seeds.filter((s) => { try { return !/^https?:$/.test(new URL(s).protocol) } catch { return true } })
      if (bad.length > 0) throw new ConfigError(`not http(s) URLs: ${bad.join(', ')}`)
      const jobOptions: CrawlJobOptions = {
        seeds, name: options.name, maxPages: config.maxPages, maxDepth: config.maxDepth, allowPrivate: config.allowPrivate,
        allowAddresses: options.allow, maxMediaBytes: config.maxMediaBytes, maxVideoBytes: config.maxVideoBytes, maxPageBytes: config.maxPageBytes,
        requestTimeoutMs: config.requestTimeoutMs, maxRedirects: config.maxRedirects, pageConcurrency: config.pageConcurrency,
        mediaConcurrency: config.mediaConcurrency, matchBatchSize: config.matchBatchSize, reported: options.reported,
        robots: options.robots, politenessDelayMs: options.politenessMs, maxPerHost: options.maxPerHost,
        maxPagesPerHost: options.maxPagesPerHost, denyList: options.deny, browser: options.browser,
        patternBudgets: options.patternBudgets, patternWindow: options.patternWindow, patternBudget: options.patternBudget,
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
        // Ctrl-C (or SIGTERM): pause the job, finish what is under way, print what was done; a
        // second one leaves at once (leases then run out and a worker takes them up).
        const stop = new AbortController()
        let jobId: number | undefined
        let firstSignalAt = 0
        const onSignal = (signal: NodeJS.Signals) => {
          // One Ctrl-C can arrive twice: from the terminal to the process group, and relayed by
          // the tsx parent (`pnpm arachnid`). A second one within a second is the same one.
          if (stop.signal.aborted && performance.now() - firstSignalAt < 1000) return
          firstSignalAt = performance.now()
          if (stop.signal.aborted) {
            process.stderr.write(`\narachnid: ${signal} again: leaving now; job ${jobId ?? '?'} keeps what was recorded, and its unfinished leases return to the queue when they expire\n`)
            process.exit(130)
          }
          process.stderr.write(`\narachnid: ${signal}: pausing job ${jobId ?? '(being created)'} after what is under way (${signal} again to leave at once)\n`)
          stop.abort(signal)
        }
        process.on('SIGINT', onSignal)
        process.on('SIGTERM', onSignal)
        try {
          const result = await runCrawl(app, jobOptions, {
            progress: process.stderr, signal: stop.signal,
            onJob: (id) => {
              jobId = id
              process.stderr.write(`job ${id} started (\`arachnid jobs show ${id}\` from another terminal)\n`)
            },
          })
          if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
          else process.stdout.write(formatCrawlResult(result))
          if (result.interrupted) {
            process.stderr.write(`arachnid: interrupted: job ${result.jobId} is paused with ${result.queued} pages and ${result.mediaOpen} media still to do; `
              + `\`arachnid jobs resume ${result.jobId}\` then \`arachnid worker\` finishes it\n`)
            process.exitCode = 130
          }
        } finally {
          process.off('SIGINT', onSignal)
          process.off('SIGTERM', onSignal)
        }
      })
    })
}
