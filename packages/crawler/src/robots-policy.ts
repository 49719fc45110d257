import robotsParser from 'robots-parser'
import { describeError } from '@arachnid/core'
import { DEFAULT_USER_AGENT, type BoundedFetcher } from '@arachnid/net'

export const ROBOTS_MODES = ['obey', 'ignore'] as const
export type RobotsMode = (typeof ROBOTS_MODES)[number]

interface Rules {
  isAllowed(url: string, ua?: string): boolean | undefined
  getCrawlDelay(ua?: string): number | undefined
}

/** The robots.txt verdict for one host: allowed paths and its Crawl-delay. */
export interface HostRobots {
  allowed(url: string): boolean
  readonly crawlDelayMs: number
}

const ALLOW_ALL: HostRobots = { allowed: () => true, crawlDelayMs: 0 }
const DISALLOW_ALL: HostRobots = { allowed: () => false, crawlDelayMs: 0 }

/**
 * robots.txt per RFC 9309, fetched once per host through the bounded fetcher: a 4xx answer means
 * no restrictions, an unreachable or 5xx robots.txt means disallow everything (the RFC's rule),
 * rules are matched for our user agent. `ignore` mode skips all of it (for reported URLs the
 * operator must check regardless).
 */
/** Where fetched robots.txt bodies are shared, so several workers of a job fetch each once. */
export interface RobotsStore {
  /** The stored body ('' means no restrictions), or undefined when not fetched yet. */
  get(origin: string): Promise<string | undefined>
  put(origin: string, body: string): Promise<void>
}

export class RobotsPolicy {
  readonly mode: RobotsMode
  readonly #fetcher: BoundedFetcher
  readonly #cache = new Map<string, Promise<HostRobots>>()
  readonly #timeoutMs: number
  readonly #store: RobotsStore | undefined
  readonly #clock: { turn(url: URL): Promise<void> } | undefined

  /** `clock`: politeness; robots.txt takes its host's turn like any other request. */
  constructor(fetcher: BoundedFetcher, mode: RobotsMode = 'obey', timeoutMs = 10_000, store?: RobotsStore, clock?: { turn(url: URL): Promise<void> }) {
    this.mode = mode
    this.#fetcher = fetcher
    this.#timeoutMs = timeoutMs
    this.#store = store
    this.#clock = clock
  }

  forOrigin(origin: string): Promise<HostRobots> {
    if (this.mode === 'ignore') return Promise.resolve(ALLOW_ALL)
    let entry = this.#cache.get(origin)
    if (entry === undefined) {
      entry = this.#load(origin)
      this.#cache.set(origin, entry)
    }
    return entry
  }

  async #load(origin: string): Promise<HostRobots> {
    const robotsUrl = `${origin}/robots.txt`
    let text = await this.#store?.get(origin)
    if (text === undefined) {
      try {
        const clock = this.#clock
        const response = await this.#fetcher.fetch(robotsUrl, {
          maxBytes: 512 * 1024, timeoutMs: this.#timeoutMs, maxRedirects: 5, beforeRequest: clock ? (url) => clock.turn(url) : undefined,
        })
        text = response.body.toString('utf8')
      } catch (error) {
        const status = (error as { response?: { statusCode?: number } }).response?.statusCode
        if (status !== undefined && status >= 400 && status < 500) text = ''
        else {
          const { code } = describeError(error)
          // Refused addresses are refused for pages too; anything else unreachable disallows
          // (RFC 9309 2.3.1.4) and is not stored, so a later worker asks again.
          return code === 'BLOCKED_ADDRESS' ? ALLOW_ALL : DISALLOW_ALL
        }
      }
      await this.#store?.put(origin, text)
    }
    if (text === '') return ALLOW_ALL
    const rules = (robotsParser as unknown as (url: string, body: string) => Rules)(robotsUrl, text)
    const agent = DEFAULT_USER_AGENT.split('/')[0]
    const delay = rules.getCrawlDelay(agent)
    return {
      allowed: (url) => rules.isAllowed(url, agent) !== false,
      crawlDelayMs: delay === undefined ? 0 : Math.min(30_000, Math.max(0, delay * 1000)),
    }
  }
}
