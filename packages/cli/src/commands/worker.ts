import type { Command } from 'commander'
import { loadConfig } from '@arachnid/core'
import { CrawlMetrics, type CrawlJob, runWorker } from '@arachnid/crawler'
import { withApp } from '../app.js'
import { openCrawlSession } from '../run-crawl.js'

export function registerWorker(program: Command): void {
  program.command('worker')
    .description('a crawl worker: takes part in every running job of the database (run any number, on any machine sharing DATABASE_URL)')
    .option('--exit-when-idle', 'stop once no running job has work left')
    .option('--page-concurrency <n>', 'pages at once in this worker', (v) => Number.parseInt(v, 10))
    .option('--media-concurrency <n>', 'media at once in this worker', (v) => Number.parseInt(v, 10))
    .option('--metrics-port <n>', 'serve Prometheus metrics on 127.0.0.1:<n>/metrics (0: any free port)', (v) => Number.parseInt(v, 10))
    .action(async (options: { exitWhenIdle?: boolean; pageConcurrency?: number; mediaConcurrency?: number; metricsPort?: number }) => {
      const config = loadConfig()
      await withApp(config, async (app) => {
        const session = await openCrawlSession(app)
        const metrics = new CrawlMetrics(app.database.db)
        const server = options.metricsPort !== undefined ? await metrics.serve(options.metricsPort) : undefined
        if (server) process.stderr.write(`metrics: http://127.0.0.1:${server.port}/metrics\n`)
        const jobs = new Set<CrawlJob>()
        const tick = setInterval(() => { for (const job of jobs) metrics.observe(job.counters) }, 1000)
        const stop = new AbortController()
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort())
        try {
          await runWorker(session.deps, {
            exitWhenIdle: options.exitWhenIdle, signal: stop.signal,
            pageConcurrency: options.pageConcurrency ?? config.pageConcurrency, mediaConcurrency: options.mediaConcurrency ?? config.mediaConcurrency,
            onJob: (event, id, job) => {
              if (event === 'start') jobs.add(job)
              else { metrics.observe(job.counters); jobs.delete(job) }
              app.logger.info({ job: id }, event === 'start' ? 'worker joined job' : 'worker left job')
            },
          })
          await session.deliver()
        } finally {
          clearInterval(tick)
          await server?.close()
          await session.close()
        }
      })
    })
}
