import { type Logger, SETTINGS, describeError, withDefaults } from '@arachnid/core'
import type { createBoss } from '@arachnid/notifier'
import type { App } from './app.js'
import { type PullOutcome, pullSubscriptions } from './commands/list-sharing.js'

/** pg-boss, as @arachnid/notifier's createBoss makes it (the CLI does not depend on pg-boss itself). */
type Boss = ReturnType<typeof createBoss>

export const LIST_PULL_QUEUE = 'arachnid-lists-pull'

export interface ListPullSchedulerOptions {
  /** Seconds between pulls of every subscription. Default: ARACHNID_PULL_INTERVAL's (3600). */
  readonly intervalSeconds?: number
  /** How often idle workers ask pg-boss for a job. Default 2 s (pg-boss's minimum is 0.5). */
  readonly pollingIntervalSeconds?: number
  /** Addresses or CIDRs the retro-hunts' live rechecks may contact although private. */
  readonly allow?: readonly string[]
  readonly logger?: Logger
}

export const DEFAULT_LIST_PULL_OPTIONS: Required<Omit<ListPullSchedulerOptions, 'logger'>> = { intervalSeconds: SETTINGS.pullIntervalSeconds.default, pollingIntervalSeconds: 2, allow: [] }

/**
 * Pulls every list followed from a peer (`lists subscribe`) on a schedule through pg-boss on the
 * same database, and retro-hunts what each pull added (unless the subscription says not to), as
 * `lists pull` does. The queue has pg-boss's 'short' policy (at most one pass waiting); a pass,
 * when it ends, queues the next one `intervalSeconds` later, and every running scheduler re-queues
 * it on a timer too, so a process that dies mid-pass does not break the chain. Passes that overlap
 * (several processes, a pass longer than the interval, `lists pull` by hand) never pull the same
 * subscription at once: each pull holds its subscription with a lease and skips one held by
 * another. A failed pull is recorded on its subscription (`lists subscriptions`) and the next
 * pass tries it again from the saved cursor.
 *
 * The boss is the caller's (it may serve other queues too): `start` starts it if it is not, `stop`
 * stops this scheduler's work only.
 *
 * @example
 * const scheduler = new ListPullScheduler(createBoss(database), app, { intervalSeconds: 3600 })
 * await scheduler.start()
 */
export class ListPullScheduler {
  readonly #boss: Boss
  readonly #app: App
  readonly #options: ListPullSchedulerOptions & typeof DEFAULT_LIST_PULL_OPTIONS
  readonly #stop = new AbortController()
  #started = false
  #timer: NodeJS.Timeout | undefined
  #running: Promise<unknown> = Promise.resolve()

  constructor(boss: Boss, app: App, options: ListPullSchedulerOptions = {}) {
    this.#boss = boss
    this.#app = app
    this.#options = withDefaults(DEFAULT_LIST_PULL_OPTIONS, options)
    // An 'error' nobody listens to would end the process; a boss shared with the notifier has its listener already.
    if (boss.listenerCount('error') === 0) boss.on('error', (error) => this.#options.logger?.error({ error: describeError(error).message }, 'pg-boss error'))
  }

  async start(): Promise<void> {
    if (this.#started) return
    await this.#boss.start()
    this.#started = true
    // No retries: a failed or expired pass is simply followed by the next one.
    await this.#boss.createQueue(LIST_PULL_QUEUE, { name: LIST_PULL_QUEUE, policy: 'short', retryLimit: 0, expireInSeconds: 4 * 3600 })
    await this.#boss.work(LIST_PULL_QUEUE, { pollingIntervalSeconds: this.#options.pollingIntervalSeconds }, async () => {
      const pass = this.runOnce()
      this.#running = pass.catch(() => {})
      try {
        await pass
      } catch (error) {
        // Each subscription's fault is recorded with it; this is the database failing under the pass.
        this.#options.logger?.error({ error: describeError(error).message }, 'list pull pass failed')
      } finally {
        if (!this.#stop.signal.aborted) await this.#next(this.#options.intervalSeconds)
      }
    })
    await this.#next(0)
    this.#timer = setInterval(() => {
      this.#next(this.#options.intervalSeconds).catch((error: unknown) => this.#options.logger?.warn({ error: describeError(error).message }, 'could not queue the next list pull'))
    }, this.#options.intervalSeconds * 1000)
    this.#timer.unref()
  }

  /** One pass now: every subscription pulled (one another process holds is skipped) and what it added hunted. */
  async runOnce(): Promise<PullOutcome[]> {
    const logger = this.#options.logger
    return pullSubscriptions(this.#app, {
      allow: this.#options.allow, signal: this.#stop.signal,
      onOutcome: (o) => {
        if (o.status === 'pulled') {
          const { added, retracted, replaced, replacedEntries, cursor } = o.result
          const hunt = o.retroHunt && { entries: o.retroHunt.entries, mediaScanned: o.retroHunt.mediaScanned, matchedMedia: o.retroHunt.matchedMedia, notices: o.retroHunt.notices, gone: o.retroHunt.gone }
          if (o.huntError) logger?.warn({ list: o.list, error: o.huntError }, 'list pulled, its retro-hunt failed')
          logger?.info({ list: o.list, peer: o.url, added, retracted, replaced, replacedEntries, cursor, retroHunt: hunt }, 'list pulled')
        } else if (o.status === 'busy') {
          logger?.info({ list: o.list, owner: o.owner }, 'list pull skipped: another process is pulling it')
        } else {
          logger?.warn({ list: o.list, peer: o.url, error: o.error }, 'list pull failed; the next pass tries again')
        }
      },
    })
  }

  /** Stops taking passes; a pass running stops between pages (what it applied stays) and lets its subscription go. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    clearInterval(this.#timer)
    this.#stop.abort()
    await this.#boss.offWork(LIST_PULL_QUEUE)
    await this.#running
  }

  async #next(afterSeconds: number): Promise<void> {
    // 'short': when a pass already waits this returns null, which is what we want.
    await this.#boss.send(LIST_PULL_QUEUE, {}, { startAfter: new Date(Date.now() + afterSeconds * 1000) })
  }
}
