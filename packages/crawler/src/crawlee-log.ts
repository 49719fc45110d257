import { Log, Logger as CrawleeLogger, LogLevel, log as globalCrawleeLog } from '@crawlee/core'
import type { Logger } from '@arachnid/core'

/** pino's levels that Crawlee's are written at. */
type PinoLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace'

/**
 * How Crawlee's levels map to pino's. Crawlee's INFO is its own progress and statistics, which
 * our progress line and job figures already give, so it is debug here; its DEBUG and PERF are
 * trace. A message about one request (Crawlee logs every failure at ERROR and every retry at
 * WARNING) is debug whatever its level: each request's outcome is recorded with its reason
 * (pages, errors by kind), and the crawl goes on.
 */
export const CRAWLEE_LEVELS: Readonly<Record<LogLevel, PinoLevel | undefined>> = {
  [LogLevel.OFF]: undefined,
  [LogLevel.ERROR]: 'error',
  [LogLevel.SOFT_FAIL]: 'warn',
  [LogLevel.WARNING]: 'warn',
  [LogLevel.INFO]: 'debug',
  [LogLevel.DEBUG]: 'trace',
  [LogLevel.PERF]: 'trace',
}

/** The level Crawlee logs about one request (a failure, a retry) at. */
const PER_REQUEST_LEVEL: PinoLevel = 'debug'

/** Crawlee's logger interface, writing into pino. */
class PinoCrawleeLogger extends CrawleeLogger {
  readonly #pino: Logger

  constructor(pino: Logger) {
    super({})
    this.#pino = pino
  }

  override _log(level: LogLevel, message: string, data?: Record<string, unknown>, exception?: unknown, opts: { prefix?: string | null } = {}): void {
    const mapped = CRAWLEE_LEVELS[level]
    if (mapped === undefined) return
    const pinoLevel = mapped === 'error' || mapped === 'warn' ? (typeof data?.url === 'string' ? PER_REQUEST_LEVEL : mapped) : mapped
    if (!this.#pino.isLevelEnabled(pinoLevel)) return
    this.#pino[pinoLevel]({ crawlee: opts.prefix ?? true, ...(data ? { data } : {}), ...(exception ? { err: exception } : {}) }, message)
  }
}

/** The most verbose Crawlee level whose messages pino would write (so Crawlee does not even format the rest). */
function levelFor(pino: Logger | undefined): LogLevel {
  if (pino === undefined) return LogLevel.OFF
  if (pino.isLevelEnabled('trace')) return LogLevel.PERF
  // INFO, and the per-request messages at ERROR and WARNING, are written at debug.
  if (pino.isLevelEnabled('debug')) return LogLevel.INFO
  if (pino.isLevelEnabled('warn')) return LogLevel.WARNING
  if (pino.isLevelEnabled('error')) return LogLevel.ERROR
  return LogLevel.OFF
}

/**
 * Crawlee's log for a crawler of ours, written into our pino logger (structured, to the logger's
 * destination, never to stdout) at the levels of `CRAWLEE_LEVELS`; without a logger, off.
 * Crawlee's global log, which its parts not given one use, goes to the same logger (a process
 * has one logger in practice: the CLI's).
 *
 * @example
 * const crawler = new CheerioCrawler({ log: crawleeLog(logger, 'CheerioCrawler'), ... })
 */
export function crawleeLog(pino: Logger | undefined, prefix: string): Log {
  const level = levelFor(pino)
  const logger = pino === undefined ? undefined : new PinoCrawleeLogger(pino)
  globalCrawleeLog.setOptions(logger === undefined ? { level } : { level, logger })
  return new Log({ level, prefix, ...(logger === undefined ? {} : { logger }) })
}
