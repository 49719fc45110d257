import { createHash } from 'node:crypto'
import type { Command } from 'commander'
import { loadConfig } from '@arachnid/core'
import { Hasher } from '@arachnid/hasher'
import { importList } from '@arachnid/matcher'
import { setProviderRule } from '@arachnid/notifier'
import { startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import { type App, withApp } from '../app.js'
import { integer } from '../parse-options.js'
import { formatBytes } from '../progress.js'
import { runCrawl } from '../run-crawl.js'

export const DEMO_LIST = 'demo-known'
export const DEMO_PROVIDER = { pattern: '127.0.0.1/32', name: 'Demo Loopback Hosting', abuseEmail: 'abuse@loopback-hosting.test' }

/** Builds the demo's known-hash list from the site's known images (hashed in memory). */
export async function demoListLines(images: AsyncIterable<{ id: number; bytes: Uint8Array }>): Promise<string[]> {
  const hasher = new Hasher()
  const lines = ['algorithm,hash,category,external_id']
  try {
    for await (const image of images) {
      const h = await hasher.hash(image.bytes)
      const id = `demo-${image.id}`
      lines.push(`sha256,${h.sha256},demo,${id}`, `md5,${h.md5},demo,${id}`, `sha1,${h.sha1},demo,${id}`, `blockhash,${h.blockhash},demo,${id}`)
      if (h.pdqQuality >= 50) lines.push(`pdq,${h.pdq},demo,${id}`)
    }
  } finally {
    await hasher.close()
  }
  return lines
}

/**
 * Imports the demo's known-hash list (skipped when the active version already holds exactly these
 * hashes) and maps the loopback address to the demo provider. Returns a line saying what it did.
 */
export async function prepareDemo(app: App, site: SyntheticSite): Promise<string> {
  const lines = await demoListLines(site.knownImages())
  const source = `demo:${createHash('sha256').update(lines.join('\n')).digest('hex')}`
  const current = await app.database.db.selectFrom('hash_lists as l').innerJoin('hash_list_versions as v', 'v.id', 'l.active_version_id')
    .where('l.name', '=', DEMO_LIST).select(['v.source', 'v.version']).executeTakeFirst()
  await setProviderRule(app.database.db, DEMO_PROVIDER)
  if (current?.source === source) return `known list: ${DEMO_LIST} v${current.version} already holds these ${lines.length - 1} hashes`
  const imported = await importList(app.database.db, { name: DEMO_LIST, lines, source, description: 'hashes of the demo site\'s known images', copyFrom: app.database.copyFrom })
  return `known list: imported ${imported.imported} hashes into ${DEMO_LIST} v${imported.version}`
}

export function registerDemo(program: Command): void {
  program.command('demo')
    .description('run the whole job on a bundled synthetic website on 127.0.0.1: import the known list, crawl, hash, match, notify')
    .option('--json', 'print the summary as one JSON object on the last line')
    .option('--pages <n>', 'pages on the synthetic site', integer('--pages', 1, 100_000), 200)
    .option('--images <n>', 'distinct images on the synthetic site', integer('--images', 0, 1_000_000), 500)
    .option('--seed <n>', 'seed of the synthetic site', integer('--seed', 0, 2_147_483_647), 1)
    .action(async (options: { json?: boolean; pages: number; images: number; seed: number }) => {
      const config = loadConfig({ allowPrivate: false })
      const started = performance.now()
      const site = await startSyntheticSite({ pages: options.pages, images: options.images, seed: options.seed })
      try {
        await withApp(config, async (app) => {
          const err = process.stderr
          err.write(`demo site: ${site.manifest.baseUrl}/ (${site.manifest.pages.length} pages, ${site.manifest.images.length} image URLs)\n`)
          err.write(`${await prepareDemo(app, site)}\n`)
          err.write(`notices go to ${(await app.transport()).name}\n`)
          const result = await runCrawl(app, {
            seeds: [`${site.manifest.baseUrl}/`], name: 'demo', maxPages: Math.max(config.maxPages, options.pages + 10),
            maxDepth: config.maxDepth, allowAddresses: ['127.0.0.1/32'], maxMediaBytes: config.maxMediaBytes, maxPageBytes: config.maxPageBytes,
            requestTimeoutMs: config.requestTimeoutMs, maxRedirects: config.maxRedirects, pageConcurrency: config.pageConcurrency,
            mediaConcurrency: config.mediaConcurrency, matchBatchSize: config.matchBatchSize,
          }, { progress: process.stderr })
          const seconds = (performance.now() - started) / 1000
          const summary = {
            jobId: result.jobId, pages: result.pages, pageErrors: result.pageErrors, media: result.media, mediaErrors: result.mediaErrors,
            distinctMedia: result.distinctMedia, bytes: result.bytes, matches: result.matchedMedia, exactMatches: result.exactMatches,
            nearMatches: result.nearMatches, notices: result.notices, delivered: result.delivered, errors: result.errors,
            crawlSeconds: result.seconds, seconds: Math.round(seconds * 1000) / 1000,
            pagesPerSecond: result.pagesPerSecond, mediaPerSecond: result.mediaPerSecond, outbox: (await app.transport()).name,
          }
          const line = `demo: ${summary.pages} pages, ${summary.media} media hashed (${formatBytes(summary.bytes)}, ${summary.mediaErrors} refused with a reason), `
            + `${summary.matches} matched (${summary.exactMatches} exact, ${summary.nearMatches} near), ${summary.notices} notices (${summary.delivered} delivered to ${summary.outbox}), `
            + `${summary.seconds.toFixed(1)} s (${summary.pagesPerSecond} pages/s, ${summary.mediaPerSecond} media/s)`
          if (options.json) {
            process.stderr.write(`${line}\n`)
            process.stdout.write(`${JSON.stringify(summary)}\n`)
          } else process.stdout.write(`${line}\n`)
        })
      } finally {
        await site.close()
      }
    })
}
