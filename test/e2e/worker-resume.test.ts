import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, openApp, openCrawlSession, prepareDemo } from '@arachnid/cli'
import { loadConfig, sql } from '@arachnid/core'
import { CrawlJob, runWorker, summarizeJob } from '@arachnid/crawler'
import { startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const root = fileURLToPath(new URL('../../', import.meta.url))
const dialects = await dialectsUnderTest()

/**
 * The only worker of a job is SIGKILLed mid-crawl; another worker takes over once its leases
 * expire. Every page is crawled, every match found, and each matched URL gets exactly one notice.
 * Postgres only: PGlite is one process's database by design, so there is no second process to kill.
 */
describe.skipIf(!dialects.includes('postgres'))('a worker killed mid-crawl', () => {
  let site: SyntheticSite
  let pg: TestDatabase
  let home: string
  let app: App

  beforeAll(async () => {
    site = await startSyntheticSite({ seed: 11, pages: 90, images: 160, latencyMs: 40, badInputs: false })
    pg = await openTestDatabase('postgres')
    home = await mkdtemp(path.join(os.tmpdir(), 'arachnid-resume-'))
    app = await openApp(loadConfig({ home, databaseUrl: pg.url!, logLevel: 'warn' }, {}))
    await prepareDemo(app, site)
  })
  afterAll(async () => {
    await app?.close()
    await site?.close()
    await pg?.close()
    await rm(home, { recursive: true, force: true })
  })

  it('loses nothing and doubles nothing', async () => {
    const session = await openCrawlSession(app)
    const job = await CrawlJob.create(session.deps, {
      seeds: [`${site.manifest.baseUrl}/`], allowAddresses: ['127.0.0.1/32'], leaseMs: 2000, pageConcurrency: 2, mediaConcurrency: 2, matchBatchSize: 8,
    })
    const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'packages/cli/src/main.ts'), 'worker', '--exit-when-idle'], {
      cwd: home, stdio: 'ignore',
      env: { ...process.env, DATABASE_URL: pg.url!, ARACHNID_HOME: home, SMTP_URL: '', LOG_LEVEL: 'warn' },
    })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
    // Kill it once it has done real work but is far from done.
    for (let i = 0; i < 600; i++) {
      const s = await summarizeJob(app.database.db, job.id)
      if (s.pages >= 15 && s.media >= 10) break
      await sleep(100)
    }
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')
    const atKill = await summarizeJob(app.database.db, job.id)
    expect(atKill.status).toBe('running')
    expect(atKill.pages).toBeLessThan(site.manifest.pages.length)
    expect(atKill.leased + atKill.queued).toBeGreaterThan(0)

    await runWorker(session.deps, { exitWhenIdle: true, pollMs: 200 })
    await session.deliver()
    await session.close()

    const done = await summarizeJob(app.database.db, job.id)
    expect(done.status).toBe('finished')
    expect(done.pages).toBe(site.manifest.pages.length)
    const expected = new Set(site.manifest.images.filter((i) => i.kind === 'known' || i.kind === 'altered').map((i) => i.url))
    const matched = await app.database.db.selectFrom('media_fetches as f').innerJoin('matches as m', 'm.media_id', 'f.media_id')
      .where('f.job_id', '=', job.id).select('f.url').distinct().execute()
    expect(new Set(matched.map((r) => r.url))).toEqual(expected)
    // One match row per media and list entry, one notice and one email per matched URL.
    const doubled = await sql<{ n: number }>`select count(*)::int as n from (select media_id, known_hash_id from matches group by 1, 2 having count(*) > 1) d`.execute(app.database.db)
    expect(doubled.rows[0]!.n).toBe(0)
    const notices = await app.database.db.selectFrom('notices').select('media_url').execute()
    expect(notices.map((n) => n.media_url).sort()).toEqual([...expected].sort())
    // An email the dead worker had claimed stays leased to it until the lease runs out; let that
    // time pass, then deliver: it goes out, once.
    await sql`update outbox set lease_until = now() - interval '1 second' where status in ('sending', 'committing')`.execute(app.database.db)
    await (await app.delivery()).deliverDue()
    const outbox = await app.database.db.selectFrom('outbox').select(['status']).execute()
    expect(outbox.map((o) => o.status)).toEqual(outbox.map(() => 'sent'))
    const emails = (await readdir(path.join(home, 'outbox'))).filter((f) => f.endsWith('.eml'))
    expect(emails).toHaveLength(expected.size)
  })
})
