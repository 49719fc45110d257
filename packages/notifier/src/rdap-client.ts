import ipaddr from 'ipaddr.js'
import { NonRetryableError, RetryableError, withDefaults } from '@arachnid/core'

/** What the notifier keeps of an RDAP IP network answer (RFC 9083 section 5.4). */
export interface RdapNetwork {
  readonly handle: string
  readonly name: string | null
  readonly startAddress: string | null
  readonly endAddress: string | null
  /** The network as a CIDR when it is one (cidr0 extension or start/end addresses). */
  readonly cidr: string | null
  /** The organisation holding the network (registrant's vCard fn), when named. */
  readonly organisation: string | null
  /** Email of the entity with role "abuse" (searched through nested entities too). */
  readonly abuseEmail: string | null
  /** The covering network's RDAP URL, from a link with rel "up", when the server gives one. */
  readonly upUrl: string | null
  /** The URL this answer came from. */
  readonly source: string
}

export interface RdapClientOptions {
  /** Folder of the bootstrap registry (RFC 9224) holding ipv4.json and ipv6.json. */
  readonly bootstrapUrl: string
  /** Per-request timeout in ms. Default 10000. */
  readonly timeoutMs?: number
  /** Largest RDAP answer read, in bytes. Default 1 MiB. */
  readonly maxBytes?: number
  /** How long a fetched bootstrap file is reused, in ms. Default 24 h. */
  readonly bootstrapTtlMs?: number
}

/** The RDAP client's own defaults (no setting: the CLI passes ARACHNID_REQUEST_TIMEOUT_MS as the timeout). */
export const DEFAULT_RDAP_OPTIONS: Required<Omit<RdapClientOptions, 'bootstrapUrl'>> = { timeoutMs: 10_000, maxBytes: 1024 * 1024, bootstrapTtlMs: 86_400_000 }

interface BootstrapEntry { net: [ipaddr.IPv4 | ipaddr.IPv6, number]; urls: string[] }

type Json = Record<string, unknown>

/**
 * An RDAP client for IP networks: finds the authoritative server through the bootstrap registry,
 * asks it about an address, and extracts the abuse contact from the entities' vCards.
 *
 * @example
 * const rdap = new RdapClient({ bootstrapUrl: 'https://data.iana.org/rdap/' })
 * const network = await rdap.network('192.0.2.7') // { abuseEmail: 'abuse@...', upUrl, ... }
 */
export class RdapClient {
  readonly #options: RdapClientOptions & typeof DEFAULT_RDAP_OPTIONS
  readonly #bootstrap = new Map<'ipv4' | 'ipv6', { at: number; entries: Promise<BootstrapEntry[]> }>()

  constructor(options: RdapClientOptions) {
    this.#options = withDefaults(DEFAULT_RDAP_OPTIONS, options)
  }

  /** The most specific network holding the address; null when no RDAP service covers it. */
  async network(ip: string): Promise<RdapNetwork | null> {
    const base = await this.serverFor(ip)
    if (base === undefined) return null
    return this.fetchNetwork(new URL(`ip/${ipaddr.parse(ip).toString()}`, base).toString())
  }

