import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openApp, prepareDemo } from '@arachnid/cli'
import { type ArachnidDatabase, loadConfig, openDatabase, sql } from '@arachnid/core'
import { startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import { type CliEnvironment, type CliProcess, dialectsUnderTest, openCliEnvironment } from '@arachnid/test'

/**
 * Issue 14, part 5: workers that share nothing but the database. Two `pnpm arachnid worker`
 * processes, each with an ARACHNID_HOME of its own (different temporary folders, so no outbox, lock
 * or live-figures file in common) and the same DATABASE_URL, crawl one `crawl --detach` job of the
 * synthetic site; one of them is SIGKILLed mid-crawl (its whole process group: pnpm and the node
 * process under it) and started again with the same home. The job must end finished with nothing
 * lost and nothing doubled, judged from the database and from the site's own request counts.
 *
 * Postgres only: PGlite is one process's embedded database (a second process cannot open it), so
 * there are no two workers sharing it. Under CI=true a missing Postgres fails the run
 * (dialectsUnderTest).
 */
const dialects = await dialectsUnderTest()

/** The node process running the CLI (`scripts/arachnid.mjs`) in the process group of `pnpm arachnid ...`: its pid is in the worker's lease id (host:pid). */
async function nodePidOf(proc: CliProcess): Promise<number> {
  const group = proc.child.pid!
  for (let i = 0; i < 600; i++) {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue
      try {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8')
        // After "pid (comm) ": state, ppid, pgrp, ...
        const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
        if (pgrp !== group) continue
        const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0')
        if (path.basename(argv[0] ?? '') === 'node' && argv.some((a) => a.endsWith('scripts/arachnid.mjs'))) return Number(entry)
      } catch {
        // Gone meanwhile.
      }
    }
    await sleep(100)
  }
  throw new Error(`no node process in the process group of ${group}`)
}

