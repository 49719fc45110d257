import { createHash, randomBytes } from 'node:crypto'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError, CriticalError, NonRetryableError, createLogger } from '@arachnid/core'
import { type KnownMatch, Matcher, type Probe, RemoteMatcher, importList } from '@arachnid/matcher'
import { type CliEnvironment, type CliProcess, dialectsUnderTest, openCliEnvironment } from '@arachnid/test'

const dialects = await dialectsUnderTest()

const hash256 = (seed: string) => createHash('sha256').update(seed).digest('hex')
const md5 = (seed: string) => createHash('md5').update(seed).digest('hex')
/** A copy of a 256-bit hex hash with the bits `from`, `from + 1`, ... `from + flips - 1` inverted. */
function flip(hex: string, flips: number, from = 0): string {
  const bytes = Buffer.from(hex, 'hex')
  for (let b = from; b < from + flips; b++) bytes[b >> 3]! ^= 0x80 >> (b & 7)
  return bytes.toString('hex')
}

/** A logger whose lines the test reads (pino's output as a parameter, no mocks). */
function logSink(): { logger: ReturnType<typeof createLogger>; lines: () => { level: number; msg: string; reason?: string }[] } {
  const written: string[] = []
  const logger = createLogger({ level: 'info', destination: { write: (line: string) => { written.push(line) } } })
  return { logger, lines: () => written.map((l) => JSON.parse(l)) }
}

