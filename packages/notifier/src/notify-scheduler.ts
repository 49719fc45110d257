import PgBoss from 'pg-boss'
import { type Logger, SETTINGS, describeError, withDefaults } from '@arachnid/core'
import type { NotifierService } from './notifier-service.js'

/** The part of PGlite pg-boss needs (structural, so the notifier does not depend on PGlite). */
export interface PgliteLike {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>
  exec(text: string): Promise<Array<{ rows: unknown[] }>>
}

/**
 * pg-boss's `db` adapter over PGlite's one connection. pg-boss sends its schema and maintenance
 * as multi-statement SQL without parameters, which only PGlite's `exec` (simple protocol) runs;
 * everything with parameters goes through `query`.
 */
export function pgBossOverPglite(pglite: PgliteLike): { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> } {
  return {
    async executeSql(text, values) {
      if (values && values.length > 0) return pglite.query(text, values)
      const results = await pglite.exec(text)
      return results[results.length - 1] ?? { rows: [] }
    },
  }
}

/** pg-boss on the application's database: its own pool on Postgres, the shared connection on PGlite. */
export function createBoss(database: { readonly pglite?: PgliteLike; readonly url?: string }, options: { readonly schema?: string } = {}): PgBoss {
  const common = { schema: options.schema ?? 'pgboss', schedule: false, supervise: true, maintenanceIntervalSeconds: 300 }
  if (database.pglite) return new PgBoss({ ...common, db: pgBossOverPglite(database.pglite) } as PgBoss.ConstructorOptions)
  if (!database.url) throw new Error('pg-boss needs the Postgres URL or the PGlite instance')
  return new PgBoss({ ...common, connectionString: database.url, max: 3 })
}

export const NOTIFY_QUEUES = { deliver: 'arachnid-notify-deliver', recheck: 'arachnid-notify-recheck' } as const

export interface NotifySchedulerOptions {
  /** Seconds between delivery passes (and between recheck passes looking for due notices). Default: ARACHNID_DELIVERY_INTERVAL's (30). */
  readonly intervalSeconds?: number
  /** How often idle workers ask pg-boss for a job. Default 2 s (pg-boss's minimum is 0.5). */
  readonly pollingIntervalSeconds?: number
  readonly logger?: Logger
}

export const DEFAULT_SCHEDULER_OPTIONS: Required<Omit<NotifySchedulerOptions, 'logger'>> = { intervalSeconds: SETTINGS.deliveryIntervalSeconds.default, pollingIntervalSeconds: 2 }

/**
 * Schedules the notifier's passes through pg-boss on the same database. Each queue has pg-boss's
 * 'short' policy (at most one job waiting), and each pass, when it ends, queues the next one
 * `intervalSeconds` later; every running worker also re-queues it on a timer, so a worker that
 * dies mid-pass cannot break the chain while others run, and one that restarts picks it up. Any
 * number of worker processes on any number of machines share the jobs; passes that do overlap are
 * safe, since each email and each recheck is claimed with SKIP LOCKED and a lease.
 *
 * @example
 * const scheduler = new NotifyScheduler(createBoss(database), notifier, { intervalSeconds: 30 })
 * await scheduler.start()
 */
export class NotifyScheduler {
  readonly #boss: PgBoss
  readonly #service: NotifierService
  readonly #options: NotifySchedulerOptions & typeof DEFAULT_SCHEDULER_OPTIONS
  #started = false
  #timer: NodeJS.Timeout | undefined

  constructor(boss: PgBoss, service: NotifierService, options: NotifySchedulerOptions = {}) {
    this.#boss = boss
    this.#service = service
    this.#options = withDefaults(DEFAULT_SCHEDULER_OPTIONS, options)
    boss.on('error', (error) => this.#options.logger?.error({ error: describeError(error).message }, 'pg-boss error'))
  }

  async start(): Promise<void> {
    await this.#boss.start()
    this.#started = true
    const run = async (queue: string, pass: () => Promise<unknown>) => {
      // No retries: a failed or expired pass is simply followed by the next one.
      await this.#boss.createQueue(queue, { name: queue, policy: 'short', retryLimit: 0, expireInSeconds: 3600 })
      await this.#boss.work(queue, { pollingIntervalSeconds: this.#options.pollingIntervalSeconds }, async () => {
        try {
          const result = await pass()
          this.#options.logger?.info({ queue, result }, 'notifier pass')
        } catch (error) {
          // The pass's own state (leases, due times) makes the next pass pick up where this one
          // stopped, so the job completes and the next one is queued as usual.
          this.#options.logger?.error({ queue, error: describeError(error).message }, 'notifier pass failed')
        } finally {
          await this.#next(queue, this.#options.intervalSeconds)
        }
      })
      await this.#next(queue, 0)
    }
    await run(NOTIFY_QUEUES.deliver, () => this.#service.deliver())
    await run(NOTIFY_QUEUES.recheck, () => this.#service.recheck())
    this.#timer = setInterval(() => {
      for (const queue of Object.values(NOTIFY_QUEUES)) {
        this.#next(queue, this.#options.intervalSeconds).catch((error: unknown) => this.#options.logger?.warn({ queue, error: describeError(error).message }, 'could not queue the next pass'))
      }
    }, this.#options.intervalSeconds * 1000)
    this.#timer.unref()
  }

  /** Asks for a delivery pass now (e.g. after notices were created). */
  async nudge(): Promise<void> {
    await this.#next(NOTIFY_QUEUES.deliver, 0)
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#timer)
    await this.#boss.stop({ graceful: true, timeout: 30_000, wait: true })
  }

  async #next(queue: string, afterSeconds: number): Promise<void> {
    // 'short': when a job already waits this returns null, which is what we want.
    await this.#boss.send(queue, {}, { startAfter: new Date(Date.now() + afterSeconds * 1000) })
  }
}
