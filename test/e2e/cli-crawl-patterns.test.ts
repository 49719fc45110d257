import { createHash } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateImage } from '@arachnid/synthetic'
import { type CliEnvironment, dialectsUnderTest, openCliEnvironment } from '@arachnid/test'

const dialects = await dialectsUnderTest()

const GALLERY_PAGES = 2000
/** The endless URL spaces of the site, none of which brings anything new after its first page. */
const BARREN_SPACES = ['calendar', 'feed', 'listing', 'session'] as const
type Space = (typeof BARREN_SPACES)[number] | 'gallery' | 'gallery-image' | 'other'

const hex = (text: string, length: number) => createHash('sha1').update(text).digest('hex').slice(0, length)
const uuidOf = (text: string) => {
  const h = hex(text, 32)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}
const html = (body: string) => `<!doctype html><html><body>${body}</body></html>`
const a = (href: string) => `<a href="${href}">${href}</a>`

/**
 * A loopback site with four barren endless spaces on the same host as its real pages, and a
 * 2,000-page gallery with an image on every page:
 * - a calendar whose every day links the day before, the day after and its week view;
 * - an endless "next" chain (/feed/<hex cursor>);
 * - a listing whose every page links its 4 sort orders x 2 directions, each with a new session id (?sid=);
 * - a catalog whose every page links its 3 sort orders under a new session UUID in the path;
 * - the gallery: page N shows /gallery/img/N.png and links N-1, N+1 and N+100 (so every page lies
 *   within depth 120).
 * Every request is counted by the space it belongs to.
 */
async function startTrapSite(): Promise<{ base: string; requests: Record<Space, number>; galleryPages: Set<number>; close(): Promise<void> }> {
  const images = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((seed) => generateImage({ seed, width: 32, height: 24, format: 'png' })))
  const requests = Object.fromEntries([...BARREN_SPACES, 'gallery', 'gallery-image', 'other'].map((s) => [s, 0])) as Record<Space, number>
  const galleryPages = new Set<number>()
  const feedCursors = new Map<string, number>()
  const cursor = (n: number) => {
    const c = hex(`feed ${n}`, 16)
    feedCursors.set(c, n)
    return c
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const path = url.pathname
    const page = (space: Space, body: string) => {
      requests[space]++
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html(`<img src="/static/logo.png">${body}`))
    }
    const image = (space: Space, n: number) => {
      requests[space]++
      res.writeHead(200, { 'content-type': 'image/png' }).end(images[n % images.length])
    }
    if (path === '/robots.txt') return res.writeHead(200, { 'content-type': 'text/plain' }).end('User-agent: *\nAllow: /\n')
    if (path === '/') {
      return page('other', [a('/about'), a('/calendar/2026/12/06?view=day'), a(`/feed/${cursor(1)}`),
        a('/listing?sort=name&order=asc&sid=0a1b2c3d4e5f'), a(`/s/${uuidOf('start')}/catalog?sort=price`), a('/gallery/page/1')].join(''))
    }
    if (path === '/about') return page('other', a('/'))
    if (path === '/static/logo.png') return image('other', 0)
    const item = /^\/static\/item-(\d)\.png$/.exec(path)
    if (item) return image('other', Number(item[1]))
    const day = /^\/calendar\/(\d{4})\/(\d{2})\/(\d{2})$/.exec(path)
    if (day) {
      const at = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]))
      const link = (ms: number, view: string) => `/calendar/${new Date(ms).toISOString().slice(0, 10).replaceAll('-', '/')}?view=${view}`
      return page('calendar', [a(link(at - 86_400_000, 'day')), a(link(at + 86_400_000, 'day')), a(link(at, url.searchParams.get('view') === 'day' ? 'week' : 'day'))].join(''))
    }
    const feed = /^\/feed\/([0-9a-f]{16})$/.exec(path)
    if (feed && feedCursors.has(feed[1]!)) return page('feed', a(`/feed/${cursor(feedCursors.get(feed[1]!)! + 1)}`))
    if (path === '/listing') {
      const sid = url.searchParams.get('sid') ?? ''
      const links = ['name', 'date', 'size', 'price'].flatMap((sort) => ['asc', 'desc'].map((order) => a(`/listing?sort=${sort}&order=${order}&sid=${hex(sid + sort + order, 12)}`)))
      return page('listing', [0, 1, 2, 3, 4, 5].map((i) => `<img src="/static/item-${i}.png">`).join('') + links.join(''))
    }
    const session = /^\/s\/([0-9a-f-]{36})\/catalog$/.exec(path)
    if (session) return page('session', ['price', 'name', 'new'].map((sort) => a(`/s/${uuidOf(session[1]! + sort)}/catalog?sort=${sort}`)).join(''))
    const gallery = /^\/gallery\/page\/(\d+)$/.exec(path)
    if (gallery && Number(gallery[1]) >= 1 && Number(gallery[1]) <= GALLERY_PAGES) {
      const n = Number(gallery[1])
      galleryPages.add(n)
      const links = [n - 1, n + 1, n + 100].filter((m) => m >= 1 && m <= GALLERY_PAGES).map((m) => a(`/gallery/page/${m}`))
      return page('gallery', `<img src="/gallery/img/${n}.png">${links.join('')}`)
    }
    const galleryImage = /^\/gallery\/img\/(\d+)\.png$/.exec(path)
    if (galleryImage) return image('gallery-image', Number(galleryImage[1]))
    requests.other++
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, galleryPages,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

