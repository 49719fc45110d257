import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openApp, prepareDemo } from '@arachnid/cli'
import { loadConfig, sql } from '@arachnid/core'
import { startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import { type CliEnvironment, type CliProcess, dialectsUnderTest, openCliEnvironment } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/** What a command printed of its own on stderr, line by line (pnpm's lines left out). */
const ownLines = (errors: string) => errors.split('\n').filter((l) => l.trim() !== '')
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!)
/** The media URLs of the site that the known list matches (known originals and their altered copies). */
const matchable = (site: SyntheticSite) => site.manifest.images.filter((i) => i.kind === 'known' || i.kind === 'altered').map((i) => i.url)

/** `pnpm arachnid api --port N`; resolves once its index is loaded. */
async function startService(cli: CliEnvironment, port = 0): Promise<{ process: CliProcess; port: number }> {
  const process = cli.start(['api', '--port', String(port)])
  const [, listening] = await process.waitFor(/matching service: http:\/\/127\.0\.0\.1:(\d+)\//, { stream: 'stderr' })
  await process.waitFor(/index loaded/, { stream: 'stderr' })
  return { process, port: Number(listening) }
}

/**
 * Crawls that match through the matching service (ARACHNID_MATCHER_URL) instead of in-process.
 * Postgres only: the service and the crawl are two processes on one database, which the embedded
 * database does not allow (there, `serve` mounts the API in the one process; the client itself is
 * tested on both dialects in packages/matcher/test/remote-matcher.test.ts).
 */
describe.skipIf(!dialects.includes('postgres'))('crawls through the matching service (pnpm arachnid, postgres)', () => {
  let cli: CliEnvironment
  let site: SyntheticSite
  let service: { process: CliProcess; port: number }
  let matcherUrl: string

  beforeAll(async () => {
    // Slow enough (latency per request) that a crawl is still sending batches when the service is killed.
    site = await startSyntheticSite({ seed: 41, pages: 30, images: 90, latencyMs: 30, badInputs: false })
    cli = await openCliEnvironment('postgres')
    const app = await openApp(loadConfig({ home: cli.home, databaseUrl: cli.databaseUrl, logLevel: 'warn' }, {}))
    try {
      await prepareDemo(app, site)
    } finally {
      await app.close()
    }
    const user = await cli.json<{ user: string; password: string }>(['api', 'users', 'add', 'crawl-worker', '--json'])
    service = await startService(cli)
    matcherUrl = `http://${user.user}:${encodeURIComponent(user.password)}@127.0.0.1:${service.port}`
  }, 120_000)
  afterAll(async () => {
    await service?.process.stop()
    await cli?.close()
    await site?.close()
  })

  const crawl = (env: Record<string, string>) => cli.start(['crawl', `${site.manifest.baseUrl}/`, '--allow', '127.0.0.1/32', '--json'], { env })

  it('finds the same matches as the in-process matcher, and the service is killed and restarted mid-crawl without a media lost or recorded twice', async () => {
    // In-process (no ARACHNID_MATCHER_URL), then through the service, which is SIGKILLed once the
    // crawl has matched some media and started again on the same port a moment later.
    const local = await crawl({}).exited
    expect(local.code, local.errors).toBe(0)
    const before = lastJson(local.stdout)
    expect(before).toMatchObject({ status: 'finished', matchedMedia: matchable(site).length })

    const remote = crawl({ ARACHNID_MATCHER_URL: matcherUrl, LOG_LEVEL: 'warn' })
    const jobId = Number((await cli.withDatabase(async ({ db }) => {
      for (let i = 0; i < 600; i++) {
        const job = await sql<{ id: number; matched: number }>`
          select j.id, (select count(*)::int from media_fetches f where f.job_id = j.id and f.state = 'done') as matched
          from crawl_jobs j where j.id > ${before.jobId} order by j.id desc limit 1`.execute(db)
        const row = job.rows[0]
        if (row !== undefined && row.matched >= 10) return row.id
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error(`the crawl through the service did not get going: ${remote.stderr}`)
    })))
    service.process.signal('SIGKILL')
    await service.process.exited
    await new Promise((resolve) => setTimeout(resolve, 1500))
    service = await startService(cli, service.port)
    const result = await remote.exited
    expect(result.code, result.errors).toBe(0)
    const after = lastJson(result.stdout)
    expect(after.jobId).toBe(jobId)
    // The same matches as in process, from the same site.
    expect(after).toMatchObject({
      status: 'finished', matchedMedia: before.matchedMedia, exactMatches: before.exactMatches, nearMatches: before.nearMatches,
      media: before.media, mediaErrors: before.mediaErrors, errors: before.errors, mediaOpen: 0,
    })
    // The worker said once that it waited, and went on.
    const warnings = ownLines(result.errors).filter((l) => l.includes('matching service unavailable'))
    expect(warnings).toHaveLength(1)

    await cli.withDatabase(async ({ db }) => {
      // Each media URL fetched once by the job, with the outcome the in-process crawl had (the
      // site's one third-party image is refused by the address guard in both); every image of the site hashed.
      const fetchesOf = async (job: number) => (await db.selectFrom('media_fetches').where('job_id', '=', job)
        .select(['url', 'state', 'error_code', 'media_id']).orderBy('url').execute()).map((f) => ({ url: f.url, state: f.state, error: f.error_code, hashed: f.media_id !== null }))
      const fetches = await fetchesOf(jobId)
      expect(fetches.map(({ url, ...rest }) => ({ url: url.replace(site.manifest.baseUrl, ''), ...rest })))
        .toEqual((await fetchesOf(before.jobId)).map(({ url, ...rest }) => ({ url: url.replace(site.manifest.baseUrl, ''), ...rest })))
      expect(new Set(fetches.map((f) => f.url)).size).toBe(fetches.length)
      const byUrl = new Map(fetches.map((f) => [f.url, f]))
      for (const image of site.manifest.images) expect(byUrl.get(image.url), image.url).toMatchObject({ state: 'done', error: null, hashed: true })
      // Every matchable URL matched; no media matched twice to one list entry.
      const matched = await db.selectFrom('media_fetches as f').innerJoin('matches as m', 'm.media_id', 'f.media_id')
        .where('f.job_id', '=', jobId).select('f.url').distinct().execute()
      expect(matched.map((r) => r.url).sort()).toEqual(matchable(site).sort())
      const doubled = await sql<{ n: number }>`select count(*)::int as n from (select media_id, known_hash_id from matches group by 1, 2 having count(*) > 1) d`.execute(db)
      expect(doubled.rows[0]!.n).toBe(0)
    })
  }, 180_000)

  it('says in one line that the service refused the credentials (match and crawl), exit 2', async () => {
    const wrong = matcherUrl.replace(/:[^:@/]+@/, ':not-the-password@')
    const refused = /^arachnid: .*ARACHNID_MATCHER_URL: the matching service at http:\/\/crawl-worker@127\.0\.0\.1:\d+ refused the credentials \(401: authentication failed.*\)/
    const [match, crawled] = await Promise.all([
      cli.run(['match'], { env: { ARACHNID_MATCHER_URL: wrong }, input: `md5:${'0'.repeat(32)}\n` }),
      crawl({ ARACHNID_MATCHER_URL: wrong }).exited,
    ])
    expect(match.code).toBe(2)
    expect(ownLines(match.errors)).toEqual([expect.stringMatching(refused)])
    expect(match.stdout).toBe('')
    // The crawl asks the service before it makes a job: one line, and no job left running.
    expect(crawled.code).toBe(2)
    expect(ownLines(crawled.errors)).toEqual([expect.stringMatching(refused)])
    const before = (await cli.run(['jobs', 'list', '--json'])).stdout
    expect(await cli.run(['crawl', 'http://127.0.0.1:9/', '--allow', '127.0.0.1/32'], { env: { ARACHNID_MATCHER_URL: wrong } })).toMatchObject({ code: 2 })
    expect((await cli.run(['jobs', 'list', '--json'])).stdout).toBe(before)
  }, 120_000)
})
