import { setTimeout as sleep } from 'node:timers/promises'
import type { Command } from 'commander'
import { type Config, CriticalError, loadConfig } from '@arachnid/core'
import { CrawlMetrics, type CrawlJob, runWorker } from '@arachnid/crawler'
import { type App, openApp } from '../app.js'
import { integer, port } from '../parse-options.js'
import { liveSummaries, openCrawlSession } from '../run-crawl.js'

/**
 * Opens the database, waiting a little while the embedded one is held by a short command (a
 * `jobs show` reading figures holds it for a moment): a worker is long-running and can wait.
 */
async function openAppWaiting(config: Config, waitMs = 10_000): Promise<App> {
  const deadline = Date.now() + waitMs
  for (;;) {
    try {
      return await openApp(config)
    } catch (error) {
      if (!(error instanceof CriticalError && error.code === 'DATABASE_IN_USE') || Date.now() > deadline) throw error
      await sleep(500)
    }
  }
}

export function registerWorker(program: Command): void {
  program.command('worker')
    .description('a crawl worker: takes part in every running job of the database (run any number, on any machine sharing DATABASE_URL)')
    .option('--exit-when-idle', 'stop once no running job has work left')
    .option('--page-concurrency <n>', 'pages at once in this worker', integer('--page-concurrency', 1, 1000))
    .option('--media-concurrency <n>', 'media at once in this worker', integer('--media-concurrency', 1, 1000))
    .option('--metrics-port <n>', 'serve Prometheus metrics on 127.0.0.1:<n>/metrics (0: any free port)', port('--metrics-port'))
    .action(async (options: { exitWhenIdle?: boolean; pageConcurrency?: number; mediaConcurrency?: number; metricsPort?: number }) => {
      const config = loadConfig()
      // SIGINT, SIGTERM: leave the job under way to other workers (what is in flight finishes
      // first, unstarted leases go back to the queue) and stop; a second one leaves at once.
      const stop = new AbortController()
      let firstSignalAt = 0
      const onSignal = (signal: NodeJS.Signals) => {
        // One Ctrl-C can arrive twice (the process group, and tsx relaying it): within a second it is the same one.
        if (stop.signal.aborted && performance.now() - firstSignalAt < 1000) return
        firstSignalAt = performance.now()
        if (stop.signal.aborted) process.exit(130)
        process.stderr.write(`arachnid: ${signal}: the worker stops after what is under way (${signal} again to leave at once)\n`)
        stop.abort(signal)
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      const app = await openAppWaiting(config)
      try {
        const session = await openCrawlSession(app)
        const live = liveSummaries(app)
        const metrics = new CrawlMetrics(app.database.db)
        const server = options.metricsPort !== undefined ? await metrics.serve(options.metricsPort, '127.0.0.1', { logger: app.logger }).catch(async (error) => {
          await session.close()
          throw error
        }) : undefined
        if (server) process.stderr.write(`metrics: http://127.0.0.1:${server.port}/metrics\n`)
        const jobs = new Set<CrawlJob>()
        const tick = setInterval(() => { for (const job of jobs) metrics.observe(job.counters) }, 1000)
        try {
          await runWorker(session.deps, {
            exitWhenIdle: options.exitWhenIdle, signal: stop.signal,
            pageConcurrency: options.pageConcurrency ?? config.pageConcurrency, mediaConcurrency: options.mediaConcurrency ?? config.mediaConcurrency,
            onJob: (event, id, job) => {
              if (event === 'start') {
                jobs.add(job)
                void live?.track(id)
              } else {
                metrics.observe(job.counters)
                jobs.delete(job)
                void live?.untrack(id)
              }
              app.logger.info({ job: id }, event === 'start' ? 'worker joined job' : 'worker left job')
            },
          })
          await session.deliver()
        } finally {
          clearInterval(tick)
          await live?.close()
          await server?.close()
          await session.close()
        }
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        await app.close()
      }
    })
}
