import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '@arachnid/core'
import { CrawlJob, crawleeLog } from '@arachnid/crawler'
import { Hasher } from '@arachnid/hasher'
import { Matcher } from '@arachnid/matcher'
import { openTestDatabase, type TestDatabase } from '@arachnid/test'

/** A pino logger whose output the test reads, line by line. */
function sinkLogger(level: string): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const logger = createLogger({ level, destination: { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } } })
  return { logger, lines }
}

const PINO = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 } as const

describe('Crawlee\'s log goes into pino', () => {
  it('maps Crawlee\'s levels: errors and warnings as such, its progress at debug, a request\'s failure at debug', () => {
    const { logger, lines } = sinkLogger('trace')
    const log = crawleeLog(logger, 'CheerioCrawler')
    log.error('the crawler cannot go on')
    log.warning('memory is low')
    log.info('Final request statistics:', { requestsFinished: 3 })
    log.debug('a detail')
    log.error('Request failed and reached maximum retries. HTTP 404', { url: 'http://127.0.0.1/x', id: 'a' })
    log.warning('Reclaiming failed request back to the list or queue.', { url: 'http://127.0.0.1/y', retryCount: 1 })
    expect(lines.map((l) => [l.level, l.msg, l.crawlee])).toEqual([
      [PINO.error, 'the crawler cannot go on', 'CheerioCrawler'],
      [PINO.warn, 'memory is low', 'CheerioCrawler'],
      [PINO.debug, 'Final request statistics:', 'CheerioCrawler'],
      [PINO.trace, 'a detail', 'CheerioCrawler'],
      [PINO.debug, 'Request failed and reached maximum retries. HTTP 404', 'CheerioCrawler'],
      [PINO.debug, 'Reclaiming failed request back to the list or queue.', 'CheerioCrawler'],
    ])
    expect(lines[2]!.data).toEqual({ requestsFinished: 3 })
    expect(lines[4]!.data).toMatchObject({ url: 'http://127.0.0.1/x' })
  })

  it('writes nothing below the logger\'s level, and nothing at all without a logger', () => {
    const { logger, lines } = sinkLogger('info')
    const log = crawleeLog(logger, 'CheerioCrawler')
    log.info('progress')
    log.error('Request failed and reached maximum retries.', { url: 'http://127.0.0.1/x' })
    log.warning('memory is low')
    expect(lines.map((l) => l.msg)).toEqual(['memory is low'])
    const silent = crawleeLog(undefined, 'CheerioCrawler')
    expect(silent.getLevel()).toBe(silent.LEVELS.OFF)
  })
})

describe('a crawl logs Crawlee\'s messages into the job\'s logger', () => {
  let handle: TestDatabase
  let hasher: Hasher
  let server: http.Server
  let base = ''
  beforeAll(async () => {
    handle = await openTestDatabase('pglite')
    hasher = new Hasher()
    server = http.createServer((req, res) => {
      if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end('<a href="/loop.html">loop</a>')
      if (req.url === '/loop.html') return res.writeHead(302, { location: '/loop.html' }).end()
      res.writeHead(404).end('no')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await hasher?.close()
    await handle?.close()
  })

  it('the failed page and Crawlee\'s statistics reach pino at debug', async () => {
    const { logger, lines } = sinkLogger('debug')
    const job = await CrawlJob.create({ db: handle.db, hasher, matcher: new Matcher(handle.db), logger }, { seeds: [`${base}/`], allowAddresses: ['127.0.0.1/32'] })
    const summary = await job.run()
    expect(summary.errors).toEqual({ TOO_MANY_REDIRECTS: 1 })
    const crawlee = lines.filter((l) => l.crawlee !== undefined)
    expect(crawlee.find((l) => String(l.msg).startsWith('Request failed and reached maximum retries'))).toMatchObject({ level: PINO.debug, data: { url: `${base}/loop.html` } })
    expect(crawlee.some((l) => String(l.msg).startsWith('Final request statistics'))).toBe(true)
    expect(crawlee.every((l) => (l.level as number) >= PINO.debug)).toBe(true)
  })
})
