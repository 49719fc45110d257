import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Command } from 'commander'
import { type Config, CriticalError, loadConfig } from '@arachnid/core'
import { type JobSummary, listJobs, readLiveSummary, setJobStatus, summarizeJob } from '@arachnid/crawler'
import { withApp } from '../app.js'
import { integer } from '../parse-options.js'
import { formatBytes } from '../progress.js'
import { liveSummaryDir } from '../run-crawl.js'

const jobId = integer('job id', 1, 2_147_483_647)

/** What `jobs show` prints: the job's figures, and where they come from when not the database itself. */
interface JobView {
  readonly summary: JobSummary
  /** Figures written by the process that holds the embedded database and crawls the job. */
  readonly live?: { readonly pid: number; readonly writtenAt: string }
}

function showJob(view: JobView, json: boolean): void {
  const s = view.summary
  if (json) {
    process.stdout.write(`${JSON.stringify(view.live ? { ...s, live: view.live } : s)}\n`)
    return
  }
  const age = view.live ? Math.max(0, (Date.now() - Date.parse(view.live.writtenAt)) / 1000) : 0
  const d = s.delivery
  process.stdout.write(`job ${s.jobId} [${s.status}] ${s.seconds.toFixed(1)} s${view.live ? ` (live figures from worker pid ${view.live.pid}, ${age.toFixed(1)} s old)` : ''}\n`
    + `  pages   ${s.pages} (${s.pageErrors} failed), ${s.pagesPerSecond}/s; frontier ${s.queued} queued, ${s.leased} leased\n`
    + `  media   ${s.media} hashed (${s.distinctMedia} distinct, ${formatBytes(s.bytes)}), ${s.mediaErrors} refused, ${s.mediaOpen} open, ${s.mediaPerSecond}/s\n`
    + `  matches ${s.matchedMedia} media URLs (${s.exactMatches} exact, ${s.nearMatches} near); notices ${s.notices}\n`)
  if (d && s.notices > 0) {
    process.stdout.write(`  emails  ${d.sent} sent, ${d.queued} queued, ${d.retrying} retrying, ${d.failed} failed${d.held > 0 ? `, ${d.held} held` : ''}`
      + `${d.unassigned > 0 ? `; ${d.unassigned} notices without a provider yet` : ''}${d.lastError ? `; last error: ${d.lastError}` : ''}\n`)
  }
  for (const [code, n] of Object.entries(s.errors)) {
    const example = s.errorExamples?.[code]
    process.stdout.write(`  error   ${code}: ${n}${example ? ` (first: ${example.message.split('\n')[0]} at ${example.url})` : ''}\n`)
  }
  for (const [reason, n] of Object.entries(s.skipped)) process.stdout.write(`  skipped ${reason}: ${n}\n`)
  // Figures written by an older worker have no patterns.
  if (s.patterns && s.patterns.count > 0) {
    process.stdout.write(`  patterns ${s.patterns.count} URL patterns, ${s.patterns.barren} barren\n`)
    // The barren ones (listed first): where the budget cut the crawl (--json lists the busiest others too).
    for (const p of s.patterns.top.filter((t) => t.barren).slice(0, 10)) {
      process.stdout.write(`  pattern ${p.pattern}: ${p.pages} pages (${p.yielding} yielding: ${p.newMedia} new media, ${p.newPatterns} new patterns), `
        + `barren after ${p.barrenStreak} without yield, ${p.refused} refused\n`)
    }
  }
}

/**
 * The live process holding the embedded database, if another one does. The embedded database is
 * one process's (core's data-dir lock, `<home>/db.lock`, holds its pid): while a worker holds
 * it, `jobs show` reads the figures that worker writes instead of opening the database.
 */
async function embeddedHolder(config: Config): Promise<number | undefined> {
  if (config.databaseUrl) return undefined
  const pid = Number((await readFile(`${path.resolve(config.home, 'db')}.lock`, 'utf8').catch(() => '')).trim())
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined
  try {
    process.kill(pid, 0)
    return pid
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined
  }
}

/**
 * Why a job's figures cannot be read now: the embedded database is in use by a process not
 * crawling it. `jobs show` prints the one line and exits 2; `jobs show --watch` says so and waits.
 */
class FiguresUnavailable extends CriticalError {
  readonly holder: number
  constructor(id: number, holder: number) {
    super('DATABASE_IN_USE', `job ${id}: the embedded database is in use by process ${holder}, which is not crawling this job, so its figures cannot be read until that process ends (several processes at once need Postgres: DATABASE_URL)`)
    this.holder = holder
  }
}

/**
 * One reading of a job's figures. On the embedded database the database is opened only while no
 * other process holds it, and closed again at once; while a crawling process holds it, its live
 * figures are read from `$ARACHNID_HOME/jobs/<id>.json`.
 */
async function readJob(config: Config, id: number): Promise<JobView> {
  let holder = await embeddedHolder(config)
  if (holder === undefined) {
    try {
      return { summary: await withApp(config, (app) => summarizeJob(app.database.db, id)) }
    } catch (error) {
      if (!(error instanceof CriticalError && error.code === 'DATABASE_IN_USE')) throw error
      holder = Number(/process (\d+)/.exec(error.message)?.[1] ?? 0)
    }
  }
  const live = await readLiveSummary(liveSummaryDir(config.home), id)
  if (live && live.pid === holder) return { summary: live.summary, live: { pid: live.pid, writtenAt: live.writtenAt } }
  throw new FiguresUnavailable(id, holder)
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
        else if (rows.length === 0) process.stdout.write('no jobs (`arachnid crawl URL` starts one)\n')
        else for (const j of rows) process.stdout.write(`${String(j.id).padStart(5)}  ${j.status.padEnd(9)} ${String(j.frontier).padStart(6)} urls  ${j.createdAt.toISOString()}  ${j.name}\n`)
      })
    })
  jobs.command('show')
    .description('a job\'s figures: pages, media, matches, notices, emails, rates, queue, errors (first message and URL) and skips by kind; '
      + 'on the embedded database, while a worker crawls the job, the figures it writes every second')
    .argument('<id>', 'job id', jobId)
    .option('--json', 'JSON output')
    .option('--watch', 'redraw every second until the job stops running (live view of a detached job)')
    .action(async (id: number, options: { json?: boolean; watch?: boolean }) => {
      const config = loadConfig()
      if (config.databaseUrl) {
        await withApp(config, async (app) => {
          for (;;) {
            const summary = await summarizeJob(app.database.db, id)
            if (options.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H')
            showJob({ summary }, options.json === true)
            if (!options.watch || summary.status !== 'running') return
            await sleep(1000)
          }
        })
        return
      }
      // The embedded database: never held between readings, so the worker this watches can run.
      let said = ''
      const say = (line: string) => {
        if (line !== said) process.stderr.write(`${line}\n`)
        said = line
      }
      for (;;) {
        let view: JobView
        try {
          view = await readJob(config, id)
        } catch (error) {
          if (!options.watch || !(error instanceof FiguresUnavailable)) throw error
          say(`arachnid: ${error.message}; waiting`)
          await sleep(1000)
          continue
        }
        if (options.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H')
        showJob(view, options.json === true)
        if (!options.watch || view.summary.status !== 'running') return
        if (view.live === undefined) {
          // Read from the database itself: no process holds it, so no one crawls the job and its
          // figures cannot change until one does. Wait for one without opening the database.
          say(`arachnid: no process is crawling job ${id} now; \`arachnid worker\` crawls it (watching)`)
          while ((await embeddedHolder(config)) === undefined) await sleep(500)
        } else await sleep(1000)
      }
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
