import path from 'node:path'
import { type ArachnidDatabase, type Config, type Logger, configWarnings, createLogger, openDatabase, outboxDir } from '@arachnid/core'
import { Matcher } from '@arachnid/matcher'
import type { InDoubtPolicy, MailTransport, OutboxDelivery } from '@arachnid/notifier'

/** What every command shares: configuration, logger, database and the parts built on it. */
export interface App {
  readonly config: Config
  readonly logger: Logger
  readonly database: ArachnidDatabase
  readonly matcher: Matcher
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
  const matcher = new Matcher(database.db, {
    blockhashThreshold: config.blockhashThreshold, pdqThreshold: config.pdqThreshold, pdqMinQuality: config.pdqMinQuality,
  })
  let transport: MailTransport | undefined
  const getTransport = async () => {
    if (transport === undefined) {
      const { EmlDirectoryTransport, SmtpTransport } = await import('@arachnid/notifier')
      transport ??= config.smtpUrl ? new SmtpTransport(config.smtpUrl) : new EmlDirectoryTransport(outboxDir(config))
    }
    return transport
  }
  return {
    config, logger, database, matcher,
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