/** A loopback port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('RemoteMatcher without a service', () => {
  it('refuses a URL that is not http(s) as a configuration error', () => {
    expect(() => new RemoteMatcher('ftp://u:p@127.0.0.1:8090')).toThrow(ConfigError)
    expect(() => new RemoteMatcher('not a url')).toThrow(/ARACHNID_MATCHER_URL "not a url": not a URL/)
  })

  it('keeps the password out of its URL', async () => {
    const matcher = new RemoteMatcher('http://worker:s3cret@127.0.0.1:8090/base/')
    expect(matcher.url).toBe('http://worker@127.0.0.1:8090/base')
    await matcher.close()
  })

  it('answers malformed probes (no match) and an empty call without calling anyone', async () => {
    const matcher = new RemoteMatcher(`http://u:p@127.0.0.1:${await closedPort()}`, { maxWaitMs: 0 })
    expect(await matcher.match([])).toEqual([])
    expect(await matcher.match([{ algorithm: 'md5', hash: 'xyz' }, { algorithm: 'pdq', hash: 'ab' }])).toEqual([[], []])
    await matcher.close()
  })

  it('waits for a service that refuses connections, warns once, and gives up only after maxWaitMs', async () => {
    const sink = logSink()
    const matcher = new RemoteMatcher(`http://u:p@127.0.0.1:${await closedPort()}`, { maxWaitMs: 1500, retryBaseMs: 50, retryMaxMs: 200, logger: sink.logger })
    const error = await matcher.match([{ algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' }]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(CriticalError)
    expect(error).toMatchObject({ code: 'MATCHER_UNAVAILABLE' })
    expect((error as Error).message).toMatch(/^the matching service at http:\/\/u@127\.0\.0\.1:\d+ did not answer for \d+ s \(ECONNREFUSED/)
    const warnings = sink.lines().filter((l) => l.level === 40)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.msg).toMatch(/^matching service unavailable/)
    await matcher.close()
  })

  it('stops waiting when closed: the pending match throws instead of answering nothing', async () => {
    const matcher = new RemoteMatcher(`http://u:p@127.0.0.1:${await closedPort()}`, { retryBaseMs: 50, retryMaxMs: 100 })
    const pending = matcher.match([{ algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' }]).catch((e: unknown) => e)
    await new Promise((resolve) => setTimeout(resolve, 300))
    await matcher.close()
    expect(await pending).toMatchObject({ code: 'MATCHER_CLOSED' })
  })
})

/** `arachnid api --port N` in the environment; resolves once it has loaded its index. */
async function startService(cli: CliEnvironment, port = 0, env: Record<string, string> = {}): Promise<{ process: CliProcess; port: number }> {
  const process = cli.start(['api', '--port', String(port)], { env })
  const [, listening] = await process.waitFor(/matching service: http:\/\/127\.0\.0\.1:(\d+)\//, { stream: 'stderr' })
  await process.waitFor(/index loaded/, { stream: 'stderr' })
  return { process, port: Number(listening) }
}

describe.each(dialects)('RemoteMatcher against `arachnid api` on %s', (dialect) => {
  let cli: CliEnvironment
  let service: { process: CliProcess; port: number }
  let url: string
  const pdqEntry = hash256('remote-pdq-1')
  const shared = hash256('remote-pdq-shared')
  const knownMd5 = md5('remote-known')
  /** Every kind of probe a worker sends, and malformed ones. */
  const probes: Probe[] = [
    { algorithm: 'md5', hash: knownMd5 },
    { algorithm: 'md5', hash: knownMd5.toUpperCase() },
    { algorithm: 'md5', hash: md5('unknown') },
    { algorithm: 'sha256', hash: hash256('remote-sha256') },
    { algorithm: 'sha1', hash: 'ab'.repeat(20) },
    { algorithm: 'pdq', hash: flip(pdqEntry, 12), quality: 100 },
    { algorithm: 'pdq', hash: flip(pdqEntry, 12), quality: 10 },
    { algorithm: 'pdq', hash: hash256('far away'), quality: 100 },
    // Rotated: only the fourth dihedral hash is near.
    { algorithm: 'pdq', hash: hash256('rotated'), quality: 100, dihedral: [hash256('d0'), hash256('d1'), hash256('d2'), flip(pdqEntry, 5, 100), hash256('d4')] },
    // A malformed dihedral hash is skipped without moving the others' indexes.
    { algorithm: 'pdq', hash: hash256('rotated-2'), quality: 100, dihedral: ['zz', hash256('e1'), flip(pdqEntry, 3, 200)] },
    // In two lists (one of them harmful-abusive-material): two matches, nearest first.
    { algorithm: 'pdq', hash: flip(shared, 2), quality: 100, dihedral: [shared] },
    { algorithm: 'blockhash', hash: flip(hash256('remote-bh'), 7) },
    { algorithm: 'md5', hash: 'xyz' },
    { algorithm: 'pdq', hash: 'ab' },
  ]
  let expected: KnownMatch[][]

  beforeAll(async () => {
    cli = await openCliEnvironment(dialect)
    // The lists, and the in-process matcher's answers, before the service holds the database (PGlite is one process's).
    expected = await cli.withDatabase(async ({ db }) => {
      await importList(db, {
        name: 'remote-csam',
        lines: ['algorithm,hash,category,external_id', `md5,${knownMd5},A1,ext-1`, `sha256,${hash256('remote-sha256')},B,`, `pdq,${pdqEntry},A1,ext-2`, `pdq,${shared},,`, `blockhash,${hash256('remote-bh')},,`],
      })
      await importList(db, { name: 'remote-harmful', classification: 'harmful-abusive-material', lines: ['algorithm,hash', `pdq,${flip(shared, 4, 50)}`] })
      return new Matcher(db, { refreshIntervalMs: 0 }).match(probes)
    })
    const user = await cli.json<{ user: string; password: string }>(['api', 'users', 'add', 'worker', '--json'])
    service = await startService(cli)
    url = `http://${user.user}:${encodeURIComponent(user.password)}@127.0.0.1:${service.port}`
  }, 120_000)
  afterAll(async () => {
    await service?.process.stop()
    await cli?.close()
  })

  it('answers as the in-process matcher does: exact, PDQ near with dihedral hashes, blockhash, quality, malformed', async () => {
    // The answers are worth comparing: exact, near, dihedral (with its index), two lists, nothing.
    expect(expected.map((found) => found.length)).toEqual([1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 2, 1, 0, 0])
    expect(expected[8]![0]).toMatchObject({ transform: 3, distance: 5 })
    expect(expected[9]![0]).toMatchObject({ transform: 2, distance: 3 })
    expect(expected[10]!.map((m) => m.classification)).toEqual(['csam', 'harmful-abusive-material'])
    const remote = new RemoteMatcher(url)
    try {
      expect(await remote.match(probes)).toEqual(expected)
      // Split into calls of two hashes at most (a probe with dihedral hashes alone): the same answer, in order.
      const small = new RemoteMatcher(url, { maxBatch: 2 })
      expect(await small.match(probes)).toEqual(expected)
      await small.close()
    } finally {
      await remote.close()
    }
  })

  it('splits a call the service refuses as too large (413) and answers every probe in order', async () => {
    const many: Probe[] = Array.from({ length: 10_500 }, () => ({ algorithm: 'md5', hash: randomBytes(16).toString('hex') }))
    many[10_499] = { algorithm: 'md5', hash: knownMd5 }
    const sink = logSink()
    const remote = new RemoteMatcher(url, { maxBatch: 20_000, logger: sink.logger })
    try {
      const found = await remote.match(many)
      expect(found).toHaveLength(10_500)
      expect(found.slice(0, 10_499).every((f) => f.length === 0)).toBe(true)
      expect(found[10_499]).toEqual(expected[0])
      expect(sink.lines().filter((l) => /too large \(413\)/.test(l.msg))).toHaveLength(1)
    } finally {
      await remote.close()
    }
  })

  it('refuses wrong credentials with a configuration error naming the setting, not retried', async () => {
    const remote = new RemoteMatcher(url.replace(/:[^:@/]+@/, ':wrong@'))
    try {
      const error = await remote.match([{ algorithm: 'md5', hash: knownMd5 }]).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as Error).message).toMatch(/^ARACHNID_MATCHER_URL: the matching service at http:\/\/worker@127\.0\.0\.1:\d+ refused the credentials \(401: .+\)$/)
    } finally {
      await remote.close()
    }
  })

  it('refuses to answer "no match" for a probe the service calls malformed although the client sent it', async () => {
    const remote = new RemoteMatcher(url)
    try {
      // The in-process matcher would match it (quality above the minimum); the service reads quality as 0-100 only.
      const error = await remote.match([{ algorithm: 'md5', hash: knownMd5 }, { algorithm: 'pdq', hash: pdqEntry, quality: 150 }]).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(NonRetryableError)
      expect(error).toMatchObject({ code: 'MATCHER_REFUSED_PROBE' })
      expect((error as Error).message).toMatch(/refused the probe pdq:[0-9a-f]{64} as malformed \(quality must be/)
    } finally {
      await remote.close()
    }
  })

  it('waits through the service being killed and started again, warning once, and then answers in full', async () => {
    const sink = logSink()
    const remote = new RemoteMatcher(url, { retryBaseMs: 100, retryMaxMs: 500, logger: sink.logger })
    try {
      expect(await remote.match(probes)).toEqual(expected)
      service.process.signal('SIGKILL')
      await service.process.exited
      const pending = remote.match(probes)
      let answered = false
      void pending.then(() => { answered = true }, () => { answered = true })
      // Down: the call waits (connection refused) instead of answering nothing.
      await new Promise((resolve) => setTimeout(resolve, 1000))
      expect(answered).toBe(false)
      service = await startService(cli, service.port)
      expect(await pending).toEqual(expected)
      const warnings = sink.lines().filter((l) => l.level === 40)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]!.reason).toMatch(/ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET|503/)
      expect(sink.lines().some((l) => l.msg === 'matching service answering again')).toBe(true)
    } finally {
      await remote.close()
    }
  }, 90_000)
})
