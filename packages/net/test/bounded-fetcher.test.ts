import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AddressGuard, BoundedFetcher } from '@arachnid/net'

/** A loopback server with the misbehaviours the fetcher must bound. */
let server: http.Server
let base: string
beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    switch (url.pathname) {
      case '/ok': res.writeHead(200, { 'content-type': 'image/jpeg', server: 'test' }).end(Buffer.alloc(1000, 1)); break
      case '/redirect': res.writeHead(302, { location: '/ok' }).end(); break
      case '/to-private': res.writeHead(302, { location: 'http://10.1.2.3/secret' }).end(); break
      case '/to-metadata': res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end(); break
      case '/loop': res.writeHead(302, { location: '/loop' }).end(); break
      case '/declared-big': res.writeHead(200, { 'content-length': String(50_000_000) }).write('x'); break
      case '/undeclared-big': {
        res.writeHead(200)
        let sent = 0
        const push = () => { while (sent < 5_000_000) { sent += 65536; if (!res.write(Buffer.alloc(65536))) return res.once('drain', push) } res.end() }
        push(); break
      }
      case '/slow-drip': {
        res.writeHead(200, { 'content-type': 'image/png' })
        const timer = setInterval(() => res.write('.'), 50)
        res.on('close', () => clearInterval(timer)); break
      }
      case '/gone': res.writeHead(404).end('no'); break
      default: res.writeHead(500).end()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const limits = { maxBytes: 1_000_000, timeoutMs: 1500, maxRedirects: 3 }
const allowLoopback = () => new BoundedFetcher(new AddressGuard({ allow: ['127.0.0.1/32'] }))

describe('BoundedFetcher', () => {
  it('fetches a body with its evidence: final URL after redirects, status, server address', async () => {
    const fetcher = allowLoopback()
    const result = await fetcher.fetch(`${base}/redirect`, limits)
    fetcher.close()
    expect(result.url).toBe(`${base}/ok`)
    expect(result.redirectUrls.map(String)).toEqual([`${base}/ok`])
    expect(result.statusCode).toBe(200)
    expect(result.ip).toBe('127.0.0.1')
    expect(result.body.length).toBe(1000)
  })

  it('refuses loopback unless allowed, and private or metadata addresses reached by redirect', async () => {
    const strict = new BoundedFetcher(new AddressGuard())
    await expect(strict.fetch(`${base}/ok`, limits)).rejects.toMatchObject({ code: 'BLOCKED_ADDRESS' })
    strict.close()
    const fetcher = allowLoopback()
    await expect(fetcher.fetch(`${base}/to-private`, limits)).rejects.toMatchObject({ code: 'BLOCKED_ADDRESS' })
    await expect(fetcher.fetch(`${base}/to-metadata`, limits)).rejects.toMatchObject({ code: 'BLOCKED_ADDRESS' })
    fetcher.close()
  })

  it('refuses names that resolve to loopback (checked after DNS)', async () => {
    const strict = new BoundedFetcher(new AddressGuard())
    const port = new URL(base).port
    await expect(strict.fetch(`http://localhost:${port}/ok`, limits)).rejects.toMatchObject({ code: 'BLOCKED_ADDRESS' })
    strict.close()
  })

  it('bounds redirects, size (declared or not), time, and reports HTTP errors with their status', async () => {
    const fetcher = allowLoopback()
    await expect(fetcher.fetch(`${base}/loop`, limits)).rejects.toMatchObject({ code: 'TOO_MANY_REDIRECTS' })
    await expect(fetcher.fetch(`${base}/declared-big`, limits)).rejects.toMatchObject({ code: 'TOO_LARGE' })
    await expect(fetcher.fetch(`${base}/undeclared-big`, limits)).rejects.toMatchObject({ code: 'TOO_LARGE' })
    await expect(fetcher.fetch(`${base}/slow-drip`, limits)).rejects.toMatchObject({ code: 'TIMEOUT' })
    await expect(fetcher.fetch(`${base}/gone`, limits)).rejects.toMatchObject({ code: 'HTTP_STATUS', retryable: false, response: { statusCode: 404 } })
    await expect(fetcher.fetch('ftp://127.0.0.1/x', limits)).rejects.toMatchObject({ code: 'UNSUPPORTED_SCHEME' })
    fetcher.close()
  })
})

describe('AddressGuard with DNS answers', () => {
  it('refuses a name whose answer is private, and catches a rebinding answer at the next connection', async () => {
    const port = new URL(base).port
    const answers: Record<string, string[]> = { 'evil.test': ['10.1.2.3'], 'rebind.test': ['127.0.0.1', '169.254.169.254'] }
    const calls: Record<string, number> = {}
    const guard = new AddressGuard({
      allow: ['127.0.0.1/32'],
      // A resolver whose answers we choose: the system resolver is never asked for these names.
      resolve: async (hostname) => {
        const n = calls[hostname] = (calls[hostname] ?? 0) + 1
        const list = answers[hostname]
        if (!list) throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
        return [{ address: list[Math.min(n, list.length) - 1]!, family: 4 }]
      },
    })
    const fetcher = new BoundedFetcher(guard)
    await expect(fetcher.fetch(`http://evil.test:${port}/ok`, limits)).rejects.toMatchObject({ code: 'BLOCKED_ADDRESS' })
    // The first connection gets 127.0.0.1 (allowed). A new fetcher has its own agent, so its
    // connection resolves again and gets the second answer, the metadata address: refused.
    const first = await fetcher.fetch(`http://rebind.test:${port}/ok`, limits)
    expect(first.ip).toBe('127.0.0.1')
    fetcher.close()
    const again = new BoundedFetcher(guard)
    await expect(again.fetch(`http://rebind.test:${port}/ok`, limits)).rejects.toMatchObject({ code: 'BLOCKED_ADDRESS' })
    again.close()
    expect(calls['rebind.test']).toBe(2)
  })
  it('answers a name with no address as not found, for one address and for all (node connects with all:true), never a crash', async () => {
    const port = new URL(base).port
    // A resolver that answers, but with nothing: a name that exists without an A record, say.
    const guard = new AddressGuard({ allow: ['127.0.0.1/32'], resolve: async () => [] })
    const lookup = (all: boolean) => new Promise<unknown>((resolve) => guard.lookup('empty.test', { all }, (error: unknown) => resolve(error)))
    expect(await lookup(false)).toMatchObject({ code: 'ENOTFOUND' })
    expect(await lookup(true)).toMatchObject({ code: 'ENOTFOUND' })
    const fetcher = new BoundedFetcher(guard)
    await expect(fetcher.fetch(`http://empty.test:${port}/ok`, limits)).rejects.toMatchObject({ retryable: expect.any(Boolean) })
    fetcher.close()
  })
})
