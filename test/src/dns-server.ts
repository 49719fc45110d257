import dgram from 'node:dgram'
import type { AddressInfo } from 'node:net'
import dnsPacket from 'dns-packet'

/**
 * A real DNS server on loopback (UDP) answering A and AAAA queries from a table the test edits.
 * A name not in the table gets NXDOMAIN, so "the name no longer resolves" is one `remove()` away.
 */
export class DnsServer {
  readonly #records = new Map<string, string[]>()
  readonly queries: { name: string; type: string }[] = []
  #socket: dgram.Socket | undefined

  /** The server as `ip:port`, for `dns.Resolver.setServers` or ARACHNID_DNS_SERVERS. */
  get address(): string {
    const info = this.#socket?.address() as AddressInfo | undefined
    return `127.0.0.1:${info?.port ?? 0}`
  }

  /** Sets the addresses of a name (IPv4 and IPv6 mixed). */
  set(name: string, addresses: readonly string[]): this {
    this.#records.set(name.toLowerCase().replace(/\.$/, ''), [...addresses])
    return this
  }

  remove(name: string): this {
    this.#records.delete(name.toLowerCase().replace(/\.$/, ''))
    return this
  }

  async start(): Promise<this> {
    const socket = dgram.createSocket('udp4')
    socket.on('message', (message, remote) => {
      let query: dnsPacket.Packet
      try {
        query = dnsPacket.decode(message)
      } catch {
        return
      }
      const question = query.questions?.[0]
      if (!question) return
      const name = question.name.toLowerCase().replace(/\.$/, '')
      this.queries.push({ name, type: question.type })
      const addresses = this.#records.get(name)
      const wanted = (addresses ?? []).filter((a) => (question.type === 'AAAA' ? a.includes(':') : question.type === 'A' ? !a.includes(':') : false))
      const response = dnsPacket.encode({
        id: query.id, type: 'response',
        flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (addresses === undefined ? 3 : 0),
        questions: [question],
        answers: wanted.map((data) => ({ type: question.type as 'A' | 'AAAA', class: 'IN', name: question.name, ttl: 5, data })),
      })
      socket.send(response, remote.port, remote.address)
    })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(0, '127.0.0.1', () => resolve())
    })
    this.#socket = socket
    return this
  }

  async stop(): Promise<void> {
    const socket = this.#socket
    this.#socket = undefined
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()))
  }
}
