import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Database, type Kysely } from '@arachnid/core'
import { CrawlJobStore, DEFAULT_FRONTIER_OPTIONS, type PatternBudget, PostgresFrontier, resolveCrawlOptions, summarizeJob, urlPattern } from '@arachnid/crawler'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

const BASE = 'http://site.test'
const GALLERY_PAGES = 300

/**
 * A site as links and media, no server: the frontier is driven as a crawler would (lease, count
 * the page's yield, register its media, add its links, mark it done). A calendar with next and
 * previous days forever, a listing whose every page links to its sort orders with a fresh session
 * id, and a gallery whose every page brings an image of its own.
 */
function page(url: string): { media: string[]; links: string[]; kind: string } {
  const u = new URL(url)
  const day = /^\/calendar\/(\d+)\/(\d+)\/(\d+)$/.exec(u.pathname)
  if (day) {
    const at = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]))
    const link = (ms: number) => `${BASE}/calendar/${new Date(ms).toISOString().slice(0, 10).replaceAll('-', '/')}?view=day`
    return { kind: 'calendar', media: [`${BASE}/static/logo.png`], links: [link(at - 86_400_000), link(at + 86_400_000)] }
  }
  if (u.pathname === '/listing') {
    const sid = u.searchParams.get('sid')!
    return { kind: 'listing', media: [`${BASE}/static/logo.png`], links: ['name', 'date', 'size'].map((sort) => `${BASE}/listing?sort=${sort}&sid=${sid}${sort[0]}`) }
  }
  const gallery = /^\/gallery\/page\/(\d+)$/.exec(u.pathname)
  if (gallery) {
    const n = Number(gallery[1])
    const links = [n > 1 ? n - 1 : undefined, n < GALLERY_PAGES ? n + 1 : undefined].filter((x) => x !== undefined).map((m) => `${BASE}/gallery/page/${m}`)
    return { kind: 'gallery', media: [`${BASE}/gallery/img/${n}.png`], links }
  }
  if (u.pathname === '/') {
    return { kind: 'home', media: [`${BASE}/static/logo.png`], links: [`${BASE}/calendar/2026/12/06?view=day`, `${BASE}/listing?sort=name&sid=s`, `${BASE}/gallery/page/1`] }
  }
  return { kind: 'other', media: [], links: [] }
}

async function crawl(db: Kysely<Database>, budget: PatternBudget, maxPages = 2000): Promise<{ jobId: number; fetched: Record<string, number> }> {
  const options = resolveCrawlOptions({ seeds: [`${BASE}/`], maxPages, maxDepth: 1000 })
  const store = await CrawlJobStore.create(db, options)
  const frontier = new PostgresFrontier(db, store.jobId, options.seeds, {
    ...DEFAULT_FRONTIER_OPTIONS, maxPages, maxDepth: 1000, maxPagesPerHost: 100_000, leaseBatch: 4, patternBudget: budget,
  })
  await frontier.add([{ url: `${BASE}/`, depth: 0 }])
  const fetched: Record<string, number> = {}
  for (;;) {
    const request = await frontier.fetchNextRequest()
    if (request === null) break
    const found = page(request.url)
    fetched[found.kind] = (fetched[found.kind] ?? 0) + 1
    await frontier.recordYield({ url: request.url, media: found.media, links: found.links })
    await db.insertInto('media_fetches').values(found.media.map((url) => ({ job_id: store.jobId, url, state: 'pending' as const })))
      .onConflict((oc) => oc.columns(['job_id', 'url']).doNothing()).execute()
    await frontier.add(found.links.map((url) => ({ url, depth: Number(request.userData.depth) + 1 })))
    await frontier.markRequestHandled(request)
  }
  return { jobId: store.jobId, fetched }
}