describe.each(dialects)('budgets per URL pattern through pnpm arachnid on %s', (dialect) => {
  let cli: CliEnvironment
  beforeAll(async () => { cli = await openCliEnvironment(dialect) })
  afterAll(async () => { await cli?.close() })

  it('at depth 1000 crawls a 2,000-page gallery with media on every page whole, and stops each barren endless space within 200 requests', async () => {
    const site = await startTrapSite()
    try {
      const result = await cli.run(['crawl', `${site.base}/`, '--allow', '127.0.0.1/32', '--depth', '1000', '--max-pages', '5000', '--json'], { timeoutMs: 600_000 })
      expect(result.code, result.errors).toBe(0)
      const crawled = JSON.parse(result.stdout.trim().split('\n').at(-1)!)
      console.log(`[${dialect}] requests by space: ${JSON.stringify(site.requests)}; ${crawled.pages} pages in ${crawled.seconds} s`)
      expect(crawled.status).toBe('finished')
      expect(site.galleryPages.size).toBe(GALLERY_PAGES)
      expect(site.requests['gallery-image']).toBe(GALLERY_PAGES)
      for (const space of BARREN_SPACES) {
        expect(site.requests[space], space).toBeGreaterThanOrEqual(50)
        expect(site.requests[space], space).toBeLessThanOrEqual(200)
      }
      expect(crawled.skipped.PATTERN_BARREN).toBeGreaterThan(0)

      const shown = await cli.json(['jobs', 'show', String(crawled.jobId), '--json'])
      expect(shown).toMatchObject({ status: 'finished', queued: 0, leased: 0, skipped: { PATTERN_BARREN: crawled.skipped.PATTERN_BARREN } })
      expect(shown.pages).toBe(crawled.pages)
      expect(shown.media).toBeGreaterThanOrEqual(GALLERY_PAGES)
      const host = new URL(site.base).host
      const byPattern = new Map<string, { pages: number; barren: boolean; refused: number; yielding: number }>(shown.patterns.top.map((p: { pattern: string }) => [p.pattern, p]))
      for (const pattern of [`${host}/calendar/{n}/{n}/{n}?view`, `${host}/feed/{hex}`, `${host}/listing?order&sid&sort`, `${host}/s/{uuid}/catalog?sort`]) {
        expect(byPattern.get(pattern), pattern).toMatchObject({ barren: true })
        expect(byPattern.get(pattern)!.pages, pattern).toBeLessThanOrEqual(200)
      }
      expect(byPattern.get(`${host}/gallery/page/{n}`)).toMatchObject({ barren: false, pages: GALLERY_PAGES, yielding: GALLERY_PAGES })
      expect(shown.patterns.barren).toBe(4)

      // The text view says the same.
      const text = await cli.run(['jobs', 'show', String(crawled.jobId)])
      expect(text.stdout).toMatch(/^ {2}skipped PATTERN_BARREN: \d+$/m)
      expect(text.stdout).toMatch(new RegExp(`^ {2}pattern ${host.replace(/\./g, '\\.')}/calendar/\\{n\\}/\\{n\\}/\\{n\\}\\?view: \\d+ pages \\(0 yielding.*barren after \\d+ without yield, \\d+ refused$`, 'm'))
    } finally {
      await site.close()
    }
  }, 900_000)

  it('takes the knobs per job: --pattern-window and --pattern-budget, and --no-pattern-budgets; refuses bad values', async () => {
    const site = await startTrapSite()
    try {
      const tight = await cli.json(['crawl', `${site.base}/calendar/2026/12/06?view=day`, '--allow', '127.0.0.1/32', '--depth', '1000', '--max-pages', '300',
        '--pattern-window', '5', '--pattern-budget', '10', '--json'], { timeoutMs: 300_000 })
      expect(site.requests.calendar).toBeGreaterThanOrEqual(10)
      expect(site.requests.calendar).toBeLessThanOrEqual(1 + 5 + 10 + 4)
      expect(tight.skipped.PATTERN_BARREN).toBeGreaterThan(0)
      site.requests.calendar = 0
      const off = await cli.json(['crawl', `${site.base}/calendar/2026/12/06?view=day`, '--allow', '127.0.0.1/32', '--depth', '1000', '--max-pages', '300',
        '--no-pattern-budgets', '--json'], { timeoutMs: 300_000 })
      // Without budgets the calendar runs to the page limit.
      expect(off.pages).toBe(300)
      expect(site.requests.calendar).toBe(300)
      expect(off.skipped.PATTERN_BARREN).toBeUndefined()
      for (const bad of [['--pattern-window', '0'], ['--pattern-budget', '-1'], ['--pattern-window', 'x']]) {
        const refused = await cli.run(['crawl', `${site.base}/`, '--allow', '127.0.0.1/32', ...bad])
        expect(refused.code, bad.join(' ')).toBe(2)
        expect(refused.errors, bad.join(' ')).toMatch(new RegExp(bad[0]!))
      }
    } finally {
      await site.close()
    }
  }, 600_000)
})
