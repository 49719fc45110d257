import http from 'node:http'
import type { AddressInfo } from 'node:net'
import ipaddr from 'ipaddr.js'

/** One IP network the RDAP server knows, with its holder and abuse contact. */
export interface RdapNetworkSpec {
  readonly handle: string
  readonly cidr: string
  readonly name: string
  readonly organisation: string
  /** Omit for a network without an abuse entity. */
  readonly abuseEmail?: string
  /** Put the abuse entity inside the registrant entity (as some registries do) instead of at the top. */
  readonly nestAbuse?: boolean
  /** Give a rel="up" link to the covering network (default true); without it clients must search by prefix. */
  readonly upLink?: boolean
  /** Answer as older registry servers do: no `objectClassName` on the network or its entities, no cidr0. */
  readonly legacy?: boolean
}

/**
 * An RDAP server (RFC 9083) on loopback for IP networks, and the bootstrap registry (RFC 9224)
 * that points at it: GET /bootstrap/ipv4.json, /bootstrap/ipv6.json, /rdap/ip/<addr>[/<len>].
 * A query answers with the most specific network holding the address (or prefix), with entities
 * carrying jCard (RFC 7095) vCards, and a link with rel "up" to the covering network.
 */
export class RdapServer {
  readonly requests: string[] = []
  readonly #networks: RdapNetworkSpec[]
  #server: http.Server | undefined

  constructor(networks: readonly RdapNetworkSpec[]) {
    this.#networks = [...networks]
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.#server?.address() as AddressInfo | undefined)?.port ?? 0}`
  }

  /** The bootstrap folder URL (ARACHNID_RDAP_BOOTSTRAP). */
  get bootstrapUrl(): string {
    return `${this.baseUrl}/bootstrap/`
  }

  async start(): Promise<this> {
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://rdap.invalid')
      this.requests.push(url.pathname)
      const send = (status: number, body: unknown, type = 'application/rdap+json') => {
        res.writeHead(status, { 'content-type': type })
        res.end(JSON.stringify(body))
      }
      const boot = /^\/bootstrap\/(ipv4|ipv6)\.json$/.exec(url.pathname)
      if (boot) {
        const kind = boot[1]
        const prefixes = kind === 'ipv4' ? ['127.0.0.0/8', '192.0.2.0/24'] : ['::1/128', '2001:db8::/32']
        return send(200, { version: '1.0', publication: '2026-01-01T00:00:00Z', description: 'test bootstrap', services: [[prefixes, [`${this.baseUrl}/rdap/`]]] }, 'application/json')
      }
      const query = /^\/rdap\/ip\/([^/]+)(?:\/(\d+))?$/.exec(url.pathname)
      if (!query) return send(404, { errorCode: 404, title: 'not found' })
      let target: [ipaddr.IPv4 | ipaddr.IPv6, number]
      try {
        const addr = ipaddr.parse(decodeURIComponent(query[1]!))
        target = [addr, query[2] ? Number(query[2]) : addr.kind() === 'ipv4' ? 32 : 128]
      } catch {
        return send(400, { errorCode: 400, title: 'bad address' })
      }
      const network = this.#mostSpecific(target)
      if (!network) return send(404, { errorCode: 404, title: 'no network' })
      send(200, this.#render(network))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    this.#server = server
    return this
  }

  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }

  /** The smallest network that contains the whole target prefix. */
  #mostSpecific(target: [ipaddr.IPv4 | ipaddr.IPv6, number], excludeHandle?: string): RdapNetworkSpec | undefined {
    let best: { spec: RdapNetworkSpec; bits: number } | undefined
    for (const spec of this.#networks) {
      if (spec.handle === excludeHandle) continue
      const [addr, bits] = ipaddr.parseCIDR(spec.cidr)
      if (addr.kind() !== target[0].kind() || bits > target[1] || !target[0].match(addr as never, bits)) continue
      if (!best || bits > best.bits) best = { spec, bits }
    }
    return best?.spec
  }

  #render(spec: RdapNetworkSpec): Record<string, unknown> {
    const [addr, bits] = ipaddr.parseCIDR(spec.cidr)
    const v4 = addr.kind() === 'ipv4'
    const start = v4 ? ipaddr.IPv4.networkAddressFromCIDR(spec.cidr) : ipaddr.IPv6.networkAddressFromCIDR(spec.cidr)
    const end = v4 ? ipaddr.IPv4.broadcastAddressFromCIDR(spec.cidr) : ipaddr.IPv6.broadcastAddressFromCIDR(spec.cidr)
    const parent = bits > 0 ? this.#mostSpecific([addr, bits], spec.handle) : undefined
    const vcard = (fn: string, email?: string) => ['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'text', fn], ['kind', {}, 'text', 'org'], ...(email ? [['email', {}, 'text', email]] : [])]]
    const abuse = spec.abuseEmail ? { objectClassName: 'entity', handle: `${spec.handle}-ABUSE`, roles: ['abuse'], vcardArray: vcard(`${spec.organisation} abuse desk`, spec.abuseEmail) } : undefined
    const registrant = {
      objectClassName: 'entity', handle: `${spec.handle}-ORG`, roles: ['registrant'], vcardArray: vcard(spec.organisation),
      ...(abuse && spec.nestAbuse ? { entities: [abuse] } : {}),
    }
    const self = `${this.baseUrl}/rdap/ip/${start.toString()}/${bits}`
    if (spec.legacy) {
      const { objectClassName: _a, ...legacyAbuse } = abuse ?? {}
      const { objectClassName: _r, entities: nested, ...legacyRegistrant } = registrant as typeof registrant & { entities?: unknown[] }
      return {
        rdapConformance: ['rdap_level_0'],
        handle: spec.handle, name: spec.name, type: 'ASSIGNED', startAddress: start.toString(), endAddress: end.toString(), ipVersion: v4 ? 'v4' : 'v6',
        ...(parent ? { parentHandle: parent.handle } : {}),
        entities: [{ ...legacyRegistrant, ...(nested ? { entities: [legacyAbuse] } : {}) }, ...(abuse && !spec.nestAbuse ? [legacyAbuse] : [])],
        links: [{ value: self, rel: 'self', href: self, type: 'application/rdap+json' }],
      }
    }
    return {
      rdapConformance: ['rdap_level_0', 'cidr0'],
      objectClassName: 'ip network', handle: spec.handle, name: spec.name, type: 'ASSIGNED',
      startAddress: start.toString(), endAddress: end.toString(), ipVersion: v4 ? 'v4' : 'v6',
      cidr0_cidrs: [{ [v4 ? 'v4prefix' : 'v6prefix']: start.toString(), length: bits }],
      ...(parent ? { parentHandle: parent.handle } : {}),
      entities: [registrant, ...(abuse && !spec.nestAbuse ? [abuse] : [])],
      links: [
        { value: self, rel: 'self', href: self, type: 'application/rdap+json' },
        ...(parent && spec.upLink !== false ? [{ value: self, rel: 'up', href: `${this.baseUrl}/rdap/ip/${parent.cidr}`, type: 'application/rdap+json' }] : []),
      ],
    }
  }
}