  /**
   * The network covering `network`: the server's "up" link, or else the smallest network that
   * holds the next shorter prefix. null at the top of the tree.
   */
  async parent(network: RdapNetwork): Promise<RdapNetwork | null> {
    if (network.upUrl) return this.fetchNetwork(network.upUrl)
    if (!network.cidr) return null
    const [addr, bits] = ipaddr.parseCIDR(network.cidr)
    if (bits === 0) return null
    const shorter = addr.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${bits - 1}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${bits - 1}`)
    const base = await this.serverFor(shorter.toString())
    if (base === undefined) return null
    const parent = await this.fetchNetwork(new URL(`ip/${shorter.toString()}/${bits - 1}`, base).toString())
    return parent && parent.handle !== network.handle ? parent : null
  }

  /** The RDAP base URL for an address from the bootstrap registry, longest prefix first. */
  async serverFor(ip: string): Promise<string | undefined> {
    let addr = ipaddr.parse(ip)
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address()
    const entries = await this.#entries(addr.kind())
    let best: BootstrapEntry | undefined
    for (const entry of entries) {
      if (entry.net[0].kind() === addr.kind() && addr.match(entry.net as never) && (!best || entry.net[1] > best.net[1])) best = entry
    }
    if (!best) return undefined
    const url = best.urls.find((u) => u.startsWith('https:')) ?? best.urls[0]
    return url === undefined ? undefined : url.endsWith('/') ? url : `${url}/`
  }

  async fetchNetwork(url: string): Promise<RdapNetwork | null> {
    const body = await this.#getJson(url, true)
    return body === null ? null : parseNetwork(body, url)
  }

  #entries(kind: 'ipv4' | 'ipv6'): Promise<BootstrapEntry[]> {
    const cached = this.#bootstrap.get(kind)
    if (cached && Date.now() - cached.at < this.#options.bootstrapTtlMs) return cached.entries
    const entries = this.#getJson(new URL(`${kind}.json`, this.#options.bootstrapUrl.endsWith('/') ? this.#options.bootstrapUrl : `${this.#options.bootstrapUrl}/`).toString(), false)
      .then((body) => parseBootstrap(body ?? {}))
    // A failed fetch is not kept: the next lookup asks again.
    entries.catch(() => this.#bootstrap.delete(kind))
    this.#bootstrap.set(kind, { at: Date.now(), entries })
    return entries
  }

  async #getJson(url: string, notFoundIsNull: boolean): Promise<Json | null> {
    let response: Response
    try {
      response = await fetch(url, { headers: { accept: 'application/rdap+json, application/json' }, signal: AbortSignal.timeout(this.#options.timeoutMs), redirect: 'follow' })
    } catch (error) {
      throw new RetryableError('RDAP', `RDAP request to ${url} failed: ${(error as Error).message}`, { cause: error })
    }
    if (response.status === 404 && notFoundIsNull) {
      await response.body?.cancel()
      return null
    }
    if (response.status === 429 || response.status >= 500) {
      await response.body?.cancel()
      throw new RetryableError('RDAP', `RDAP ${url}: HTTP ${response.status}`)
    }
    if (!response.ok) {
      await response.body?.cancel()
      throw new NonRetryableError('RDAP', `RDAP ${url}: HTTP ${response.status}`)
    }
    const declared = Number(response.headers.get('content-length'))
    if (Number.isFinite(declared) && declared > this.#options.maxBytes) {
      await response.body?.cancel()
      throw new NonRetryableError('RDAP', `RDAP ${url}: answer larger than ${this.#options.maxBytes} bytes`)
    }
    const text = await response.text()
    if (text.length > this.#options.maxBytes) throw new NonRetryableError('RDAP', `RDAP ${url}: answer larger than ${this.#options.maxBytes} bytes`)
    try {
      return JSON.parse(text) as Json
    } catch (error) {
      throw new NonRetryableError('RDAP', `RDAP ${url}: not JSON`, { cause: error })
    }
  }
}

/** The services of an RFC 9224 bootstrap file: [[prefixes], [urls]] pairs. */
export function parseBootstrap(body: Json): BootstrapEntry[] {
  const out: BootstrapEntry[] = []
  const services = Array.isArray(body.services) ? body.services : []
  for (const service of services) {
    if (!Array.isArray(service) || !Array.isArray(service[0]) || !Array.isArray(service[1])) continue
    const urls = (service[1] as unknown[]).filter((u): u is string => typeof u === 'string')
    for (const prefix of service[0] as unknown[]) {
      if (typeof prefix !== 'string') continue
      try {
        out.push({ net: ipaddr.parseCIDR(prefix), urls })
      } catch {
        // A malformed entry is skipped; the rest of the registry still serves.
      }
    }
  }
  return out
}

function vcardProperty(entity: Json, name: string): string | null {
  const vcard = entity.vcardArray
  if (!Array.isArray(vcard) || !Array.isArray(vcard[1])) return null
  for (const property of vcard[1] as unknown[]) {
    if (Array.isArray(property) && property[0] === name && typeof property[3] === 'string') return property[3]
  }
  return null
}

function entities(node: Json): Json[] {
  return Array.isArray(node.entities) ? (node.entities as unknown[]).filter((e): e is Json => typeof e === 'object' && e !== null) : []
}

function hasRole(entity: Json, role: string): boolean {
  return Array.isArray(entity.roles) && (entity.roles as unknown[]).includes(role)
}

/** Breadth-first through nested entities: the nearest entity with the role (and the property). */
function findEntity(root: Json, role: string, property: string): string | null {
  const queue = entities(root)
  for (let i = 0; i < queue.length && i < 200; i++) {
    const entity = queue[i]!
    if (hasRole(entity, role)) {
      const value = vcardProperty(entity, property)
      if (value) return value
    }
    queue.push(...entities(entity))
  }
  return null
}

function cidrOf(body: Json): string | null {
  const cidrs = body.cidr0_cidrs
  if (Array.isArray(cidrs) && cidrs.length === 1) {
    const c = cidrs[0] as Json
    const prefix = (c.v4prefix ?? c.v6prefix) as string | undefined
    if (typeof prefix === 'string' && typeof c.length === 'number') return `${prefix}/${c.length}`
  }
  if (typeof body.startAddress === 'string' && typeof body.endAddress === 'string') {
    try {
      const start = ipaddr.parse(body.startAddress)
      const end = ipaddr.parse(body.endAddress)
      const bytes = start.toByteArray().length * 8
      for (let bits = 0; bits <= bytes; bits++) {
        const cidr = `${start.toString()}/${bits}`
        const network = start.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr)
        const broadcast = start.kind() === 'ipv4' ? ipaddr.IPv4.broadcastAddressFromCIDR(cidr) : ipaddr.IPv6.broadcastAddressFromCIDR(cidr)
        if (network.toString() === start.toString() && broadcast.toString() === end.toString()) return cidr
      }
    } catch {
      return null
    }
  }
  return null
}

/**
 * Whether an answer is an IP network: its objectClassName says so, or (older registry servers,
 * written before RFC 9083 made objectClassName required) it has none but holds a network's
 * start and end addresses.
 */
function isNetwork(body: Json): boolean {
  if (body.objectClassName !== undefined) return body.objectClassName === 'ip network'
  return typeof body.startAddress === 'string' && typeof body.endAddress === 'string'
}

/** Reads an RDAP "ip network" object. */
export function parseNetwork(body: Json, source: string): RdapNetwork {
  if (!isNetwork(body)) throw new NonRetryableError('RDAP', `RDAP ${source}: not an ip network object`)
  const links = Array.isArray(body.links) ? (body.links as Json[]) : []
  const up = links.find((l) => l.rel === 'up' && typeof l.href === 'string')
  return {
    handle: String(body.handle ?? source),
    name: typeof body.name === 'string' ? body.name : null,
    startAddress: typeof body.startAddress === 'string' ? body.startAddress : null,
    endAddress: typeof body.endAddress === 'string' ? body.endAddress : null,
    cidr: cidrOf(body),
    organisation: findEntity(body, 'registrant', 'fn'),
    abuseEmail: findEntity(body, 'abuse', 'email'),
    upUrl: up ? new URL(up.href as string, source).toString() : null,
    source,
  }
}
