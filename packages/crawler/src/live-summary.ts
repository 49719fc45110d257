import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { type Database, type Kysely, type Logger, describeError } from '@arachnid/core'
import { type JobSummary, summarizeJob } from './job-summary.js'

/** What a crawling process writes for each job it takes part in: its figures, who wrote them, when. */
export interface LiveSummary {
  readonly pid: number
  /** ISO time of writing. */
  readonly writtenAt: string
  readonly summary: JobSummary
}

/** The file holding a job's live figures in `dir`. */
export function liveSummaryFile(dir: string, jobId: number): string {
  return path.join(dir, `${jobId}.json`)
}

/** A job's live figures as last written, or undefined when there are none (or the file is unreadable). */
export async function readLiveSummary(dir: string, jobId: number): Promise<LiveSummary | undefined> {
  try {
    const value = JSON.parse(await readFile(liveSummaryFile(dir, jobId), 'utf8')) as LiveSummary
    return Number.isInteger(value.pid) && typeof value.writtenAt === 'string' && value.summary?.jobId === jobId ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * The embedded database (PGlite) belongs to one process, so no other process can read a job's
 * figures while a worker crawls it. The process holding it writes each job's figures
 * (summarizeJob) to `<dir>/<job>.json` about every second, and once more when it leaves the job;
 * `arachnid jobs show` reads them from there. Each write goes to a temporary file renamed over
 * the old one, so a reader never sees half a file.
 */
/** How often live figures are written, by default. */
export const DEFAULT_LIVE_SUMMARY_OPTIONS = { intervalMs: 1000 } as const

export class LiveSummaryWriter {
  readonly #db: Kysely<Database>
  readonly #dir: string
  readonly #intervalMs: number
  readonly #logger: Logger | undefined
  readonly #jobs = new Set<number>()
  #timer: NodeJS.Timeout | undefined
  #writing: Promise<void> = Promise.resolve()

  constructor(db: Kysely<Database>, dir: string, options: { readonly intervalMs?: number; readonly logger?: Logger } = {}) {
    this.#db = db
    this.#dir = dir
    this.#intervalMs = options.intervalMs ?? DEFAULT_LIVE_SUMMARY_OPTIONS.intervalMs
    this.#logger = options.logger
  }

  /** Starts writing the job's figures (at once, then every interval). */
  track(jobId: number): Promise<void> {
    this.#jobs.add(jobId)
    this.#timer ??= setInterval(() => { void this.#writeAll() }, this.#intervalMs)
    this.#timer.unref()
    return this.write(jobId)
  }

  /** Writes the job's figures a last time (its state as this process leaves it) and stops writing them. */
  async untrack(jobId: number): Promise<void> {
    this.#jobs.delete(jobId)
    if (this.#jobs.size === 0 && this.#timer) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
    await this.write(jobId)
  }

  /** Writes one job's figures now (serialised with writes under way). */
  write(jobId: number): Promise<void> {
    this.#writing = this.#writing.then(() => this.#write(jobId))
    return this.#writing
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    await this.#writing
  }

  #writeAll(): Promise<void> {
    for (const jobId of this.#jobs) void this.write(jobId)
    return this.#writing
  }

  async #write(jobId: number): Promise<void> {
    try {
      const summary = await summarizeJob(this.#db, jobId)
      const value: LiveSummary = { pid: process.pid, writtenAt: new Date().toISOString(), summary }
      await mkdir(this.#dir, { recursive: true })
      const file = liveSummaryFile(this.#dir, jobId)
      const temporary = `${file}.${process.pid}.tmp`
      await writeFile(temporary, `${JSON.stringify(value)}\n`)
      await rename(temporary, file)
    } catch (error) {
      // Figures for a watcher must never stop a crawl; the next tick tries again.
      this.#logger?.warn({ job: jobId, error: describeError(error) }, 'live figures not written')
    }
  }
}
