import { spawn } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openApp, prepareDemo } from '@arachnid/cli'
import { type DialectName, loadConfig, sql } from '@arachnid/core'
import { startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import { type CliEnvironment, dialectsUnderTest, openCliEnvironment, REPO_ROOT, SmtpSink } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/** What a command printed of its own on stderr, line by line (pnpm's lines left out). */
const ownLines = (errors: string) => errors.split('\n').filter((l) => l.trim() !== '')
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!)

/** Imports the site's known images as the demo list and names the loopback provider, as `arachnid demo` does. */
async function prepareKnownList(cli: CliEnvironment, site: SyntheticSite): Promise<void> {
  const app = await openApp(loadConfig({ home: cli.home, ...(cli.databaseUrl ? { databaseUrl: cli.databaseUrl } : {}), logLevel: 'warn' }, {}))
  try {
    await prepareDemo(app, site)
  } finally {
    await app.close()
  }
}

/** The media URLs of the site that the known list matches (known originals and their altered copies). */
const matchable = (site: SyntheticSite) => site.manifest.images.filter((i) => i.kind === 'known' || i.kind === 'altered').map((i) => i.url)

/** Runs a shell pipeline in the environment, as a user's terminal would. */
function shell(cli: CliEnvironment, script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd: REPO_ROOT, env: { ...cli.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** One page with four images, two more and a page under /private/, a second page; every request recorded. */
async function startRecordingSite(): Promise<{ base: string; port: number; requests: { path: string; at: number }[]; close(): Promise<void> }> {
  const { generateImage } = await import('@arachnid/synthetic')
  const images = await Promise.all([0, 1, 2, 3, 4, 5].map((seed) => generateImage({ seed, width: 48, height: 32, format: 'jpeg' })))
  const requests: { path: string; at: number }[] = []
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    requests.push({ path, at: performance.now() })
    if (path === '/robots.txt') return res.writeHead(200, { 'content-type': 'text/plain' }).end('User-agent: *\nAllow: /\n')
    if (path === '/') {
      return res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>
        <img src="/m/0.jpg"><img src="/m/1.jpg"><img src="/m/2.jpg"><img src="/m/3.jpg">
        <img src="/private/4.jpg"><img srcset="/private/5.jpg 2x"><a href="/private/page.html">private</a><a href="/next.html">next</a></body></html>`)
    }
    if (path === '/next.html' || path === '/private/page.html') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>end</body></html>')
    const image = /^\/(m|private)\/(\d)\.jpg$/.exec(path)
    if (image) return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(images[Number(image[2])])
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    base: `http://127.0.0.1:${port}`, port, requests,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** Checks that stop before any database is opened: one dialect is enough. */
describe('crawl, worker, jobs and demo refuse bad arguments with one clear line (pnpm arachnid)', () => {
  let cli: CliEnvironment
  beforeAll(async () => { cli = await openCliEnvironment('pglite') })
  afterAll(async () => { await cli?.close() })

  it('refuses values that would hang, loop or do nothing, and unreadable inputs, with exit 2', async () => {
    const url = 'http://127.0.0.1:9/'
    const cases: [string[], RegExp][] = [
      // Before: a cap of 0 leased nothing and the crawl waited forever.
      [['crawl', url, '--max-per-host', '0'], /^arachnid: --max-per-host "0": expected an integer from 1 to 1000$/],
      // Before: taken, and matched nothing.
      [['crawl', url, '--deny', 'http://x y'], /^arachnid: --deny "http:\/\/x y": not a host and path; expected host\[:port\]\[\/path-prefix\]/],
      [['crawl', '--seeds', '/missing'], /^arachnid: --seeds \/missing: cannot read it \(no such file\)$/],
      [['crawl', url, '--allow', '999.1.1.1/8'], /^arachnid: --allow "999\.1\.1\.1\/8": expected an IP address or a CIDR range/],
      [['worker', '--page-concurrency', '0'], /^arachnid: --page-concurrency "0": expected an integer from 1 to 1000$/],
      [['worker', '--page-concurrency', 'abc'], /^arachnid: --page-concurrency "abc": expected an integer from 1 to 1000$/],
      [['worker', '--metrics-port', 'abc'], /^arachnid: --metrics-port "abc": expected an integer from 0 to 65535$/],
      [['demo', '--pages', 'abc'], /^arachnid: --pages "abc": expected an integer from 1 to 100000$/],
    ]
    for (let i = 0; i < cases.length; i += 2) {
      await Promise.all(cases.slice(i, i + 2).map(async ([args, message]) => {
        const result = await cli.run(args, { timeoutMs: 60_000 })
        expect(result.code, args.join(' ')).toBe(2)
        expect(ownLines(result.errors), args.join(' ')).toEqual([expect.stringMatching(message)])
        expect(result.stdout, args.join(' ')).toBe('')
      }))
    }
  }, 240_000)
})

/** A user's setup (ARACHNID_HOME, database, SMTP server) for the tests of the enclosing describe. */
function cliWithSmtp(dialect: DialectName): { readonly cli: CliEnvironment; readonly smtp: SmtpSink } {
  const setup = {} as { cli: CliEnvironment; smtp: SmtpSink }
  beforeAll(async () => {
    setup.smtp = await new SmtpSink().start()
    setup.cli = await openCliEnvironment(dialect, { env: { SMTP_URL: setup.smtp.url } })
  })
  afterAll(async () => {
    await setup.cli?.close()
    await setup.smtp?.stop()
  })
  return setup
}

describe.each(dialects)('crawl, jobs, worker and stats through pnpm arachnid on %s', (dialect) => {
  // This test counts over the whole database and lists it empty, so it has a database (and an
  // SMTP server, which it makes refuse everything) of its own; the others share one.
  describe('on a database of its own', () => {
    const own = cliWithSmtp(dialect)

    it('says delivery failed when SMTP refuses, and every count means one thing: stats, jobs show, the crawl summary; empty listings and pipes', async () => {
      const { cli, smtp } = own
      // On Postgres, commands that do not depend on each other run side by side (PGlite is one process's).
      const both = <A, B>(a: () => Promise<A>, b: () => Promise<B>): Promise<[A, B]> =>
        dialect === 'postgres' ? Promise.all([a(), b()]) : a().then(async (x) => [x, await b()])

      // An empty listing says so; a job that does not exist is one line.
      const [empty, missing] = await both(() => cli.run(['jobs', 'list']), () => cli.run(['jobs', 'show', '999']))
      expect(empty.code, empty.errors).toBe(0)
      expect(empty.stdout).toBe('no jobs (`arachnid crawl URL` starts one)\n')
      expect(missing.code).toBe(2)
      expect(ownLines(missing.errors)).toEqual(['arachnid: no job 999 (`arachnid jobs list` shows the jobs)'])

      // Three copies of one site (same images, other URLs): each crawl finds as many matches.
      const options = { seed: 31, pages: 10, images: 30, badInputs: false }
      const sites = [await startSyntheticSite(options), await startSyntheticSite(options), await startSyntheticSite(options)]
      try {
        const [a, b, c] = sites as [SyntheticSite, SyntheticSite, SyntheticSite]
        await prepareKnownList(cli, a)
        const perSite = matchable(a).length
        expect(perSite).toBeGreaterThan(0)
        smtp.rejectNext(1_000_000)

        // One after the other: a crawl delivers whatever is due, so side by side each would also try the other's emails.
        const first = await cli.run(['crawl', `${a.manifest.baseUrl}/`, '--allow', '127.0.0.1/32', '--json'])
        const second = await cli.run(['crawl', `${b.manifest.baseUrl}/`, '--allow', '127.0.0.1/32'])
        expect(first.code, first.errors).toBe(0)
        const r1 = lastJson(first.stdout)
        expect(r1).toMatchObject({ status: 'finished', matchedMedia: perSite, notices: perSite, delivered: 0 })
        // Before: "delivered":0,"deliveryRetrying":0 while every email had been refused.
        expect(r1.deliveryFailed).toBe(perSite)
        expect(r1.deliveryRetrying).toBe(perSite)
        expect(r1.deliveryError).toMatch(/try again later/)
        expect(r1.delivery).toMatchObject({ sent: 0, retrying: perSite })
        // One meaning of distinctMedia: the job's and its only worker's agree.
        expect(r1.worker.distinctMedia).toBe(r1.distinctMedia)
        expect(second.code, second.errors).toBe(0)
        expect(second.stdout).toMatch(new RegExp(`^ {2}delivery failed for ${perSite} of ${perSite} notice emails \\(${perSite} will be retried .*\\): .*try again later`, 'm'))
        expect(smtp.received).toHaveLength(0)

        // Two jobs of one site, crawled by one worker: the notices belong to the job that made them.
        const detach = () => cli.json(['crawl', `${c.manifest.baseUrl}/`, '--allow', '127.0.0.1/32', '--detach', '--json'])
        const ids = (await both(detach, detach)).map((r) => r.jobId as number).sort((x, y) => x - y)
        const worker = await cli.run(['worker', '--exit-when-idle'])
        expect(worker.code, worker.errors).toBe(0)

        // stats counts matches as the crawls and jobs show do (media URLs), and shows each job's
        // figures as jobs show gives them, finished jobs as finished.
        const stats = await cli.json(['stats', '--json'])
        expect(stats.matches).toBe(3 * perSite)
        expect(stats.matchedEntries).toBeGreaterThan(0)
        expect(stats.notices).toBe(3 * perSite)
        expect(stats.recentJobs).toHaveLength(4)
        for (const job of stats.recentJobs) expect([job.status, job.summary.status]).toEqual(['finished', 'finished'])
        const byId = new Map(stats.recentJobs.map((j: { id: number; summary: object }) => [j.id, j.summary]))
        expect(byId.get(r1.jobId)).toMatchObject({ matchedMedia: perSite, notices: perSite })
        // The first job of site C made its notices; the second found the same matches and made none.
        expect(byId.get(ids[0]!)).toMatchObject({ matchedMedia: perSite, notices: perSite })
        expect(byId.get(ids[1]!)).toMatchObject({ matchedMedia: perSite, notices: 0 })

        // Piped into a reader that leaves at once: no EPIPE trace, exit 0.
        const piped = await shell(cli, dialect === 'pglite'
          ? 'pnpm --silent arachnid jobs list | head -n 0; echo "${PIPESTATUS[0]}"'
          : `pnpm --silent arachnid jobs show ${ids[0]} | head -n 0; echo "\${PIPESTATUS[0]}"`)
        expect(piped.stdout.trim()).toBe('0')
        expect(piped.stderr).not.toMatch(/EPIPE|Error|^\s+at /m)
      } finally {
        for (const site of sites) await site.close()
      }
    }, 300_000)
  })

  const shared = cliWithSmtp(dialect)

  it('obeys --deny host:port/path for media as for pages, and --politeness-ms spaces every request (robots.txt, pages, media)', async () => {
    const { cli } = shared
    const site = await startRecordingSite()
    try {
      const delayMs = 300
      const result = await cli.run(['crawl', `${site.base}/`, '--allow', '127.0.0.1/32', '--deny', `127.0.0.1:${site.port}/private`, '--politeness-ms', String(delayMs), '--json'])
      expect(result.code, result.errors).toBe(0)
      const summary = lastJson(result.stdout)
      const paths = site.requests.map((r) => r.path)
      expect(paths.filter((p) => p.startsWith('/private/'))).toEqual([])
      expect([...paths].sort()).toEqual(['/', '/m/0.jpg', '/m/1.jpg', '/m/2.jpg', '/m/3.jpg', '/next.html', '/robots.txt'])
      expect(summary).toMatchObject({ media: 4, skipped: { DENY_LIST: 3 } })
      // Spaced on the host's clock: the server saw no two requests closer than half the delay
      // (room for a loaded machine); before, robots.txt, the page and its images came within a second.
      const gaps = site.requests.slice(1).map((r, i) => r.at - site.requests[i]!.at)
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(delayMs / 2)
    } finally {
      await site.close()
    }
  }, 120_000)

  it('Ctrl-C mid-crawl: says so, exits non-zero, leaves the job paused; jobs resume and a worker finish it with nothing lost or doubled', async () => {
    const { cli, smtp } = shared
    // A slow site and one page and one image at a time, so the crawl is surely mid-way when interrupted.
    const site = await startSyntheticSite({ seed: 41, pages: 30, images: 50, latencyMs: 150, badInputs: false })
    try {
      await prepareKnownList(cli, site)
      const expected = matchable(site).sort()
      const sentBefore = smtp.received.length
      smtp.rejectNext(0)
      const crawl = cli.start(['crawl', `${site.manifest.baseUrl}/`, '--allow', '127.0.0.1/32', '--json'], {
        env: { ARACHNID_PAGE_CONCURRENCY: '1', ARACHNID_MEDIA_CONCURRENCY: '1' },
      })
      const jobId = Number((await crawl.waitFor(/job (\d+) started/))[1])
      while (site.stats.requests < 12) await new Promise((resolve) => setTimeout(resolve, 50))
      crawl.signal('SIGINT')
      const interrupted = await crawl.exited
      expect(interrupted.code, interrupted.errors).not.toBe(0)
      expect(interrupted.errors).toMatch(new RegExp(`^arachnid: interrupted: job ${jobId} is paused with \\d+ pages and \\d+ media still to do; \`arachnid jobs resume ${jobId}\` then \`arachnid worker\` finishes it$`, 'm'))
      expect(lastJson(interrupted.stdout)).toMatchObject({ jobId, status: 'paused', interrupted: true })

      const paused = await cli.json(['jobs', 'show', String(jobId), '--json'])
      expect(paused).toMatchObject({ status: 'paused', leased: 0 })
      expect(paused.pages).toBeLessThan(site.manifest.pages.length)
      const resumed = await cli.run(['jobs', 'resume', String(jobId)])
      expect(resumed.stdout).toBe(`job ${jobId} is now running\n`)
      const worker = await cli.run(['worker', '--exit-when-idle', '--page-concurrency', '8', '--media-concurrency', '8'])
      expect(worker.code, worker.errors).toBe(0)

      const { summarizeJob } = await import('@arachnid/crawler')
      const done = await cli.withDatabase(({ db }) => summarizeJob(db, jobId))
      expect(done).toMatchObject({ status: 'finished', pages: site.manifest.pages.length, pageErrors: 0, mediaOpen: 0, queued: 0, leased: 0 })
      // The site's off-site media (another loopback address, not allowed) are the only refusals.
      expect(Object.keys(done.errors).filter((code) => code !== 'BLOCKED_ADDRESS')).toEqual([])
      expect(done.matchedMedia).toBe(expected.length)
      expect(done.notices).toBe(expected.length)
      // Nothing doubled: each page and media URL fetched once, one notice and one email per matched URL.
      for (const page of site.manifest.pages) expect(site.stats.byPath.get(new URL(page).pathname)?.requests, page).toBe(1)
      const emails = smtp.received.slice(sentBefore).map((m) => /Media URL: +(\S+)/.exec(m.parsed.text ?? '')?.[1] ?? '')
        .filter((url) => url.startsWith(`${site.manifest.baseUrl}/`)).sort()
      expect(emails).toEqual(expected)
      await cli.withDatabase(async ({ db }) => {
        const notices = await sql<{ url: string; n: number }>`select media_url as url, count(*)::int as n from notices where job_id = ${jobId} group by media_url order by media_url`.execute(db)
        expect(notices.rows).toEqual(expected.map((url) => ({ url, n: 1 })))
      })
    } finally {
      await site.close()
    }
  }, 240_000)

  it('jobs show --watch follows a --detach job that a worker crawls, without holding the database', async () => {
    const { cli } = shared
    const site = await startSyntheticSite({ seed: 51, pages: 20, images: 24, latencyMs: 150, badInputs: false })
    try {
      const { jobId } = await cli.json(['crawl', `${site.manifest.baseUrl}/`, '--allow', '127.0.0.1/32', '--detach', '--json'])
      // Watching first, then the worker: on the embedded database the worker must still get it.
      const watch = cli.start(['jobs', 'show', String(jobId), '--watch', '--json'])
      await watch.waitFor(/"status":"running"/, { stream: 'stdout' })
      const worker = cli.start(['worker', '--exit-when-idle', '--page-concurrency', '1', '--media-concurrency', '1'])
      const workerDone = await worker.exited
      expect(workerDone.code, workerDone.errors).toBe(0)
      const watched = await watch.exited
      expect(watched.code, watched.errors).toBe(0)
      const views = watched.stdout.trim().split('\n').map((l) => JSON.parse(l))
      expect(views.length).toBeGreaterThanOrEqual(2)
      expect(views.at(-1)).toMatchObject({ jobId, status: 'finished', pages: site.manifest.pages.length, mediaOpen: 0 })
      // What failed, with an example: the site's off-site images on a loopback address not allowed.
      expect(views.at(-1).errorExamples.BLOCKED_ADDRESS).toEqual({ message: expect.stringMatching(/127\.0\.0\.2/), url: expect.stringMatching(/^http:\/\/127\.0\.0\.2:9\//) })
      if (dialect === 'pglite') expect(views.some((v) => v.status === 'running' && Number.isInteger(v.live?.pid))).toBe(true)
      else expect(views.filter((v) => v.status === 'running').length).toBeGreaterThanOrEqual(1)
    } finally {
      await site.close()
    }
  }, 240_000)
})
