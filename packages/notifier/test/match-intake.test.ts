import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hexToBytes } from '@arachnid/core'
import { Matcher, importList } from '@arachnid/matcher'
import { MatchIntake, setProviderRule } from '@arachnid/notifier'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()
const reporter = { name: 'Arachnid test reporter', from: 'Arachnid <notices@reporter.test>' }
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const md5 = (s: string) => createHash('md5').update(s).digest('hex')
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex')
/** `hex` with the first `n` bits flipped. */
function flip(hex: string, n: number): string {
  const b = Buffer.from(hex, 'hex')
  for (let i = 0; i < n; i++) b[i >> 3]! ^= 0x80 >> (i & 7)
  return b.toString('hex')
}

describe.each(dialects)('the match intake on %s', (dialect) => {
  let handle: TestDatabase
  let jobId: number
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    await setProviderRule(handle.db, { pattern: 'files.intake.test', name: 'Intake Hosting', abuseEmail: 'abuse@intake.test' })
    jobId = (await handle.db.insertInto('crawl_jobs').values({ name: 'intake', seeds: '[]', options: '{}', status: 'running' }).returning('id').executeTakeFirstOrThrow()).id
  })
  afterAll(async () => { await handle?.close() })

  /** A media row (hashes only) with a PDQ hash of good quality, and the evidence of one fetch of it, seen on one page. */
  async function media(name: string, pdq: string, url: string): Promise<{ mediaId: number; fetchId: number; hashes: { sha256: string; md5: string; sha1: string; pdq: string } }> {
    const hashes = { sha256: sha256(name), md5: md5(name), sha1: sha1(name), pdq }
    const { id: mediaId } = await handle.db.insertInto('media').values({
      sha256: hexToBytes(hashes.sha256), md5: hexToBytes(hashes.md5), sha1: hexToBytes(hashes.sha1), pdq: hexToBytes(pdq), pdq_quality: 100, bytes: 1000,
    }).returning('id').executeTakeFirstOrThrow()
    const { id: pageId } = await handle.db.insertInto('pages').values({ job_id: jobId, url: `${url}.html`, depth: 0, media_found: 1 }).returning('id').executeTakeFirstOrThrow()
    const { id: fetchId } = await handle.db.insertInto('media_fetches').values({
      job_id: jobId, url, final_url: url, status: 200, server_ip: '203.0.113.9', bytes: 1000, media_id: mediaId, state: 'done',
    }).returning('id').executeTakeFirstOrThrow()
    await handle.db.insertInto('sightings').values({ job_id: jobId, page_id: pageId, fetch_id: fetchId, via: 'img' }).execute()
    return { mediaId, fetchId, hashes }
  }

  it('records each match once with the policy\'s decision, and notices only what the policy lets through', async () => {
    const close = sha256('close-entry')
    await importList(handle.db, { name: 'intake-verified', lines: ['algorithm,hash,category', `md5,${md5('exact-content')},A1`, `pdq,${close}`] })
    const matcher = new Matcher(handle.db, { refreshIntervalMs: 0 })
    const exact = await media('exact-content', sha256('exact-pdq'), 'http://files.intake.test/exact.jpg')
    // 20 bits from the entry: within the match threshold (31), beyond the policy's automatic one (16).
    const near = await media('near-content', flip(close, 20), 'http://files.intake.test/near.jpg')
    const found = await matcher.match([{ algorithm: 'md5', hash: exact.hashes.md5 }, { algorithm: 'pdq', hash: near.hashes.pdq, quality: 100 }])
    const detectedAt = new Date('2026-11-30T10:00:00Z')
    const items = [
      { ...exact, jobId, url: 'http://files.intake.test/exact.jpg', finalUrl: 'http://files.intake.test/exact.jpg', serverIp: '203.0.113.9', pageUrls: ['http://files.intake.test/gallery.html'], detectedAt, matches: found[0]! },
      { ...near, jobId, url: 'http://files.intake.test/near.jpg', finalUrl: 'http://files.intake.test/near.jpg', serverIp: '203.0.113.9', pageUrls: [], detectedAt, matches: found[1]! },
    ]
    const intake = new MatchIntake(handle.db, { reporter })
    const first = await intake.intake(items)
    expect(first.recorded.map((r) => [r.mediaId, r.status, r.reason])).toEqual([[exact.mediaId, 'auto-confirmed', 'exact'], [near.mediaId, 'pending', 'near']])
    expect(first.notifiable).toEqual([exact.mediaId])
    expect(first.notices).toMatchObject({ created: 1, unassigned: 0 })
    const notice = await handle.db.selectFrom('notices').where('reference', '=', first.notices.references[0]!)
      .select(['media_url', 'media_id', 'job_id', 'incident']).executeTakeFirstOrThrow()
    expect(notice).toMatchObject({ media_url: 'http://files.intake.test/exact.jpg', media_id: exact.mediaId, job_id: jobId })
    // The notice names the page the crawl just saw it on, and the match.
    expect(notice.incident).toMatchObject({ pageUrls: ['http://files.intake.test/gallery.html'], matches: [{ list: 'intake-verified', algorithm: 'md5', category: 'A1' }] })

    const again = await intake.intake(items)
    expect(again.recorded).toEqual([])
    expect(again.notifiable).toEqual([exact.mediaId])
    expect(again.notices.created).toBe(0)
    const matches = await handle.db.selectFrom('matches').where('media_id', 'in', [exact.mediaId, near.mediaId]).select('status').execute()
    expect(matches.map((m) => m.status).sort()).toEqual(['auto-confirmed', 'pending'])
  })

  it('notices a stored media from its stored evidence (a retro-hunt), and what an analyst confirmed', async () => {
    await importList(handle.db, { name: 'intake-late', lines: ['algorithm,hash', `sha1,${sha1('seen-before')}`] })
    await importList(handle.db, { name: 'intake-review', lines: ['algorithm,hash', `sha1,${sha1('waits')}`] })
    await handle.db.updateTable('hash_lists').set({ review_mode: 'review-required' }).where('name', '=', 'intake-review').execute()
    const matcher = new Matcher(handle.db, { refreshIntervalMs: 0 })
    const seen = await media('seen-before', sha256('seen-pdq'), 'http://files.intake.test/seen.jpg')
    const waits = await media('waits', sha256('waits-pdq'), 'http://files.intake.test/waits.jpg')
    const [seenMatches, waitsMatches] = await matcher.match([{ algorithm: 'sha1', hash: seen.hashes.sha1 }, { algorithm: 'sha1', hash: waits.hashes.sha1 }])
    let told = 0
    const intake = new MatchIntake(handle.db, { reporter, onNotices: (r) => { told += r.created } })

    const hunted = await intake.intakeStored([{ mediaId: seen.mediaId, jobId: null, matches: seenMatches! }, { mediaId: waits.mediaId, jobId: null, matches: waitsMatches! }])
    expect(hunted.recorded.map((r) => [r.mediaId, r.status])).toEqual([[seen.mediaId, 'auto-confirmed'], [waits.mediaId, 'pending']])
    expect(hunted.notices.created).toBe(1)
    const stored = await handle.db.selectFrom('notices').where('media_id', '=', seen.mediaId).select(['media_url', 'incident']).executeTakeFirstOrThrow()
    expect(stored).toMatchObject({ media_url: 'http://files.intake.test/seen.jpg', incident: { pageUrls: ['http://files.intake.test/seen.jpg.html'], serverIp: '203.0.113.9' } })

    // The waiting match, once an analyst confirms it: a notice from the stored evidence, and only once.
    const pending = await handle.db.selectFrom('matches').where('media_id', '=', waits.mediaId).where('status', '=', 'pending').select('id').execute()
    const confirmed = await intake.confirmed(waits.mediaId, pending.map((m) => m.id))
    expect(confirmed).toMatchObject({ created: 1, unassigned: 0 })
    expect((await intake.confirmed(waits.mediaId, pending.map((m) => m.id))).created).toBe(0)
    expect(await handle.db.selectFrom('notices').where('media_id', '=', waits.mediaId).select('media_url').execute()).toEqual([{ media_url: 'http://files.intake.test/waits.jpg' }])
    expect(told).toBe(2)
  })
})
