import { mkdtemp, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, openApp, prepareDemo, runCrawl } from '@arachnid/cli'
import { loadConfig } from '@arachnid/core'
import { startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import { dialectsUnderTest, openTestDatabase, SmtpSink, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/**
 * The main job end to end on real components: the synthetic site on loopback, the real hasher,
 * matcher and database, and a real SMTP server receiving the notices.
 */
describe.each(dialects)('the demo pipeline on %s', (dialect) => {
  let site: SyntheticSite
  let smtp: SmtpSink
  let app: App
  let home: string
  let pg: TestDatabase | undefined
  /** The first crawl of the site, which every test below reads. */
  let first: Awaited<ReturnType<typeof runCrawl>>

  const crawl = () => runCrawl(app, { seeds: [`${site.manifest.baseUrl}/`], maxPages: 1000, allowAddresses: ['127.0.0.1/32'] })

  beforeAll(async () => {
    site = await startSyntheticSite({ seed: 7 })
    smtp = await new SmtpSink().start()
    home = await mkdtemp(path.join(os.tmpdir(), 'arachnid-e2e-'))
    pg = dialect === 'postgres' ? await openTestDatabase('postgres') : undefined
    if (pg) await pg.db.destroy() // the app opens its own pool on the fresh database; the handle only drops it at the end
    app = await openApp(loadConfig({ home, ...(pg ? { databaseUrl: pg.url! } : {}), smtpUrl: smtp.url, logLevel: 'warn' }, {}))
    await prepareDemo(app, site)
    first = await crawl()
  })
  afterAll(async () => {
    await app?.close()
    await smtp?.stop()
    await site?.close()
    await rm(home, { recursive: true, force: true })
    if (pg) await pg.close().catch(() => {})
  })

  it('matches every known and altered image, nothing else, and sends one notice per matched URL', async () => {
    const result = first
    const images = site.manifest.images
    const expected = new Set(images.filter((i) => i.kind === 'known' || i.kind === 'altered').map((i) => i.url))
    const matched = await app.database.db.selectFrom('media_fetches as f')
      .innerJoin('matches as m', 'm.media_id', 'f.media_id')
      .where('f.job_id', '=', result.jobId).select('f.url').distinct().execute()
    const matchedUrls = new Set(matched.map((r) => r.url))
    const missed = [...expected].filter((u) => !matchedUrls.has(u))
    const wrong = [...matchedUrls].filter((u) => !expected.has(u))
    expect(missed).toEqual([])
    expect(wrong).toEqual([])
    expect(result.matchedMedia).toBe(expected.size)
    expect(result.exactMatches).toBeGreaterThan(0)
    expect(result.nearMatches).toBeGreaterThan(0)

    // Every matched URL: exactly one email, to the directory's abuse address, naming that URL.
    expect(result.notices).toBe(expected.size)
    expect(smtp.received).toHaveLength(expected.size)
    for (const url of expected) {
      const mails = smtp.received.filter((m) => m.parsed.text?.includes(`Media URL:     ${url}\n`))
      expect(mails, url).toHaveLength(1)
      expect(mails[0]!.envelopeTo).toEqual(['abuse@loopback-hosting.test'])
      expect(mails[0]!.parsed.attachments.map((a) => a.contentType)).toEqual(['application/json'])
    }
    // Nothing went to the .eml outbox, and no media bytes were written anywhere under home.
    const files = await readdir(home, { recursive: true })
    expect(files.filter((f) => /\.(jpe?g|png|gif|webp|eml)$/i.test(String(f)))).toEqual([])
  })

  it('records each bad input with its reason and finishes the crawl', async () => {
    const bad = site.manifest.images.filter((i) => i.kind === 'bad')
    expect(bad.length).toBeGreaterThanOrEqual(4)
    expect(first).toMatchObject({ status: 'finished', pages: site.manifest.pages.length })
    const rows = await app.database.db.selectFrom('media_fetches').select(['url', 'error_code', 'error_message', 'media_id'])
      .where('job_id', '=', first.jobId).where('url', 'in', bad.map((b) => b.url)).execute()
    const byUrl = new Map(rows.map((r) => [r.url, r]))
    const want: Record<string, string> = { truncated: 'CORRUPT', empty: 'EMPTY', 'not-image': 'UNSUPPORTED_FORMAT', oversized: 'TOO_LARGE', 'pixel-flood': 'TOO_LARGE' }
    for (const image of bad) {
      const row = byUrl.get(image.url)
      expect(row, image.url).toBeDefined()
      expect(row!.media_id).toBeNull()
      expect(row!.error_code, `${image.badReason} ${image.url}`).toBe(want[image.badReason!])
      expect(row!.error_message).toBeTruthy()
    }
  })

  it('sends no second notice when the same site is crawled again on the same database', async () => {
    const before = smtp.received.length
    const again = await crawl()
    expect(again.matchedMedia).toBeGreaterThan(0)
    expect(again.notices).toBe(0)
    expect(smtp.received.length).toBe(before)
    const outbox = await app.database.db.selectFrom('outbox').select('status').execute()
    expect(outbox.every((o) => o.status === 'sent')).toBe(true)
    expect(outbox).toHaveLength(before)
  })
})
