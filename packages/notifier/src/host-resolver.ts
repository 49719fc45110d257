import dns from 'node:dns'
import net from 'node:net'
import { RetryableError, withDefaults } from '@arachnid/core'

/** The part of DNS the notifier uses: a host's A and AAAA addresses. */
export interface HostResolver {
  /**
   * The host's addresses (IPv4 first). An empty list means the name does not resolve (NXDOMAIN
   * or no address records); a failure to ask at all throws a RetryableError.
   */
  addresses(host: string): Promise<string[]>
}

export interface DnsHostResolverOptions {
  /** DNS servers ("127.0.0.1:5353", "192.0.2.53"). Empty: the system's servers. */
  readonly servers?: readonly string[]
  /** Per-query timeout in ms. Default 3000. */
  readonly timeoutMs?: number
  /** Tries per query. Default 2. */
  readonly tries?: number
}

/** The DNS client's own defaults (the servers come from ARACHNID_DNS_SERVERS through the CLI). */
export const DEFAULT_DNS_OPTIONS: Required<DnsHostResolverOptions> = { servers: [], timeoutMs: 3000, tries: 2 }

/** Answers that mean "this name has no address", as opposed to "could not ask". */
const NO_ADDRESS = new Set<string>([dns.NOTFOUND, dns.NODATA, 'ENOTFOUND', 'ENODATA'])

/**
 * A real DNS client (node's c-ares `dns.Resolver`) asking the configured servers, never the
 * system's getaddrinfo, so tests point it at a server on loopback.
 *
 * @example
 * const resolver = new DnsHostResolver({ servers: ['127.0.0.1:5353'] })
 * await resolver.addresses('files.example.test') // ['127.0.0.1']
 */
export class DnsHostResolver implements HostResolver {
  readonly #resolver: dns.promises.Resolver

  constructor(options: DnsHostResolverOptions = {}) {
    const o = withDefaults(DEFAULT_DNS_OPTIONS, options)
    this.#resolver = new dns.promises.Resolver({ timeout: o.timeoutMs, tries: o.tries })
    if (o.servers.length > 0) this.#resolver.setServers([...o.servers])
  }

  async addresses(host: string): Promise<string[]> {
    const name = host.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase()
    if (net.isIP(name)) return [name]
    const [v4, v6] = await Promise.all([this.#ask(() => this.#resolver.resolve4(name), name), this.#ask(() => this.#resolver.resolve6(name), name)])
    return [...v4, ...v6]
  }

  async #ask(query: () => Promise<string[]>, name: string): Promise<string[]> {
    try {
      return await query()
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? ''
      if (NO_ADDRESS.has(code)) return []
      throw new RetryableError('DNS', `DNS lookup of ${name} failed: ${code || (error as Error).message}`, { cause: error })
    }
  }
}

/** Parses the ARACHNID_DNS_SERVERS setting. */
export function parseDnsServers(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
}
