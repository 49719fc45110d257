import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { CrawlJob, setJobStatus, summarizeJob } from '@arachnid/crawler'
import { Hasher } from '@arachnid/hasher'
import { Matcher } from '@arachnid/matcher'
import { startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/** A small image that hashes. */
async function tinyJpeg(): Promise<Buffer> {
  const { default: sharp } = await import('sharp')
  return sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 40, g: 120, b: 200 } } }).jpeg().toBuffer()
}

/**
 * A site full of traps: an endless calendar, a query-parameter explosion, a redirect loop, a
 * slow-drip page, a page that never ends, a huge image, a robots.txt rule, a host that answers
 * 429 once with Retry-After, and links to a third-party fetch endpoint.
 */
async function startTrapSite(): Promise<{ base: string; hits: Map<string, number>; close(): Promise<void> }> {
  const hits = new Map<string, number>()
  const jpeg = await tinyJpeg()
  let busyOnce = true
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://trap')
    hits.set(url.pathname + url.search, (hits.get(url.pathname + url.search) ?? 0) + 1)
    const html = (body: string) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>${body}</body></html>`)
    switch (url.pathname) {
      case '/robots.txt': res.writeHead(200, { 'content-type': 'text/plain' }).end('User-agent: *\nDisallow: /private/\n'); return
      case '/': return html(`<a href="/calendar?day=0">calendar</a> <a href="/explode?a=1">explode</a> <a href="/loop">loop</a>
        <a href="/slow.html">slow</a> <a href="/endless.html">endless</a> <a href="/private/secret.html">private</a> <a href="/busy.html">busy</a>
        <a href="https://lens.google.com/uploadbyurl?url=http://127.0.0.1/x.jpg">search</a> <img src="/huge.jpg"> <img src="/ok.jpg">
        <a href="/denied/page.html">denied page</a> <img src="/denied/picture.jpg">`)
      case '/calendar': {
        const day = Number(url.searchParams.get('day') ?? 0)
        return html(`<a href="/calendar?day=${day + 1}">next day</a>`)
      }
      case '/explode': {
        const n = [...url.searchParams.keys()].length
        const next = new URLSearchParams(url.searchParams)
        next.set(`p${n}`, String(n))
        return html(`<a href="/explode?${next}">more</a>`)
      }
      case '/loop': res.writeHead(302, { location: '/loop' }).end(); return
      case '/slow.html': {
        res.writeHead(200, { 'content-type': 'text/html' })
        const timer = setInterval(() => res.write(' '), 100)
        res.on('close', () => clearInterval(timer))
        return
      }
      case '/endless.html': {
        res.writeHead(200, { 'content-type': 'text/html' })
        const chunk = Buffer.alloc(64 * 1024, 0x20)
        const pump = () => { while (res.write(chunk)) { /* until the socket pushes back */ } }
        res.on('drain', pump)
        pump()
        return
      }
      case '/busy.html':
        if (busyOnce) {
          busyOnce = false
          res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/html' }).end('slow down')
          return
        }
        return html('<img src="/ok.jpg">fine now')
      case '/huge.jpg': res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(64 * 1024 * 1024) }).end(); return
      case '/ok.jpg': res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg); return
      default: res.writeHead(404).end('no')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

describe.each(dialects)('crawl jobs on %s', (dialect) => {
  let handle: TestDatabase
  let hasher: Hasher
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    hasher = new Hasher()
  })
  afterAll(async () => {
    await hasher?.close()
    await handle?.close()
  })

  it('shares one job between two workers with no page or media fetched twice', async () => {
    // Each worker takes 3 pages at once, 6 together, under the host's 8: a worker attached with the
    // default 8 fills the host's room alone, and on a loaded machine it took back every page it
    // finished before the other asked (seen in CI: 0 and 60). The site answers after 100 ms, so
    // neither can finish the 60 pages before the other has started.
    const site = await startSyntheticSite({ seed: 3, pages: 60, images: 120, badInputs: false, latencyMs: 100 })
    onTestFinished(() => site.close())
    const deps = { db: handle.db, hasher, matcher: new Matcher(handle.db) }
    const first = await CrawlJob.create({ ...deps, workerId: 'worker-a' }, { seeds: [`${site.manifest.baseUrl}/`], allowAddresses: ['127.0.0.1/32'], pageConcurrency: 3, mediaConcurrency: 3, matchBatchSize: 8 })
    const second = await CrawlJob.attach({ ...deps, workerId: 'worker-b' }, first.id, { pageConcurrency: 3, mediaConcurrency: 3, matchBatchSize: 8 })
    const [a, b] = await Promise.all([first.run(), second.run()])
    expect(a.status === 'finished' || b.status === 'finished').toBe(true)
    const summary = await summarizeJob(handle.db, first.id)
    expect(summary.status).toBe('finished')
    expect(summary.pages).toBe(site.manifest.pages.length)
    // Both workers did part of the work, and together exactly all of it.
    expect(a.worker.pages).toBeGreaterThan(0)
    expect(b.worker.pages).toBeGreaterThan(0)
    expect(a.worker.pages + b.worker.pages).toBe(site.manifest.pages.length)
    const byPath = site.stats.byPath
    for (const page of site.manifest.pages) expect(byPath.get(new URL(page).pathname)?.requests, page).toBe(1)
    // Each worker reads robots.txt once for itself; nothing else is fetched twice.
    expect(byPath.get('/robots.txt')?.requests).toBeLessThanOrEqual(2)
    const repeated = [...byPath].filter(([path, s]) => path !== '/robots.txt' && s.requests > 1).map(([path]) => path)
    expect(repeated).toEqual([])
  })

  it('bounds every trap and records each with a reason, and backs off on 429', async () => {
    const trap = await startTrapSite()
    try {
      // 5 s for a request: the slow drip never ends, so any bound catches it, and a loaded machine
      // (seen at a load of 11 on 2 cores) must not time out the redirect loop's 5 round trips first.
      const job = await CrawlJob.create({ db: handle.db, hasher, matcher: new Matcher(handle.db) }, {
        seeds: [`${trap.base}/`], allowAddresses: ['127.0.0.1/32'], maxPagesPerHost: 40, maxDepth: 30, requestTimeoutMs: 5000,
        maxPageBytes: 512 * 1024, maxMediaBytes: 1024 * 1024, maxRedirects: 4, denyList: [`${new URL(trap.base).host}/denied/`],
      })
      const summary = await job.run()
      expect(summary.status).toBe('finished')
      const pages = await handle.db.selectFrom('pages').select(['url', 'status', 'error_code']).where('job_id', '=', job.id).execute()
      const byPath = new Map(pages.map((p) => [new URL(p.url).pathname + new URL(p.url).search, p]))
      expect(byPath.get('/loop')?.error_code).toBe('TOO_MANY_REDIRECTS')
      expect(byPath.get('/slow.html')?.error_code).toBe('TIMEOUT')
      expect(['TOO_LARGE', 'TIMEOUT']).toContain(byPath.get('/endless.html')?.error_code)
      expect(byPath.get('/busy.html')).toMatchObject({ status: 200, error_code: null })
      expect(trap.hits.get('/busy.html')).toBe(2)
      // The calendar and the explosion stop at their bounds; robots and the deny list are obeyed.
      expect(summary.pages).toBeLessThanOrEqual(40)
      expect(summary.skipped.HOST_MAX_PAGES ?? 0).toBeGreaterThan(0)
      expect(summary.skipped.QUERY_EXPLOSION).toBeGreaterThan(0)
      expect(summary.skipped.ROBOTS).toBe(1)
      // The search link is another site's: out of scope before any deny list is asked.
      expect(summary.skipped.OUT_OF_SCOPE).toBe(1)
      // The job's deny list refuses the page link and the image alike, and neither is fetched.
      expect(summary.skipped.DENY_LIST).toBe(2)
      expect([...trap.hits.keys()].filter((path) => path.startsWith('/denied/'))).toEqual([])
      expect(trap.hits.has('/private/secret.html')).toBe(false)
      const media = await handle.db.selectFrom('media_fetches').select(['url', 'error_code', 'media_id']).where('job_id', '=', job.id).execute()
      expect(media.find((m) => m.url.endsWith('/huge.jpg'))?.error_code).toBe('TOO_LARGE')
      expect(media.find((m) => m.url.endsWith('/ok.jpg'))?.media_id).not.toBeNull()
    } finally {
      await trap.close()
    }
  })

  it('interleaves hosts fairly and keeps each under its in-flight cap', async () => {
    // One server, two host names (127.0.0.1 and localhost): two hosts to the frontier.
    const order: string[] = []
    const inFlight = new Map<string, number>()
    const most = new Map<string, number>()
    const server = http.createServer((req, res) => {
      const host = String(req.headers.host)
      order.push(host)
      inFlight.set(host, (inFlight.get(host) ?? 0) + 1)
      most.set(host, Math.max(most.get(host) ?? 0, inFlight.get(host)!))
      const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? 0)
      setTimeout(() => {
        inFlight.set(host, inFlight.get(host)! - 1)
        if (req.url === '/robots.txt') return res.writeHead(404).end()
        res.writeHead(200, { 'content-type': 'text/html' }).end(n < 20 ? `<a href="/p?n=${n + 1}">next</a><a href="/q?n=${n + 1}">other</a>` : 'end')
      }, 15)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    try {
      const job = await CrawlJob.create({ db: handle.db, hasher, matcher: new Matcher(handle.db) }, {
        seeds: [`http://127.0.0.1:${port}/p?n=0`, `http://localhost:${port}/p?n=0`], allowAddresses: ['127.0.0.1/32', '::1/128'],
        maxPerHost: 2, pageConcurrency: 6, maxPages: 60, maxDepth: 30,
      })
      const summary = await job.run()
      expect(summary.pages).toBe(60)
      const pages = order
      expect(Math.max(...most.values())).toBeLessThanOrEqual(2)
      // Neither host waits for the other to be exhausted: both appear early and throughout.
      const first = pages.slice(2, 22)
      expect(first.filter((h) => h.startsWith('127.0.0.1')).length).toBeGreaterThanOrEqual(6)
      expect(first.filter((h) => h.startsWith('localhost')).length).toBeGreaterThanOrEqual(6)
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('matches rotated and mirrored copies of a known image through the PDQ dihedral hashes', async () => {
    const { default: sharp } = await import('sharp')
    const { generateImage } = await import('@arachnid/synthetic')
    const { importList } = await import('@arachnid/matcher')
    const original = await generateImage({ seed: 77, width: 320, height: 240, format: 'jpeg' })
    const variants: Record<string, Buffer> = {
      '/rotated.jpg': await sharp(original).rotate(90).jpeg().toBuffer(),
      '/mirrored.jpg': await sharp(original).flop().jpeg().toBuffer(),
      '/upside-down.jpg': await sharp(original).rotate(180).jpeg().toBuffer(),
    }
    const withDihedral = new Hasher({ dihedral: true })
    const known = await withDihedral.hash(original)
    await importList(handle.db, { name: `dihedral-${dialect}`, lines: ['algorithm,hash', `pdq,${known.pdq}`] })
    const server = http.createServer((req, res) => {
      const body = variants[req.url ?? '']
      if (body) return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(body)
      if (req.url === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(Object.keys(variants).map((p) => `<img src="${p}">`).join(''))
      res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const job = await CrawlJob.create({ db: handle.db, hasher: withDihedral, matcher: new Matcher(handle.db) }, {
        seeds: [`http://127.0.0.1:${(server.address() as AddressInfo).port}/`], allowAddresses: ['127.0.0.1/32'],
      })
      const summary = await job.run()
      expect(summary.media).toBe(3)
      expect(summary.matchedMedia).toBe(3)
      // Without the dihedral hashes, the plain PDQ of a rotated copy is far from the original's.
      const plain = await hasher.hash(variants['/rotated.jpg']!)
      const { hammingDistance } = await import('@arachnid/hasher')
      expect(hammingDistance(plain.pdq, known.pdq)).toBeGreaterThan(31)
    } finally {
      await withDihedral.close()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('refuses a third-party fetch endpoint even when reported', async () => {
    const job = await CrawlJob.create({ db: handle.db, hasher, matcher: new Matcher(handle.db) }, { seeds: ['https://lens.google.com/uploadbyurl?url=https://127.0.0.1/a.jpg'], reported: true })
    const summary = await job.run()
    expect(summary.skipped.DENY_LIST).toBe(1)
    expect(summary.pages).toBe(0)
  })

  it('obeys a pause while running: what is under way finishes, nothing new starts, a worker joining later leaves it alone; cancel empties it', async () => {
    // An endless site: each page links to two more and shows an image. From page 3 on, answers wait
    // until the test has paused the job, so the job is certainly running, mid-crawl, when paused.
    const requests: string[] = []
    const jpeg = await tinyJpeg()
    let paused = false
    const waiting: (() => void)[] = []
    let reachedHold: () => void = () => {}
    const held = new Promise<void>((resolve) => { reachedHold = resolve })
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      requests.push(url.pathname)
      if (url.pathname === '/robots.txt') return res.writeHead(404).end()
      if (url.pathname.endsWith('.jpg')) return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg)
      const n = Number(url.pathname.slice('/page/'.length))
      const answer = () => res.writeHead(200, { 'content-type': 'text/html' })
        .end(`<a href="/page/${2 * n + 1}">a</a> <a href="/page/${2 * n + 2}">b</a> <img src="/image/${n}.jpg">`)
      if (n < 3 || paused) return answer()
      waiting.push(answer)
      reachedHold()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const deps = { db: handle.db, hasher, matcher: new Matcher(handle.db) }
      const job = await CrawlJob.create(deps, { seeds: [`${base}/page/0`], allowAddresses: ['127.0.0.1/32'], maxPages: 5000, maxDepth: 100, pageConcurrency: 2 })
      const running = job.run()
      await held
      expect(await summarizeJob(handle.db, job.id)).toMatchObject({ status: 'running' })
      await setJobStatus(handle.db, job.id, 'pause')
      paused = true
      for (const answer of waiting.splice(0)) answer()
      const result = await running
      expect(result.status).toBe('paused')
      // The pages under way when the job was paused were finished and recorded.
      const recorded = (await handle.db.selectFrom('pages').select('url').where('job_id', '=', job.id).execute()).map((p) => new URL(p.url).pathname)
      expect(recorded).toContain('/page/3')
      // Far from done, and nothing left leased: the rest waits in the queue for a resume.
      expect(result.pages).toBeLessThan(5000)
      expect(result.queued).toBeGreaterThan(0)
      expect(result.leased).toBe(0)
      const requestsWhenPaused = requests.length

      // A worker that joins the paused job fetches nothing and leaves it paused.
      const late = await CrawlJob.attach({ ...deps, workerId: 'late-worker' }, job.id)
      expect((await late.run()).status).toBe('paused')
      expect(requests.length).toBe(requestsWhenPaused)

      await setJobStatus(handle.db, job.id, 'cancel')
      const cancelled = await summarizeJob(handle.db, job.id)
      expect(cancelled).toMatchObject({ status: 'cancelled', queued: 0, leased: 0, mediaOpen: 0 })
      expect(cancelled.pages).toBe(result.pages)
    } finally {
      for (const answer of waiting.splice(0)) answer()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})
