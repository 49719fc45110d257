import type { Command } from 'commander'
import { loadConfig } from '@arachnid/core'
import { runWorker } from '@arachnid/crawler'
import { withApp } from '../app.js'
import { openCrawlSession } from '../run-crawl.js'

export function registerWorker(program: Command): void {
  program.command('worker')
    .description('a crawl worker: takes part in every running job of the database (run any number, on any machine sharing DATABASE_URL)')
    .option('--exit-when-idle', 'stop once no running job has work left')
    .option('--page-concurrency <n>', 'pages at once in this worker', (v) => Number.parseInt(v, 10))
    .option('--media-concurrency <n>', 'media at once in this worker', (v) => Number.parseInt(v, 10))
    .action(async (options: { exitWhenIdle?: boolean; pageConcurrency?: number; mediaConcurrency?: number }) => {
      const config = loadConfig()
      await withApp(config, async (app) => {
        const session = await openCrawlSession(app)
        const stop = new AbortController()
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort())
        try {
          await runWorker(session.deps, {
            exitWhenIdle: options.exitWhenIdle, signal: stop.signal,
            pageConcurrency: options.pageConcurrency ?? config.pageConcurrency, mediaConcurrency: options.mediaConcurrency ?? config.mediaConcurrency,
            onJob: (event, id) => app.logger.info({ job: id }, event === 'start' ? 'worker joined job' : 'worker left job'),
          })
          await session.deliver()
        } finally {
          await session.close()
        }
      })
    })
}