describe.skipIf(!dialects.includes('postgres'))('two workers sharing nothing but the database, one killed mid-crawl and restarted (pnpm arachnid, Postgres)', () => {
  let site: SyntheticSite
  let cli: CliEnvironment
  let homeB: string
  let db: ArachnidDatabase
  /** Workers started, killed at the end if a failed check left them running. */
  const workers: CliProcess[] = []

  beforeAll(async () => {
    // A few hundred pages and images (10% known, each with an altered copy, mirrors), and the bad-input
    // page, whose media fail with a reason; a little latency so the crawl lasts long enough to be killed mid-way.
    site = await startSyntheticSite({ seed: 71, pages: 200, images: 300, latencyMs: 100 })
    // Worker A's home and the database; worker B gets only the same DATABASE_URL and a home of its own.
    cli = await openCliEnvironment('postgres')
    homeB = await mkdtemp(path.join(os.tmpdir(), 'arachnid-worker-b-'))
    // The known list (hashes of the site's known images) and the loopback provider, as `arachnid demo` does.
    const app = await openApp(loadConfig({ home: cli.home, databaseUrl: cli.databaseUrl, logLevel: 'warn' }, {}))
    try {
      await prepareDemo(app, site)
    } finally {
      await app.close()
    }
    db = await openDatabase({ databaseUrl: cli.databaseUrl, poolSize: 2 })
  })
  afterAll(async () => {
    for (const worker of workers) worker.signal('SIGKILL')
    await Promise.all(workers.map((w) => w.exited))
    await db?.close()
    await cli?.close()
    await site?.close()
    if (homeB) await rm(homeB, { recursive: true, force: true })
  })

  it('finishes the job: no page fetched twice but the dead worker\'s, no media lost, every match and one notice per matched URL', async () => {
    const started = performance.now()
    const { jobId } = await cli.json<{ jobId: number }>(['crawl', `${site.manifest.baseUrl}/`, '--allow', '127.0.0.1/32', '--detach', '--json'])
    // Each worker's log at info level: it says when the worker joins and leaves the job. A first,
    // then B once A has joined (two processes starting at once on a loaded machine can take long).
    // Slow enough (the site's latency, few pages at once) that the second worker joins while the first is mid-crawl.
    const workerArgs = ['worker', '--exit-when-idle', '--page-concurrency', '2', '--media-concurrency', '4']
    const joined = /"job":\d+,"msg":"worker joined job"/
    const workerA = cli.start(workerArgs, { env: { LOG_LEVEL: 'info' }, timeoutMs: 240_000 })
    workers.push(workerA)
    await workerA.waitFor(joined, { stream: 'stderr', timeoutMs: 90_000 })
    const workerB = cli.start(workerArgs, { env: { ARACHNID_HOME: homeB, LOG_LEVEL: 'info' }, timeoutMs: 240_000 })
    workers.push(workerB)
    await workerB.waitFor(joined, { stream: 'stderr', timeoutMs: 90_000 })
    const host = os.hostname()
    const idA = `${host}:${await nodePidOf(workerA)}`
    const idB = `${host}:${await nodePidOf(workerB)}`

    // Kill A once the crawl is well under way (a fifth of the pages recorded), both workers have
    // taken work, and A holds leases of both kinds, so that it dies with pages and media in flight.
    // (Checked just before the kill; what it still held after is read back below.)
    const total = site.manifest.pages.length
    for (let i = 0; ; i++) {
      const { rows: [state] } = await sql<{ pages: number; heldPages: number; heldMedia: number; byB: number }>`select
          (select count(*) from pages where job_id = ${jobId})::int as pages,
          (select count(*) from frontier where job_id = ${jobId} and status = 'leased' and leased_by = ${idA})::int as "heldPages",
          (select count(*) from media_fetches where job_id = ${jobId} and state = 'leased' and leased_by = ${idA})::int as "heldMedia",
          (select count(*) from frontier where job_id = ${jobId} and leased_by = ${idB})::int as "byB"`.execute(db.db)
      if (state!.pages >= total / 5 && state!.heldPages > 0 && state!.heldMedia > 0 && state!.byB > 0) break
      if (i > 1200) {
        const leases = await sql`select leased_by, status, count(*)::int as n from frontier where job_id = ${jobId} group by 1, 2`.execute(db.db)
        throw new Error(`no moment to kill worker A (${idA}; B is ${idB}): ${JSON.stringify(state)}, frontier ${JSON.stringify(leases.rows)}\nA: ${workerA.stderr}\nB: ${workerB.stderr}`)
      }
      await sleep(50)
    }
    workerA.signal('SIGKILL')
    const killed = await workerA.exited
    expect(killed.signal).toBe('SIGKILL')
    const killedAt = performance.now()
    // A again at once, same home, same database: a new process (a new lease id).
    const workerA2 = cli.start(workerArgs, { env: { LOG_LEVEL: 'info' }, timeoutMs: 240_000 })
    workers.push(workerA2)

    // What A died holding: its leases not done. Nobody else may take them until they expire (the
    // job's lease, 60 s), so the site's counts for their URLs now are A's own requests: 0 (leased,
    // not yet started or waiting) or 1 (sent) each.
    const deadPages = new Map((await db.db.selectFrom('frontier').select(['url', 'attempts']).where('job_id', '=', jobId)
      .where('status', '=', 'leased').where('leased_by', '=', idA).execute()).map((r) => [r.url, r.attempts]))
    const deadMedia = new Set((await db.db.selectFrom('media_fetches').select('url').where('job_id', '=', jobId)
      .where('state', '=', 'leased').where('leased_by', '=', idA).execute()).map((r) => r.url))
    const atKill = new Map([...deadPages.keys(), ...deadMedia].map((url) => [url, site.stats.byPath.get(new URL(url).pathname)?.requests ?? 0]))
    expect(deadPages.size + deadMedia.size).toBeGreaterThan(0)
    const summaryAtKill = await cli.json(['jobs', 'show', String(jobId), '--json'])
    expect(summaryAtKill).toMatchObject({ status: 'running' })
    expect(summaryAtKill.pages).toBeLessThan(total)

    const idA2 = `${host}:${await nodePidOf(workerA2)}`
    // While they work: a URL the frontier inserted "on hold" (not_before = infinity, released a few
    // statements later by the process that inserted it) and still held half a minute on was left by
    // the killed worker. Nothing releases it, and the job can never finish (the workers would wait
    // for it forever): fail at once, saying so, rather than at the workers' timeout.
    const stranded = async (): Promise<{ url: string; held: number }[]> => (await sql<{ url: string; held: number }>`
      select url, extract(epoch from now() - added_at)::int as held from frontier
      where job_id = ${jobId} and status = 'queued' and not_before = 'infinity'::timestamptz and added_at < now() - interval '30 seconds'`.execute(db.db)).rows
    const exited = Promise.all([workerB.exited, workerA2.exited])
    let left: { url: string; held: number }[] = []
    for (let settled = false; !settled && left.length === 0;) {
      settled = await Promise.race([exited.then(() => true), sleep(2000).then(() => false)])
      if (!settled) left = await stranded()
    }
    if (left.length > 0) {
      workerB.signal('SIGKILL')
      workerA2.signal('SIGKILL')
      await exited
      expect.fail(`the killed worker left ${left.length} frontier URLs on hold (queued, not_before = infinity, for ${left[0]!.held} s and more), `
        + `which no worker ever leases, so job ${jobId} cannot finish: ${left.slice(0, 3).map((r) => r.url).join(', ')}`)
    }
    const [doneB, doneA2] = await exited
    const finishedAt = performance.now()
    expect(doneB.code, doneB.errors).toBe(0)
    expect(doneA2.code, doneA2.errors).toBe(0)
    // A2 joined the job too (it starts seconds after the kill, with most of the site still to go).
    expect(doneA2.errors).toMatch(joined)

    // The job, as `jobs show` gives it: finished, every page, nothing open, no page error.
    const done = await cli.json(['jobs', 'show', String(jobId), '--json'])
    expect(done).toMatchObject({ status: 'finished', pages: total, pageErrors: 0, mediaOpen: 0, queued: 0, leased: 0 })

    // Pages. The pages table has one row per job and URL by its unique key, so "one row per URL" is
    // only the key; the claim is in the site's own counts. Every page was GET once, except those A
    // died holding: each of those was GET once more, by the worker that took it after its lease ran
    // out (so 1 if A had not sent its request yet, 2 if it had). Nothing else was fetched again:
    // no page of a live worker, none of A's finished pages.
    const byPath = site.stats.byPath
    const pageRows = await db.db.selectFrom('pages').select(['url', 'status', 'error_code']).where('job_id', '=', jobId).execute()
    expect(pageRows.map((p) => p.url).sort()).toEqual([...site.manifest.pages].sort())
    expect(pageRows.filter((p) => p.error_code !== null || p.status !== 200)).toEqual([])
    const pageGets = site.manifest.pages.map((url) => ({ url, gets: byPath.get(new URL(url).pathname)?.requests ?? 0 }))
    expect(pageGets.filter((p) => !deadPages.has(p.url) && p.gets !== 1)).toEqual([])
    expect(pageGets.filter((p) => deadPages.has(p.url) && p.gets !== atKill.get(p.url)! + 1)).toEqual([])
    // Who did what (leased_by stays on a row once done): the dead worker's leases were all taken over
    // by the others, each lease of them counting once more; every row else was leased once.
    const frontier = await db.db.selectFrom('frontier').select(['url', 'status', 'attempts', 'leased_by']).where('job_id', '=', jobId).execute()
    expect(frontier.filter((f) => f.status !== 'done')).toEqual([])
    expect(frontier.filter((f) => deadPages.has(f.url) && (f.leased_by === idA || f.attempts !== deadPages.get(f.url)! + 1))).toEqual([])
    expect(frontier.filter((f) => !deadPages.has(f.url) && f.attempts !== 1)).toEqual([])
    // The site's robots.txt, fetched once for the job (by `crawl --detach` as it seeded): the workers read it from the database.
    expect(byPath.get('/robots.txt')?.requests).toBe(1)

    // Media. Every image URL of the site has its row, done, with hashes (its media) or, for the
    // bad-input page's, a reason; each was GET once, except those A died holding (again 1 + A's own request).
    const fetches = await db.db.selectFrom('media_fetches').select(['url', 'state', 'media_id', 'error_code', 'leased_by']).where('job_id', '=', jobId).execute()
    const fetchByUrl = new Map(fetches.map((f) => [f.url, f]))
    expect(fetches.filter((f) => f.state !== 'done')).toEqual([])
    for (const image of site.manifest.images) {
      const row = fetchByUrl.get(image.url)
      expect(row, image.url).toBeDefined()
      if (image.kind === 'bad') expect([row!.media_id, row!.error_code], image.url).toEqual([null, expect.any(String)])
      else expect([typeof row!.media_id, row!.error_code], image.url).toEqual(['number', null])
    }
    expect(fetches.filter((f) => f.error_code === 'LEASE_EXPIRED')).toEqual([])
    const mediaGets = site.manifest.images.map((i) => ({ url: i.url, gets: byPath.get(new URL(i.url).pathname)?.requests ?? 0 }))
    expect(mediaGets.filter((m) => !deadMedia.has(m.url) && m.gets !== 1)).toEqual([])
    expect(mediaGets.filter((m) => deadMedia.has(m.url) && m.gets !== atKill.get(m.url)! + 1)).toEqual([])
    expect(fetches.filter((f) => deadMedia.has(f.url) && f.leased_by === idA)).toEqual([])

    // Who did what, by the lease id left on each row done: A (before its death) and B did work (the
    // kill waited for both); A2's share depends on how fast B takes what appears, and is only reported.
    const by = (id: string) => frontier.filter((f) => f.leased_by === id).length + fetches.filter((f) => f.leased_by === id).length
    expect({ A: by(idA) > 0, B: by(idB) > 0 }).toEqual({ A: true, B: true })

    // Matches: the URLs matched are exactly the known images and their altered copies (mirrors
    // included), each media matched once per list entry, nothing unrelated matched.
    const expected = site.manifest.images.filter((i) => i.kind === 'known' || i.kind === 'altered').map((i) => i.url).sort()
    expect(expected.length).toBeGreaterThan(20)
    const matched = await sql<{ url: string }>`select distinct f.url from media_fetches f join matches m on m.media_id = f.media_id where f.job_id = ${jobId} order by f.url`.execute(db.db)
    expect(matched.rows.map((r) => r.url).sort()).toEqual(expected)
    const doubled = await sql<{ media_id: number; known_hash_id: number; n: number }>`
      select media_id, known_hash_id, count(*)::int as n from matches where job_id = ${jobId} group by 1, 2 having count(*) > 1`.execute(db.db)
    expect(doubled.rows).toEqual([])
    expect(done.matchedMedia).toBe(expected.length)

    // Notices: one per matched URL, whichever worker matched it (and A may have died after making some).
    const notices = await sql<{ url: string; n: number }>`select media_url as url, count(*)::int as n from notices where job_id = ${jobId} group by 1 order by 1`.execute(db.db)
    expect(notices.rows.map((r) => [r.url, r.n]).sort()).toEqual(expected.map((url) => [url, 1]))
    expect(done.notices).toBe(expected.length)
    // Their emails went to .eml files in the home of the worker that sent each (no folder is
    // shared): one file per email sent, across the two homes. An email A had claimed when it died
    // stays leased to it for ARACHNID_OUTBOX_LEASE (120 s, longer than this test): those, and only
    // those, are not sent yet; one of them may have its file already (A died between the file's
    // rename, the commit, and recording it sent: 'committing', in doubt once its lease runs out).
    // The .eml transport skips a key whose file exists, but only within its own folder, so a file
    // in both homes is allowed only for an email found in doubt and resent.
    const outbox = await sql<{ key: string; status: string; in_doubt: boolean; leased: boolean }>`
      select o.idempotency_key as key, o.status, o.in_doubt, coalesce(o.lease_until > now(), false) as leased
      from outbox o join notices n on n.id = o.notice_id where n.job_id = ${jobId}`.execute(db.db)
    expect(outbox.rows).toHaveLength(expected.length)
    const fileOf = (key: string) => `${key.replace(/[^a-zA-Z0-9._-]/g, '_')}.eml`
    const emlOf = async (home: string) => (await readdir(path.join(home, 'outbox')).catch(() => [] as string[])).filter((f) => f.endsWith('.eml'))
    const [emlA, emlB] = [await emlOf(cli.home), await emlOf(homeB)]
    const inDoubt = new Set(outbox.rows.filter((o) => o.in_doubt).map((o) => fileOf(o.key)))
    expect(emlA.filter((f) => emlB.includes(f) && !inDoubt.has(f))).toEqual([])
    const leftToA = outbox.rows.filter((o) => o.status !== 'sent')
    expect(leftToA.filter((o) => !(['sending', 'committing'].includes(o.status) && o.leased))).toEqual([])
    const sent = outbox.rows.filter((o) => o.status === 'sent').map((o) => fileOf(o.key))
    const files = new Set([...emlA, ...emlB])
    expect(sent.filter((f) => !files.has(f))).toEqual([])
    const committing = new Set(leftToA.filter((o) => o.status === 'committing').map((o) => fileOf(o.key)))
    expect([...files].filter((f) => !sent.includes(f) && !(committing.has(f) && emlA.includes(f)))).toEqual([])

    console.info(`[workers-share-nothing] job ${jobId}: ${total} pages, ${site.manifest.images.length} image URLs, ${expected.length} matched; `
      + `A died holding ${deadPages.size} pages (${[...deadPages.keys()].filter((u) => atKill.get(u)! > 0).length} requested) and ${deadMedia.size} media `
      + `(${[...deadMedia].filter((u) => atKill.get(u)! > 0).length} requested); kill at ${((killedAt - started) / 1000).toFixed(1)} s, end at ${((finishedAt - started) / 1000).toFixed(1)} s; `
      + `leases A ${by(idA)}, B ${by(idB)}, A' ${by(idA2)}; emails ${emlA.length} in A's home, ${emlB.length} in B's, ${leftToA.length} left leased to A (${leftToA.filter((o) => files.has(fileOf(o.key))).length} with its file)`)
  }, 300_000)
})
