import { type Database, type Kysely, SETTINGS, describeError, sql, withDefaults } from '@arachnid/core'
import type { HostResolver } from './host-resolver.js'
import { type Provider, ProviderDirectory } from './provider-directory.js'
import type { RdapClient, RdapNetwork } from './rdap-client.js'

/** Who to notify for a host: the provider, how it was found, and the addresses that led there. */
export interface ResolvedProvider extends Provider {
  readonly source: 'directory' | 'rdap'
  readonly addresses: readonly string[]
  /** The RDAP network holding the address (for escalation upstream); none for directory hits. */
  readonly network?: RdapNetwork
}

/** What createNotices needs: a provider for a host and the address it was served from. */
export interface ProviderLookup {
  resolve(host: string, serverIp: string | null): Provider | undefined | Promise<Provider | undefined>
  /**
   * Whether "no provider" from this lookup means DNS and RDAP were asked too. A lookup that knows
   * only the local directory (ProviderDirectory, as crawls and analysts' confirmations use) says
   * false: a host it cannot name is left to the notifier's full lookup, due at once, instead of
   * being recorded as a failed lookup that waits for its retry. Default true.
   */
  readonly asksRdap?: boolean
}

export interface ProviderResolverOptions {
  readonly hosts: HostResolver
  /** Without an RDAP client only the local directory answers. */
  readonly rdap?: RdapClient
  /** Seconds an RDAP answer is kept. Default: ARACHNID_RDAP_CACHE_TTL's (7 days). */
  readonly cacheSeconds?: number
  /** Seconds a "no RDAP service covers this" answer is kept. Default 1 hour. */
  readonly negativeCacheSeconds?: number
}

export const DEFAULT_RESOLVER_OPTIONS: Required<Pick<ProviderResolverOptions, 'cacheSeconds' | 'negativeCacheSeconds'>> = { cacheSeconds: SETTINGS.rdapCacheSeconds.default, negativeCacheSeconds: 3600 }


/**
 * Provider resolution: the local directory first (a domain rule, then a CIDR rule for any of the
 * host's addresses), then DNS (A and AAAA) and RDAP for each address until one network names an
 * abuse contact. RDAP answers are cached in the database; RDAP providers are recorded in
 * `providers` with source 'rdap'.
 *
 * @example
 * const resolver = await ProviderResolver.create(db, { hosts: new DnsHostResolver(), rdap: new RdapClient({ bootstrapUrl }) })
 * const provider = await resolver.resolve('files.example.net', null)
 */
export class ProviderResolver implements ProviderLookup {
  readonly #db: Kysely<Database>
  readonly #options: ProviderResolverOptions & typeof DEFAULT_RESOLVER_OPTIONS
  #directory: ProviderDirectory

  private constructor(db: Kysely<Database>, directory: ProviderDirectory, options: ProviderResolverOptions) {
    this.#db = db
    this.#directory = directory
    this.#options = withDefaults(DEFAULT_RESOLVER_OPTIONS, options)
  }

  static async create(db: Kysely<Database>, options: ProviderResolverOptions): Promise<ProviderResolver> {
    return new ProviderResolver(db, await ProviderDirectory.load(db), options)
  }

  /** Only with an RDAP client does "no provider" mean RDAP was asked. */
  get asksRdap(): boolean {
    return this.#options.rdap !== undefined
  }

  /** Re-reads the directory (operators change it while a worker runs). */
  async reload(): Promise<void> {
    this.#directory = await ProviderDirectory.load(this.#db)
  }

