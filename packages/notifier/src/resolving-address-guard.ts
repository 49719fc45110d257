import type dns from 'node:dns'
import { AddressGuard, type AddressGuardOptions, BlockedAddressError } from '@arachnid/crawler'
import type { HostResolver } from './host-resolver.js'

/**
 * The crawler's address guard, but resolving names through the notifier's configured DNS
 * (never the system's getaddrinfo), so rechecks ask the same servers provider lookups do.
 */
export class ResolvingAddressGuard extends AddressGuard {
  readonly #hosts: HostResolver

  constructor(hosts: HostResolver, options: AddressGuardOptions = {}) {
    super(options)
    this.#hosts = hosts
  }

  override readonly lookup = (hostname: string, options: dns.LookupOptions, callback: (...args: any[]) => void): void => {
    this.#hosts.addresses(hostname).then((found) => {
      const wanted = options.family === 4 || options.family === 6 ? found.filter((a) => (a.includes(':') ? 6 : 4) === options.family) : found
      if (wanted.length === 0) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND', hostname }))
      for (const address of wanted) {
        const range = this.blockedRange(address)
        if (range !== undefined) return callback(new BlockedAddressError(hostname, address, range))
      }
      const entries = wanted.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
      if (options.all) return callback(null, entries)
      callback(null, entries[0]!.address, entries[0]!.family)
    }, (error: unknown) => callback(error))
  }
}
