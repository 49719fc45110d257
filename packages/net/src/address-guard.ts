import dns from 'node:dns'
import net from 'node:net'
import ipaddr from 'ipaddr.js'
import { NonRetryableError, parseAddressRange } from '@arachnid/core'

/** Address ranges refused unless allowed: nothing on them is a public web host. */
export const BLOCKED_RANGES = [
  'unspecified', 'broadcast', 'multicast', 'linkLocal', 'loopback', 'carrierGradeNat', 'private', 'reserved',
  'uniqueLocal', 'ipv4Mapped', 'rfc6145', 'rfc6052', '6to4', 'teredo', 'benchmarking', 'amt', 'as112', 'deprecated', 'orchid2',
] as const

/**
 * A host whose address is in a blocked range (private, loopback, link-local...) and not allowed:
 * the request is never sent, and the URL is recorded with BLOCKED_ADDRESS and not retried (a
 * redirect to such an address ends the fetch the same way).
 */
export class BlockedAddressError extends NonRetryableError {
  constructor(host: string, address: string, range: string) {
    super('BLOCKED_ADDRESS', `${host} resolves to ${address} (${range}), which is not crawled unless allowed`)
  }
}

export interface AddressGuardOptions {
  /** Allow every private, loopback and link-local address. Default false. */
  readonly allowPrivate?: boolean
  /** Addresses or CIDRs allowed even though they are in a blocked range (e.g. '127.0.0.1/32'). */
  readonly allow?: readonly string[]
  /**
   * Name resolution (default: the system's `dns.lookup`). Every connection resolves through it
   * and is checked on the answer it actually uses, so a name that answers differently the second
   * time (DNS rebinding) is caught at the second connection.
   */
  readonly resolve?: (hostname: string) => Promise<readonly { address: string; family: number }[]>
}

const systemResolve = (hostname: string) => new Promise<dns.LookupAddress[]>((resolve, reject) => {
  dns.lookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)))
})

/**
 * Decides whether an IP may be contacted, and supplies a `lookup` for node's http that applies the
 * check to the address actually connected to (so a DNS answer that changes between check and
 * connect cannot slip through).
 */
export class AddressGuard {
  readonly #allowPrivate: boolean
  readonly #allow: [ipaddr.IPv4 | ipaddr.IPv6, number][]
  readonly #resolve: NonNullable<AddressGuardOptions['resolve']>

  constructor(options: AddressGuardOptions = {}) {
    this.#allowPrivate = options.allowPrivate ?? false
    this.#resolve = options.resolve ?? systemResolve
    // A malformed entry is a ConfigError naming it, never a raw parser error.
    this.#allow = (options.allow ?? []).map((entry) => parseAddressRange(entry, 'allowed address') as [ipaddr.IPv4 | ipaddr.IPv6, number])
  }

  /** The blocked range an address is in, or undefined when it may be contacted. */
  blockedRange(address: string): string | undefined {
    if (this.#allowPrivate) return undefined
    let ip = ipaddr.parse(address)
    if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address()
    const range = ip.range()
    if (range === 'unicast') return undefined
    for (const [net, bits] of this.#allow) {
      if (net.kind() === ip.kind() && ip.match(net as never, bits)) return undefined
    }
    return range
  }

  /** Throws BlockedAddressError when a literal-IP host is refused. */
  checkHost(hostname: string): void {
    const host = hostname.replace(/^\[|\]$/g, '')
    if (net.isIP(host)) {
      const range = this.blockedRange(host)
      if (range !== undefined) throw new BlockedAddressError(host, host, range)
    }
  }

  /** A `dns.lookup` replacement for http.request's `lookup` option. */
  readonly lookup = (hostname: string, options: dns.LookupOptions, callback: (...args: any[]) => void): void => {
    this.#resolve(hostname).then((found) => {
      const addresses = found.filter((a) => !options.family || a.family === options.family)
      for (const entry of addresses) {
        const range = this.blockedRange(entry.address)
        if (range !== undefined) return callback(new BlockedAddressError(hostname, entry.address, range))
      }
      // An empty answer is ENOTFOUND in both forms: node's connect reads addresses[0] of an `all` answer.
      const first = addresses[0]
      if (first === undefined) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND', hostname }))
      if (options.all) return callback(null, addresses)
      callback(null, first.address, first.family)
    }, (error: unknown) => callback(error))
  }
}

/**
 * A `resolve` for AddressGuard that asks a resolver of its own (configured DNS servers, say)
 * instead of the system's getaddrinfo, so every check uses the same answers as that resolver.
 *
 * @example
 * const guard = new AddressGuard({ resolve: resolveThrough((host) => hosts.addresses(host)) })
 */
export function resolveThrough(addresses: (hostname: string) => Promise<readonly string[]>): NonNullable<AddressGuardOptions['resolve']> {
  return async (hostname) => (await addresses(hostname)).map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }))
}