  /** The provider, or undefined when nothing names one. Throws (retryably) when DNS or RDAP cannot be asked. */
  async resolve(host: string, serverIp: string | null): Promise<ResolvedProvider | undefined> {
    const byDomain = this.#directory.resolve(host, null)
    if (byDomain) return { ...byDomain, source: 'directory', addresses: [] }
    const addresses = [...new Set([...await this.#options.hosts.addresses(host), ...(serverIp ? [serverIp] : [])])]
    for (const ip of addresses) {
      const byAddress = this.#directory.resolve(host, ip)
      if (byAddress) return { ...byAddress, source: 'directory', addresses }
    }
    if (!this.#options.rdap) return undefined
    for (const ip of addresses) {
      const network = await this.network(ip)
      if (network?.abuseEmail) {
        const provider = await this.#recordProvider(network)
        return { ...provider, source: 'rdap', addresses, network }
      }
    }
    return undefined
  }

  /** The RDAP network of an address, from the cache while fresh. */
  async network(ip: string): Promise<RdapNetwork | null> {
    return this.#cached(`ip:${ip}`, () => this.#options.rdap!.network(ip))
  }

  /**
   * The upstream network's abuse contact for an address: the nearest covering network (above the
   * one holding the address) whose abuse email differs from the provider's.
   */
  async upstream(ip: string, providerEmail: string): Promise<Provider | undefined> {
    if (!this.#options.rdap) return undefined
    let network = await this.network(ip)
    for (let depth = 0; network && depth < 8; depth++) {
      const current: RdapNetwork = network
      const parent: RdapNetwork | null = await this.#cached(`parent:${current.source}`, () => this.#options.rdap!.parent(current))
      if (parent?.abuseEmail && parent.abuseEmail.toLowerCase() !== providerEmail.toLowerCase()) return this.#recordProvider(parent)
      network = parent
    }
    return undefined
  }

  async #cached(key: string, fetch: () => Promise<RdapNetwork | null>): Promise<RdapNetwork | null> {
    const row = await this.#db.selectFrom('rdap_cache').select('result').where('ip', '=', key).where('expires_at', '>', sql<Date>`now()`).executeTakeFirst()
    if (row) return (row.result as { network: RdapNetwork | null }).network
    const network = await fetch()
    const seconds = network ? this.#options.cacheSeconds : this.#options.negativeCacheSeconds
    await this.#db.insertInto('rdap_cache').values({ ip: key, result: JSON.stringify({ network }), expires_at: sql<Date>`now() + make_interval(secs => ${seconds})` as never })
      .onConflict((oc) => oc.column('ip').doUpdateSet({ result: JSON.stringify({ network }), fetched_at: sql<Date>`now()` as never, expires_at: sql<Date>`now() + make_interval(secs => ${seconds})` as never }))
      .execute()
    return network
  }

  async #recordProvider(network: RdapNetwork): Promise<Provider> {
    const name = network.organisation ?? network.name ?? network.handle
    const email = network.abuseEmail!
    const updated = await this.#db.insertInto('providers').values({ name, abuse_email: email, source: 'rdap', rdap_handle: network.handle })
      .onConflict((oc) => oc.column('name').doUpdateSet({ abuse_email: email, rdap_handle: network.handle }).where('providers.source', '=', 'rdap'))
      .returning(['id', 'name', 'abuse_email']).executeTakeFirst()
    // A directory provider of the same name keeps its own address: the operator set it.
    const row = updated ?? await this.#db.selectFrom('providers').select(['id', 'name', 'abuse_email']).where('name', '=', name).executeTakeFirstOrThrow()
    return { id: row.id, name: row.name, abuseEmail: row.abuse_email, matchedBy: `rdap ${network.handle}` }
  }
}

export interface UnassignedHost {
  readonly host: string
  readonly notices: number
  readonly attempts: number
  readonly lastError: string | null
  readonly nextAttemptAt: Date
}

/** What became of asking for a host's provider. */
export type LookupOutcome =
  | { readonly providerId: number; readonly addresses: readonly string[] }
  /** Asked (directory, DNS, RDAP) and nothing named a provider, or asking failed. */
  | { readonly error: unknown; readonly addresses?: readonly string[] }
  /** Only the local directory was asked (it names no provider): DNS and RDAP are still to be asked. */
  | { readonly notAsked: true }

/** Why a host asked of the directory only waits, as `providers list` shows it. */
export const NOT_ASKED_YET = 'not looked up yet: no directory rule names it; the notifier asks DNS and RDAP on its next pass'

/**
 * Records the outcome of resolving a host; unassigned hosts are retried with backoff. A host only
 * the directory was asked about is due at once (a host already known keeps its state: resolved
 * stays resolved, a recent failure keeps its backoff).
 */
export async function recordLookup(db: Kysely<Database>, host: string, outcome: LookupOutcome, retryBaseSeconds: number): Promise<void> {
  if ('notAsked' in outcome) {
    await recordNotAsked(db, [host])
    return
  }
  if ('providerId' in outcome) {
    await db.insertInto('provider_lookups').values({ host, status: 'resolved', attempts: 1, addresses: JSON.stringify(outcome.addresses), provider_id: outcome.providerId, last_error: null })
      .onConflict((oc) => oc.column('host').doUpdateSet({
        status: 'resolved', attempts: sql<number>`provider_lookups.attempts + 1`, addresses: JSON.stringify(outcome.addresses),
        provider_id: outcome.providerId, last_error: null, updated_at: sql<Date>`now()` as never,
      })).execute()
    return
  }
  const message = outcome.error === undefined ? 'no provider: no directory rule and no RDAP abuse contact' : describeError(outcome.error).message
  const addresses = JSON.stringify(outcome.addresses ?? [])
  await db.insertInto('provider_lookups').values({
    host, status: 'unassigned', attempts: 1, addresses, last_error: message.slice(0, 500),
    next_attempt_at: sql<Date>`now() + make_interval(secs => ${retryBaseSeconds})` as never,
  }).onConflict((oc) => oc.column('host').doUpdateSet({
    status: 'unassigned', attempts: sql<number>`provider_lookups.attempts + 1`, addresses, last_error: message.slice(0, 500), provider_id: null,
    // Backoff doubles per attempt, capped at 64 times the base.
    next_attempt_at: sql<Date>`now() + make_interval(secs => ${retryBaseSeconds} * power(2, least(provider_lookups.attempts, 6)))` as never,
    updated_at: sql<Date>`now()` as never,
  })).execute()
}

/**
 * Records hosts only the directory was asked about (recordLookup's `notAsked`), all in one
 * statement: each is due for the notifier's full lookup at once; a host already known keeps its
 * state. In a fixed order, so two workers recording overlapping hosts at once never wait on each
 * other in a cycle.
 */
export async function recordNotAsked(db: Kysely<Database>, hosts: readonly string[]): Promise<void> {
  if (hosts.length === 0) return
  await db.insertInto('provider_lookups')
    .values([...new Set(hosts)].sort().map((host) => ({ host, status: 'unassigned' as const, attempts: 0, addresses: '[]', last_error: NOT_ASKED_YET, next_attempt_at: sql<Date>`now()` as never })))
    .onConflict((oc) => oc.column('host').doNothing()).execute()
}

/** The unassigned list: hosts with open notices and no provider, for operators to fix. */
export async function listUnassigned(db: Kysely<Database>): Promise<UnassignedHost[]> {
  const rows = await db.selectFrom('provider_lookups as l')
    .innerJoin('notices as n', (join) => join.onRef('n.host', '=', 'l.host').on('n.provider_id', 'is', null).on('n.status', '=', 'open'))
    .where('l.status', '=', 'unassigned')
    .groupBy(['l.host', 'l.attempts', 'l.last_error', 'l.next_attempt_at'])
    .select(['l.host', 'l.attempts', 'l.last_error', 'l.next_attempt_at', sql<number>`count(n.id)::int`.as('notices')])
    .orderBy('l.host').execute()
  return rows.map((r) => ({ host: r.host, notices: Number(r.notices), attempts: r.attempts, lastError: r.last_error, nextAttemptAt: r.next_attempt_at }))
}
