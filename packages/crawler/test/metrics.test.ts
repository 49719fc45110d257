import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '@arachnid/core'
import { CrawlJob, CrawlMetrics } from '@arachnid/crawler'
import { Hasher } from '@arachnid/hasher'
import { Matcher } from '@arachnid/matcher'
import { startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

describe.each(dialects)('Prometheus metrics on %s', (dialect) => {
  let handle: TestDatabase
  let site: SyntheticSite
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    site = await startSyntheticSite({ seed: 9, pages: 12, images: 20 })
  })
  afterAll(async () => {
    await site?.close()
    await handle?.close()
  })

  it('serves what the process did and the running jobs\' queues in the text format', async () => {
    const hasher = new Hasher()
    const job = await CrawlJob.create({ db: handle.db, hasher, matcher: new Matcher(handle.db) }, { seeds: [`${site.manifest.baseUrl}/`], allowAddresses: ['127.0.0.1/32'] })
    const metrics = new CrawlMetrics(handle.db)
    const server = await metrics.serve(0)
    try {
      const summary = await job.run()
      metrics.observe(job.counters)
      metrics.observe(job.counters) // observing twice adds nothing
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`)
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
      const text = await response.text()
      expect(text).toContain(`arachnid_pages_total{outcome="ok"} ${summary.pages}`)
      expect(text).toContain(`arachnid_media_total{outcome="hashed"} ${job.counters.media}`)
      expect(text).toMatch(/arachnid_errors_total\{code="(CORRUPT|EMPTY|TOO_LARGE|UNSUPPORTED_FORMAT)"\} [1-9]/)
      expect(text).toContain('arachnid_jobs_running 0')
      const other = await fetch(`http://127.0.0.1:${server.port}/other`)
      expect([other.status, await other.json()]).toEqual([404, { error: { code: 'NOT_FOUND', message: 'no such route' } }])
      // A second worker asking for the same port is told so in one line, and serves nothing.
      const taken = await metrics.serve(server.port).catch((e: unknown) => e)
      expect(taken).toBeInstanceOf(ConfigError)
      expect((taken as Error).message).toBe(`cannot listen on 127.0.0.1:${server.port}: the port is in use (choose another with --metrics-port; 0 picks a free one)`)
    } finally {
      await server.close()
      await hasher.close()
    }
  })
})
