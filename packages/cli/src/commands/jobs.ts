import { setTimeout as sleep } from 'node:timers/promises'
import type { Command } from 'commander'
import { ConfigError, loadConfig } from '@arachnid/core'
import { type JobSummary, listJobs, setJobStatus, summarizeJob } from '@arachnid/crawler'
import { withApp } from '../app.js'
import { formatBytes } from '../progress.js'

const jobId = (v: string) => {
  const n = Number.parseInt(v, 10)
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`not a job id: "${v}"`)
  return n
}

function showJob(s: JobSummary, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(s)}\n`)
    return
  }
  process.stdout.write(`job ${s.jobId} [${s.status}] ${s.seconds.toFixed(1)} s\n`
    + `  pages   ${s.pages} (${s.pageErrors} failed), ${s.pagesPerSecond}/s; frontier ${s.queued} queued, ${s.leased} leased\n`
    + `  media   ${s.media} hashed (${s.distinctMedia} distinct, ${formatBytes(s.bytes)}), ${s.mediaErrors} refused, ${s.mediaOpen} open, ${s.mediaPerSecond}/s\n`
    + `  matches ${s.matchedMedia} media URLs (${s.exactMatches} exact, ${s.nearMatches} near); notices ${s.notices}\n`)
  for (const [code, n] of Object.entries(s.errors)) process.stdout.write(`  error   ${code}: ${n}\n`)
  for (const [reason, n] of Object.entries(s.skipped)) process.stdout.write(`  skipped ${reason}: ${n}\n`)
}

export function registerJobs(program: Command): void {
  const jobs = program.command('jobs').description('crawl jobs: list, show, pause, resume, cancel')
  jobs.command('list')
    .description('recent jobs, newest first')
    .option('--json', 'JSON output')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const rows = await listJobs(app.database.db)
        if (options.json) process.stdout.write(`${JSON.stringify(rows)}\n`)
        else for (const j of rows) process.stdout.write(`${String(j.id).padStart(5)}  ${j.status.padEnd(9)} ${String(j.frontier).padStart(6)} urls  ${j.createdAt.toISOString()}  ${j.name}\n`)
      })
    })
  jobs.command('show')
    .description('a job\'s figures: pages, media, matches, notices, rates, queue, errors and skips by kind')
    .argument('<id>', 'job id', jobId)
    .option('--json', 'JSON output')
    .option('--watch', 'redraw every second until the job stops running (live view of a detached job)')
    .action(async (id: number, options: { json?: boolean; watch?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        for (;;) {
          const s = await summarizeJob(app.database.db, id)
          if (options.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H')
          showJob(s, options.json === true)
          if (!options.watch || s.status !== 'running') return
          await sleep(1000)
        }
      })
    })
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    jobs.command(action)
      .description(`${action} a job (workers see it within a second)`)
      .argument('<id>', 'job id', jobId)
      .action(async (id: number) => {
        await withApp(loadConfig(), async (app) => {
          const status = await setJobStatus(app.database.db, id, action)
          process.stdout.write(`job ${id} is now ${status}\n`)
        })
      })
  }
}