describe.each(dialects)('pattern budgets in the frontier on %s', (dialect) => {
  let handle: TestDatabase
  beforeAll(async () => { handle = await openTestDatabase(dialect) })
  afterAll(async () => { await handle?.close() })

  it('stops barren patterns after window + budget requests, and crawls a pattern that keeps yielding media whole', async () => {
    const { jobId, fetched } = await crawl(handle.db, { enabled: true, window: 5, budget: 10 })
    expect(fetched.gallery).toBe(GALLERY_PAGES)
    // window pages without yield, then at most `budget` more: those leased (up to the lease batch
    // of 4, the one just fetched aside) and queued count against it.
    for (const kind of ['calendar', 'listing']) {
      expect(fetched[kind], kind).toBeGreaterThanOrEqual(5 + 10 - 3)
      expect(fetched[kind], kind).toBeLessThanOrEqual(5 + 10)
    }
    const summary = await summarizeJob(handle.db, jobId)
    expect(summary.skipped.PATTERN_BARREN).toBeGreaterThan(0)
    expect(summary.queued).toBe(0)
    const byPattern = Object.fromEntries(summary.patterns.top.map((p) => [p.pattern, p]))
    const calendar = byPattern[urlPattern(`${BASE}/calendar/2026/12/06?view=day`)]!
    expect(calendar).toMatchObject({ barren: true, pages: fetched.calendar, yielding: 0 })
    expect(calendar.refused).toBeGreaterThan(0)
    const listing = byPattern[urlPattern(`${BASE}/listing?sort=name&sid=s`)]!
    expect(listing.barren).toBe(true)
    // The listing's first page brought nothing new either (the logo was on the home page).
    expect(listing.yielding).toBe(0)
    const gallery = byPattern[urlPattern(`${BASE}/gallery/page/1`)]!
    expect(gallery).toMatchObject({ barren: false, pages: GALLERY_PAGES, yielding: GALLERY_PAGES, newMedia: GALLERY_PAGES })
    expect(summary.patterns.barren).toBe(2)
    // The skips add up to what the patterns refused.
    expect(summary.skipped.PATTERN_BARREN).toBe(summary.patterns.top.reduce((n, p) => n + p.refused, 0))
    // What the frontier holds and counts agrees with what was fetched.
    const size = await handle.db.selectFrom('crawl_jobs').select('frontier_size').where('id', '=', jobId).executeTakeFirstOrThrow()
    expect(size.frontier_size).toBe(Object.values(fetched).reduce((a, b) => a + b, 0))
  })

  it('a budget of 0 stops a barren pattern at once; without budgets the traps run to the page limit', async () => {
    const none = await crawl(handle.db, { enabled: true, window: 3, budget: 0 }, 400)
    expect(none.fetched.gallery).toBe(GALLERY_PAGES)
    expect(none.fetched.calendar).toBeLessThanOrEqual(3 + 3)
    expect(none.fetched.listing).toBeLessThanOrEqual(3 + 3)
    const off = await crawl(handle.db, { enabled: false, window: 3, budget: 0 }, 250)
    expect(Object.values(off.fetched).reduce((a, b) => a + b, 0)).toBe(250)
    expect(off.fetched.gallery ?? 0).toBeLessThan(GALLERY_PAGES)
    expect((await summarizeJob(handle.db, off.jobId)).patterns.count).toBe(0)
  })

  it('a barren pattern whose page yields again gets its cap lifted', async () => {
    const options = resolveCrawlOptions({ seeds: [`${BASE}/`] })
    const store = await CrawlJobStore.create(handle.db, options)
    const frontier = new PostgresFrontier(handle.db, store.jobId, options.seeds, { ...DEFAULT_FRONTIER_OPTIONS, patternBudget: { enabled: true, window: 2, budget: 1 } })
    const p = (n: number) => `${BASE}/archive/${n}`
    await frontier.add([1, 2, 3, 4, 5].map((n) => ({ url: p(n), depth: 1 })))
    await frontier.recordYield({ url: p(1), media: [], links: [] })
    await frontier.recordYield({ url: p(2), media: [], links: [] })
    const row = () => handle.db.selectFrom('url_patterns').selectAll().where('job_id', '=', store.jobId).where('pattern', '=', urlPattern(p(1))).executeTakeFirstOrThrow()
    // Barren with page 2 (counted as fetched): of the other four queued, the budget keeps one; three are cut.
    expect(await row()).toMatchObject({ pages: 2, enqueued: 2, refused: 3, cap: 2 })
    expect(await frontier.add([{ url: p(6), depth: 1 }])).toBe(0)
    await frontier.recordYield({ url: p(3), media: [`${BASE}/img/new.png`], links: [] })
    expect((await row()).cap).toBeNull()
    expect(await frontier.add([{ url: p(7), depth: 1 }])).toBe(1)
    const summary = await summarizeJob(handle.db, store.jobId)
    expect(summary.skipped.PATTERN_BARREN).toBe(4)
  })
})
