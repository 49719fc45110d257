import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { ConfigError, loadConfig } from '@arachnid/core'
import { withApp } from '../app.js'
import { formatBytes } from '../progress.js'
import { runCrawl } from '../run-crawl.js'

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
    .option('--json', 'print the summary as one JSON object')
    .action(async (urls: string[], options: { seeds?: string; maxPages?: number; depth?: number; allowPrivate?: boolean; allow?: string[]; name?: string; json?: boolean }) => {
      const config = loadConfig({ maxPages: options.maxPages, maxDepth: options.depth, allowPrivate: options.allowPrivate })
      const seeds = [...urls, ...(options.seeds ? await readSeeds(options.seeds) : [])]
      if (seeds.length === 0) throw new ConfigError('give at least one seed URL, or --seeds FILE')
      const bad = seeds.filter((s) => { try { return !/^https?:$/.test(new URL(s).protocol) } catch { return true } })
      if (bad.length > 0) throw new ConfigError(`not http(s) URLs: ${bad.join(', ')}`)
      await withApp(config, async (app) => {
        const result = await runCrawl(app, {
          seeds, name: options.name, maxPages: config.maxPages, maxDepth: config.maxDepth, allowPrivate: config.allowPrivate,
          allowAddresses: options.allow, maxMediaBytes: config.maxMediaBytes, maxPageBytes: config.maxPageBytes,
          requestTimeoutMs: config.requestTimeoutMs, maxRedirects: config.maxRedirects, pageConcurrency: config.pageConcurrency,
          mediaConcurrency: config.mediaConcurrency, matchBatchSize: config.matchBatchSize,
        }, { progress: process.stderr })
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
        else {
          process.stdout.write(`job ${result.jobId}: ${result.pages} pages (${result.pageErrors} failed), ${result.media} media hashed (${formatBytes(result.bytes)}), `
            + `${result.mediaErrors} media refused, ${result.matchedMedia} matched (${result.exactMatches} exact, ${result.nearMatches} near), `
            + `${result.notices} notices, ${result.delivered} delivered, ${result.seconds.toFixed(1)} s\n`)
          for (const [code, n] of Object.entries(result.errors)) process.stdout.write(`  ${code}: ${n}\n`)
        }
      })
    })
}
