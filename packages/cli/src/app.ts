import path from 'node:path'
import { type ArachnidDatabase, type Config, type Logger, configWarnings, createLogger, openDatabase, outboxDir } from '@arachnid/core'
import { type MatchService, Matcher, RemoteMatcher } from '@arachnid/matcher'
import type { InDoubtPolicy, MailTransport, OutboxDelivery } from '@arachnid/notifier'

/** What every command shares: configuration, logger, database and the parts built on it. */
export interface App {
  readonly config: Config
  readonly logger: Logger
  readonly database: ArachnidDatabase
  /**
   * What every command matches with: the matching service (`arachnid api`) when ARACHNID_MATCHER_URL
   * is set (a RemoteMatcher: it waits for the service rather than drop a media), otherwise the
   * in-process matcher on this database (the default).
   */
  readonly matcher: MatchService
  /**
   * The in-process matcher on this database, whatever ARACHNID_MATCHER_URL says: for the matching
   * service itself (which must not call itself) and whatever needs the index's own methods
   * (stats(), refresh()). The same object as `matcher` when no URL is set; made on first use.
   */
  localMatcher(): Matcher
  /**
   * Where notices go: SMTP when configured, otherwise .eml files in the outbox folder. The notifier
   * is loaded on first use, so commands that send nothing start without it.
   */
  transport(): Promise<MailTransport>
  delivery(): Promise<OutboxDelivery>
  close(): Promise<void>
}

export async function openApp(config: Config): Promise<App> {
  for (const warning of configWarnings(config)) process.stderr.write(`arachnid: warning: ${warning}\n`)
  const logger = createLogger({ level: config.logLevel })
  const database = await openDatabase(config.databaseUrl
    ? { databaseUrl: config.databaseUrl }
    : { dataDir: path.join(config.home, 'db') })
  let local: Matcher | undefined
  const localMatcher = () => local ??= new Matcher(database.db, {
    blockhashThreshold: config.blockhashThreshold, pdqThreshold: config.pdqThreshold, pdqMinQuality: config.pdqMinQuality,
    videoMatchShare: config.videoMatchShare,
  })
  // The service's own thresholds and minimum quality apply to what goes through it.
  const remote = config.matcherUrl ? new RemoteMatcher(config.matcherUrl, { maxBatch: config.apiMaxBatch, logger }) : undefined
  const matcher: MatchService = remote ?? localMatcher()
  let transport: MailTransport | undefined
  const getTransport = async () => {
    if (transport === undefined) {
      const { EmlDirectoryTransport, SmtpTransport } = await import('@arachnid/notifier')
      transport ??= config.smtpUrl ? new SmtpTransport(config.smtpUrl) : new EmlDirectoryTransport(outboxDir(config))
    }
    return transport
  }
  return {
    config, logger, database, matcher, localMatcher,
    transport: getTransport,
    async delivery() {
      const { OutboxDelivery } = await import('@arachnid/notifier')
      // The configured lease, rate and in-doubt policy, as the notify worker's delivery has them.
      return new OutboxDelivery(database.db, await getTransport(), {
        from: config.noticeFrom, logger, ratePerHour: config.providerRatePerHour, inDoubt: config.inDoubtPolicy as InDoubtPolicy,
        leaseMs: config.outboxLeaseSeconds * 1000,
      })
    },
    async close() {
      await remote?.close()
      await transport?.close()
      await database.close()
    },
  }
}

export async function withApp<T>(config: Config, fn: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp(config)
  try {
    return await fn(app)
  } finally {
    await app.close()
  }
}
