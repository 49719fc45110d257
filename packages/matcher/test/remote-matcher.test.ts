import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { ConfigError, CriticalError, createLogger } from '@arachnid/core'
import { RemoteMatcher } from '@arachnid/matcher'

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
