import type { Config, Database, Kysely, Logger } from '@arachnid/core'
import type { ImageHasher } from '@arachnid/hasher'
import { AckLinks } from './ack-links.js'
import { type AssignResult, assignProviders } from './assign-providers.js'
import type { NoticeTemplates, Reporter } from './compose-notice.js'
import { DnsHostResolver, type HostResolver, parseDnsServers } from './host-resolver.js'
import type { MailTransport } from './mail-transport.js'
import { type NoticeMailContext, loadNoticeTemplates } from './notice-mail.js'
import { type DeliveryResult, type InDoubtPolicy, OutboxDelivery, type OutboxDeliveryOptions } from './outbox-delivery.js'
import { ProviderResolver } from './provider-resolver.js'
import { RdapClient } from './rdap-client.js'
import { type RecheckDependencies, type RecheckOptions, type RecheckResult, Rechecker } from './recheck.js'

export interface NotifierServiceOptions {
  readonly db: Kysely<Database>
  readonly transport: MailTransport
  readonly reporter: Reporter
  readonly hasher: ImageHasher
  /** Hashes re-fetched videos for their rechecks (see RecheckDependencies.videoHasher). */
  readonly videoHasher?: RecheckDependencies['videoHasher']
  readonly hosts: HostResolver
  /** Without it only the local directory names providers, and there is no escalation. */
  readonly rdap?: RdapClient
  readonly ack?: AckLinks
  readonly templates?: NoticeTemplates
  readonly recheck?: RecheckOptions
  readonly delivery?: Omit<OutboxDeliveryOptions, 'from' | 'logger'>
  /** Seconds before an unassigned host is tried again (doubling). Default: DEFAULT_ASSIGN_OPTIONS'. */
  readonly retryBaseSeconds?: number
  /** Seconds an RDAP answer is cached. Default: ARACHNID_RDAP_CACHE_TTL's (7 days). */
  readonly rdapCacheSeconds?: number
  readonly logger?: Logger
}

export interface PassResult {
  readonly assign: AssignResult
  readonly recheck: RecheckResult
  readonly delivery: DeliveryResult
}

/**
 * The notifier's recurring work, one pass at a time: retry unassigned hosts, recheck due notices
 * (queueing reminders and escalations), deliver the outbox. Passes in one process never overlap
 * (PGlite has one connection, and a transaction must not see another pass's queries).
 *
 * @example
 * const notifier = await NotifierService.create({ db, transport, reporter, hasher, hosts: new DnsHostResolver() })
 * await notifier.runOnce()
 */
export class NotifierService {
  readonly mail: NoticeMailContext
  readonly resolver: ProviderResolver
  readonly #options: NotifierServiceOptions
  readonly #delivery: OutboxDelivery
  readonly #rechecker: Rechecker
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(options: NotifierServiceOptions, resolver: ProviderResolver) {
    this.#options = options
    this.resolver = resolver
    this.mail = { reporter: options.reporter, ack: options.ack, templates: options.templates }
    this.#delivery = new OutboxDelivery(options.db, options.transport, { ...options.delivery, from: options.reporter.from, logger: options.logger })
    this.#rechecker = new Rechecker({ db: options.db, hosts: options.hosts, hasher: options.hasher, videoHasher: options.videoHasher, mail: this.mail, providers: resolver }, { ...options.recheck, logger: options.logger })
  }

  static async create(options: NotifierServiceOptions): Promise<NotifierService> {
    const resolver = await ProviderResolver.create(options.db, { hosts: options.hosts, rdap: options.rdap, cacheSeconds: options.rdapCacheSeconds })
    return new NotifierService(options, resolver)
  }

  /** Unassigned hosts retried, then the outbox delivered. */
  deliver(): Promise<{ assign: AssignResult; delivery: DeliveryResult }> {
    return this.#exclusive(async () => ({ assign: await this.#assign(), delivery: await this.#delivery.deliverDue() }))
  }

  recheck(): Promise<RecheckResult> {
    return this.#exclusive(() => this.#rechecker.checkDue())
  }

  /** One full pass: assign, recheck, deliver (so reminders queued by the recheck go out now). */
  runOnce(): Promise<PassResult> {
    return this.#exclusive(async () => {
      const assign = await this.#assign()
      const recheck = await this.#rechecker.checkDue()
      const delivery = await this.#delivery.deliverDue()
      return { assign, recheck, delivery }
    })
  }

  close(): void {
    this.#rechecker.close()
  }

  #assign(): Promise<AssignResult> {
    return assignProviders(this.#options.db, this.resolver, this.mail, { retryBaseSeconds: this.#options.retryBaseSeconds, logger: this.#options.logger })
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => {})
    return run
  }
}

/** The service's options from the configuration (SETTINGS), for the CLI and the worker. */
export async function notifierOptionsFromConfig(config: Config, parts: { db: Kysely<Database>; transport: MailTransport; hasher: ImageHasher; videoHasher?: RecheckDependencies['videoHasher']; logger?: Logger; allowAddresses?: readonly string[] }): Promise<NotifierServiceOptions> {
  return {
    db: parts.db, transport: parts.transport, hasher: parts.hasher, videoHasher: parts.videoHasher, logger: parts.logger,
    reporter: { name: config.reporterName, from: config.noticeFrom },
    hosts: new DnsHostResolver({ servers: parseDnsServers(config.dnsServers) }),
    rdap: config.rdapBootstrapUrl ? new RdapClient({ bootstrapUrl: config.rdapBootstrapUrl, timeoutMs: config.requestTimeoutMs }) : undefined,
    ack: config.ackSecret && config.ackBaseUrl ? new AckLinks({ secret: config.ackSecret, baseUrl: config.ackBaseUrl, ttlHours: config.ackTtlHours }) : undefined,
    templates: config.noticeTemplateDir ? await loadNoticeTemplates(config.noticeTemplateDir) : undefined,
    rdapCacheSeconds: config.rdapCacheSeconds,
    retryBaseSeconds: Math.max(1, config.deliveryIntervalSeconds),
    delivery: { ratePerHour: config.providerRatePerHour, inDoubt: config.inDoubtPolicy as InDoubtPolicy, leaseMs: config.outboxLeaseSeconds * 1000 },
    recheck: {
      intervalSeconds: config.recheckIntervalSeconds, removalChecks: config.removalChecks, escalateAfter: config.escalateAfterReminders,
      maxBytes: config.maxMediaBytes, maxVideoBytes: config.maxVideoBytes, timeoutMs: config.requestTimeoutMs, maxRedirects: config.maxRedirects,
      allowPrivate: config.allowPrivate, allowAddresses: parts.allowAddresses ?? [],
      blockhashThreshold: config.blockhashThreshold, pdqThreshold: config.pdqThreshold, pdqMinQuality: config.pdqMinQuality,
    },
  }
}
