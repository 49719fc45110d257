import net from 'node:net'
import ipaddr from 'ipaddr.js'
import { ConfigError } from './errors.js'

/** An address or a CIDR range, parsed: the network address and its prefix length. */
export type AddressRange = readonly [ipaddr.IPv4 | ipaddr.IPv6, number]

/**
 * Parses "203.0.113.7", "2001:db8::1", "10.0.0.0/8" or "2001:db8::/32"; anything else is a
 * ConfigError naming where the value came from (a flag or a variable).
 *
 * @example
 * const [network, bits] = parseAddressRange('127.0.0.1/32', '--allow')
 */
export function parseAddressRange(entry: string, where: string): AddressRange {
  const value = entry.trim()
  try {
    if (value.includes('/')) {
      const [address, bits] = ipaddr.parseCIDR(value)
      if (!strictAddress(value.slice(0, value.indexOf('/')))) throw new Error('not a dotted address')
      return [address, bits]
    }
    if (!strictAddress(value)) throw new Error('not an address')
    const address = ipaddr.parse(value)
    return [address, address.kind() === 'ipv4' ? 32 : 128]
  } catch (error) {
    throw new ConfigError(`${where} ${JSON.stringify(entry)}: expected an IP address or a CIDR range (e.g. 127.0.0.1/32 or 2001:db8::/32)`, { cause: error })
  }
}

/** ipaddr.js also takes shorthand like "127.1" or "0x7f.1"; an operator means a plain dotted or IPv6 address. */
function strictAddress(value: string): boolean {
  return net.isIP(value) !== 0
}

/** A comma-separated list of addresses or CIDRs (empty entries ignored). */
export function parseAddressRanges(list: string, where: string): AddressRange[] {
  return list.split(',').map((s) => s.trim()).filter(Boolean).map((s) => parseAddressRange(s, where))
}

/** A URL with one of the given protocols (e.g. ['postgres:', 'postgresql:']), or a ConfigError. */
export function checkUrl(value: string, protocols: readonly string[], where: string, example: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch (error) {
    throw new ConfigError(`${where}=${value}: not a URL; expected e.g. ${example}`, { cause: error })
  }
  // A password in the value is not repeated in the message.
  const shown = url.password ? value.replace(`:${url.password}@`, ':***@') : value
  if (!protocols.includes(url.protocol)) throw new ConfigError(`${where}=${shown}: expected a ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')} URL, e.g. ${example}`)
  if (url.hostname === '' && !url.searchParams.has('host')) throw new ConfigError(`${where}=${shown}: the URL names no host; expected e.g. ${example}`)
  return url
}

/** "host" or "host:port" / "[v6]:port" of a DNS server, checked. */
export function checkServerAddress(value: string, where: string): string {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(value)
  const [host, port] = v6 ? [v6[1]!, v6[2]] : value.includes(':') && net.isIPv6(value) ? [value, undefined] : value.split(':') as [string, string | undefined]
  if (net.isIP(host) === 0) throw new ConfigError(`${where} ${JSON.stringify(value)}: expected an IP address, optionally with :port`)
  if (port !== undefined && (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535)) throw new ConfigError(`${where} ${JSON.stringify(value)}: the port must be 1..65535`)
  return value
}
