import net from 'node:net'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashImage } from '@arachnid/hasher'
import { type KnownImage, generateImage, startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import { type CliEnvironment, type CliProcess, dialectsUnderTest, openCliEnvironment } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/** Sends a raw HTTP request and returns everything the server wrote until it closed (or `ms` passed). */
function rawExchange(port: number, head: string, body: (socket: net.Socket) => void, ms = 20_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let answer = ''
    const timer = setTimeout(() => socket.destroy(), ms)
    socket.setEncoding('utf8').on('data', (chunk: string) => { answer += chunk })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve(answer) })
    socket.write(head)
    body(socket)
  })
}

describe.each(dialects)('the matching service through pnpm arachnid on %s', (dialect) => {
  let cli: CliEnvironment
  let site: SyntheticSite
  let known: KnownImage
  let api: CliProcess
  let base = ''
  let auth = ''
  const probes: string[] = []
  const other: { bytes: Uint8Array; sha256: string; md5: string } = { bytes: new Uint8Array(), sha256: '', md5: '' }

  beforeAll(async () => {
    cli = await openCliEnvironment(dialect, { env: { ARACHNID_ALLOW_PRIVATE: 'true', ARACHNID_MAX_MEDIA_BYTES: String(1024 * 1024) } })
    site = await startSyntheticSite({ pages: 2, images: 8, knownFraction: 0.5 })
    for await (const image of site.knownImages()) { known = image; break }
    const h = await hashImage(known.bytes)
    other.bytes = await generateImage({ seed: 4242 })
    const oh = await hashImage(other.bytes)
    other.sha256 = oh.sha256
    other.md5 = oh.md5
    await writeFile(path.join(cli.home, 'csam.csv'), `algorithm,hash,category,external_id\nsha256,${h.sha256},,k1\npdq,${h.pdq},,k2\n`)
    await writeFile(path.join(cli.home, 'harm.csv'), `algorithm,hash,category,external_id\nmd5,${other.md5},,h1\n`)
    // On the embedded database the service holds it: everything it needs is written first.
    await cli.json(['lists', 'import', path.join(cli.home, 'csam.csv'), '--name', 'e2e-csam', '--json'])
    await cli.json(['lists', 'import', path.join(cli.home, 'harm.csv'), '--name', 'e2e-harm', '--json'])
    // A new list is csam; its classification changes later without a new import.
    const set = await cli.run(['lists', 'set', 'e2e-harm', '--classification', 'harmful-abusive-material'])
    expect(set.stdout).toBe('e2e-harm: classification harmful-abusive-material\n')
    const { user, password } = await cli.json(['api', 'users', 'add', 'e2e-partner', '--json'])
    expect(user).toBe('e2e-partner')
    auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
    probes.push(`sha256:${h.sha256}`, `pdq:${h.pdq}`, `md5:${other.md5}`, `md5:${'0'.repeat(32)}`, 'md5:nothex', 'sha1:12')
    api = cli.start(['api', '--port', '0'])
    const [, port] = await api.waitFor(/matching service: http:\/\/127\.0\.0\.1:(\d+)\//, { stream: 'stderr' })
    base = `http://127.0.0.1:${port}`
    for (let i = 0; i < 300; i++) {
      if ((await fetch(`${base}/healthz`).catch(() => undefined))?.status === 200) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })
  afterAll(async () => {
    await api?.stop()
    await site?.close()
    await cli?.close()
  })

  it('lists show their classification', async () => {
    // The lists were imported before the service started; on Postgres it may read them while the service runs.
    if (dialect === 'pglite') return
    const lists = await cli.json(['lists', 'list', '--json'])
    expect(lists.map((l: { name: string; classification: string }) => [l.name, l.classification])).toEqual([['e2e-csam', 'csam'], ['e2e-harm', 'harmful-abusive-material']])
  })

  it('answers /healthz, /openapi.json (every route) and /metrics', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200)
    const doc = await (await fetch(`${base}/openapi.json`)).json() as { paths: Record<string, unknown> }
    expect(Object.keys(doc.paths).sort()).toEqual(['/api/v1/match', '/v1/media/', '/v1/pdq/', '/v1/url/'])
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/arachnid_api_index_entries\{algorithm="pdq"\} 1/)
  })

  it('Shield endpoints over a real socket: /v1/pdq/, /v1/media/ with a JPEG, /v1/url/ on a loopback site', async () => {
    const h = await hashImage(known.bytes)
    const key = Buffer.from(h.pdq, 'hex').toString('base64')
    const pdq = await fetch(`${base}/v1/pdq/`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ hashes: [key] }) })
    expect(await pdq.json()).toEqual({ scanned_hashes: { [key]: { classification: 'csam', match_type: 'near', near_match_details: { timestamp: 0, sha1_base32: '', sha256_hex: '', classification: 'csam' } } } })
    const media = await fetch(`${base}/v1/media/`, { method: 'POST', headers: { authorization: auth, 'content-type': 'image/jpeg' }, body: Buffer.from(known.bytes) })
    expect(await media.json()).toMatchObject({ sha256_hex: h.sha256.toUpperCase(), size_bytes: known.bytes.length, classification: 'csam', match_type: 'exact', is_match: true })
    const harmful = await fetch(`${base}/v1/media/`, { method: 'POST', headers: { authorization: auth, 'content-type': 'image/jpeg' }, body: Buffer.from(other.bytes) })
    expect(await harmful.json()).toMatchObject({ classification: 'harmful-abusive-material', match_type: 'exact' })
    const url = await fetch(`${base}/v1/url/`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ url: known.url }) })
    expect(await url.json()).toMatchObject({ sha256_hex: h.sha256.toUpperCase(), classification: 'csam', match_type: 'exact' })
  })

  it('a body sent a byte a second gets 408 while another client is served; a 100 MB body gets 413 before it is read', async () => {
    const slow = rawExchange(Number(new URL(base).port), `POST /v1/pdq/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n{`, (socket) => {
      const drip = setInterval(() => socket.write(' ', () => {}), 1000)
      socket.on('close', () => clearInterval(drip))
    })
    const served = await fetch(`${base}/api/v1/match`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ probes: [probes[0]] }) })
    expect(served.status).toBe(200)
    const huge = 100 * 1024 * 1024
    const declared = await rawExchange(Number(new URL(base).port), `POST /v1/media/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: image/jpeg\r\nContent-Length: ${huge}\r\n\r\n`, () => {
      // No byte of the body is sent: the answer must come from the declared length alone (and bytes
      // arriving after the service closed would make it reset the connection, losing the answer).
    })
    expect(declared).toMatch(/^HTTP\/1\.1 413 /)
    expect(declared).toContain('{"detail":"request body too large: at most 1048576 bytes on /v1/media/"}')
    // Chunked, without a length: cut off at the limit, not read to its end.
    let sent = 0
    const chunked = await rawExchange(Number(new URL(base).port), `POST /v1/media/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n`, (socket) => {
      const chunk = Buffer.alloc(256 * 1024)
      const pump = () => {
        while (sent < huge && !socket.destroyed) {
          sent += chunk.length
          socket.write(`${chunk.length.toString(16)}\r\n`)
          socket.write(chunk)
          if (!socket.write('\r\n')) return void socket.once('drain', pump)
        }
      }
      socket.on('error', () => {})
      pump()
    })
    // The service answers 413 and closes while the client is still writing; the client's kernel may
    // then get a reset before the application reads that answer, and drop it (TCP gives no way
    // round that short of reading the rest). What must hold: the answer, when it is read, is the
    // 413, and the service stopped reading long before the 100 MB were sent.
    if (chunked !== '') expect(chunked).toMatch(/^HTTP\/1\.1 413 /)
    expect(sent).toBeLessThan(huge / 4)
    const answer = await slow
    expect(answer).toMatch(/^HTTP\/1\.1 408 /)
    expect(answer).toContain('"detail":"the body did not arrive within')
  })

  it('match --json prints per input line exactly what the batch endpoint answers per probe', async () => {
    const response = await fetch(`${base}/api/v1/match`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ probes }) })
    const { results } = await response.json() as { results: unknown[] }
    expect(results).toHaveLength(probes.length)
    // The embedded database is the service's while it runs.
    const stopped = await api.stop()
    expect(stopped.errors).not.toMatch(/Error|internal error/)
    const matched = await cli.run(['match', '--json'], { input: `${probes.join('\n')}\n` })
    expect(matched.code).toBe(0)
    expect(matched.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual(results)
  })

  it('api users list shows what was used today; a disabled user is refused', async () => {
    const disabled = await cli.run(['api', 'users', 'disable', 'e2e-partner'])
    expect(disabled.stdout).toBe('disabled e2e-partner\n')
    const users = (await cli.run(['api', 'users', 'list', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(users).toEqual([{ name: 'e2e-partner', rate: null, quota: null, usedToday: expect.any(Number), disabled: true, createdAt: expect.any(String) }])
    expect(users[0].usedToday).toBeGreaterThanOrEqual(probes.length + 5)
  })

  it('serve --api runs the review server and the matching service in one process', async () => {
    const both = cli.start(['serve', '--api', '--port', '0', '--api-port', '0'])
    try {
      const [, port] = await both.waitFor(/matching service: http:\/\/127\.0\.0\.1:(\d+)\//, { stream: 'stderr' })
      const [, reviewPort] = await both.waitFor(/review server: http:\/\/127\.0\.0\.1:(\d+)\//, { stream: 'stderr' })
      let health = 0
      for (let i = 0; i < 300 && health !== 200; i++) {
        health = (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status ?? 0
        if (health !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(health).toBe(200)
      expect((await fetch(`http://127.0.0.1:${reviewPort}/healthz`)).status).toBe(200)
      const refused = await fetch(`http://127.0.0.1:${port}/api/v1/match`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ probes: [probes[1]] }) })
      expect(refused.status).toBe(401)
      expect(await refused.json()).toHaveProperty('detail')
    } finally {
      await both.stop()
    }
  })
})
