import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '@arachnid/core'
import { Matcher, importList, recordMatches } from '@arachnid/matcher'
import { AckLinks } from '@arachnid/notifier'
import { ReviewServer, listAudit, listQueue, reviewStats } from '@arachnid/review'
import { dialectsUnderTest, openTestDatabase } from '@arachnid/test'
import { ACK_SECRET, ApiClient, REPORTER, type ReviewFixture, asResponse, openReviewFixture } from './review-fixture.js'

const dialects = await dialectsUnderTest()
const ack = new AckLinks({ secret: ACK_SECRET, baseUrl: 'http://127.0.0.1/' })

/** What the review server refuses (bad cookies, bad query parameters), and what reaches its queue (disputes). */
describe.each(dialects)('review server input and disputes on %s', (dialect) => {
  let f: ReviewFixture
  let ana: ApiClient
  let sue: ApiClient
  let ada: ApiClient
  const ids = async (client: ApiClient, path = '/api/queue') => ((await client.json('GET', path)).body.items as { mediaId: number }[]).map((i) => i.mediaId)
  const dispute = async (reference: string, message: string) => asResponse(await f.server.inject({
    method: 'POST', url: `/ack/${ack.token(reference)}`, payload: new URLSearchParams({ answer: 'dispute', message }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' },
  }))
  const noticeOf = async (url: string) => f.handle.db.selectFrom('notices').select(['id', 'reference', 'status']).where('media_url', '=', url).executeTakeFirstOrThrow()

  beforeAll(async () => {
    f = await openReviewFixture(dialect, { ack })
    ana = await ApiClient.login(f.server, 'ana')
    sue = await ApiClient.login(f.server, 'sue')
    ada = await ApiClient.login(f.server, 'ada')
  })
  afterAll(async () => {
    await f?.close()
  })

  it('answers a malformed session cookie with 400 on every route, and clears it so logging in works again', async () => {
    for (const path of ['/healthz', '/login', '/queue', '/api/queue', '/api/me', '/no-such-page']) {
      const response = await f.server.inject({ url: path, headers: { cookie: 'arachnid_session=%E0%A4%A', accept: 'application/json' } })
      expect(response.statusCode, path).toBe(400)
      expect(response.headers['set-cookie'], path).toMatch(/^arachnid_session=; .*Max-Age=0/)
    }
    const api = await f.server.inject({ url: '/api/queue', headers: { cookie: 'arachnid_session=%E0%A4%A' } })
    expect(api.json()).toEqual({ error: { code: 'BAD_COOKIE', message: expect.stringMatching(/malformed/) } })
    // A page gets a page saying so.
    const page = await f.server.inject({ url: '/queue', headers: { cookie: 'arachnid_session=%E0%A4%A', accept: 'text/html' } })
    expect([page.statusCode, page.headers['content-type'], page.body]).toEqual([400, 'text/html; charset=utf-8', expect.stringContaining('cookie is malformed')])
    // Another program's cookie for the same host (cookies ignore ports) is none of our business.
    const foreign = await f.server.inject({ url: '/api/queue', headers: { cookie: `other_app=%E0%A4%A; ${ana.cookie}` } })
    expect(foreign.statusCode).toBe(200)
  })

  it('says nothing of an unexpected failure\'s cause: 500 INTERNAL, no database error code, and logs it', async () => {
    const broken = await openTestDatabase(dialect)
    const logged: Record<string, unknown>[] = []
    const sink = new Writable({ write(chunk, _encoding, done) { logged.push(JSON.parse(String(chunk)) as Record<string, unknown>); done() } })
    const server = await ReviewServer.create({ db: broken.db, reporter: REPORTER, logger: createLogger({ destination: sink }) })
    try {
      await broken.close()
      const response = await server.inject({ url: '/api/queue', headers: { cookie: 'arachnid_session=some-token' } })
      expect(response.statusCode).toBe(500)
      expect(response.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } })
      // What the client is not told is in the log, where the operator looks.
      expect(logged).toEqual([expect.objectContaining({ level: 50, msg: 'request failed', path: '/api/queue', err: expect.objectContaining({ message: expect.any(String) }) })])
    } finally {
      await server.close()
    }
  })

  it('refuses query parameters that are not what the route takes with 400 and a message naming them', async () => {
    for (const [path, name] of [
      ['/api/audit?limit=abc', 'limit'], ['/api/audit?limit=-1', 'limit'], ['/api/audit?limit=0', 'limit'], ['/api/audit?limit=501', 'limit'],
      ['/api/audit?before=abc', 'before'], ['/api/audit?action=drop-table', 'action'], ['/api/queue?list=abc', 'list'], ['/api/queue?job=-3', 'job'],
      ['/api/queue?job=99999999999', 'job'], ['/api/queue?queue=everyone', 'queue'], [`/api/queue?provider=${'x'.repeat(201)}`, 'provider'],
    ] as const) {
      const response = await sue.json('GET', path)
      expect(response.status, path).toBe(400)
      expect(response.body.error, path).toEqual({ code: 'BAD_QUERY', message: expect.stringContaining(`query parameter ${name}=`) })
    }
    expect((await sue.json('GET', '/api/audit?limit=abc')).body.error.message).toBe('query parameter limit="abc": expected an integer from 1 to 500')
    const page = await ana.request('GET', '/queue?list=abc', undefined, { accept: 'text/html' })
    expect(page.status).toBe(400)
    expect(await page.text()).toContain('query parameter list=')
    // Within range they work, and empty ones mean "not given".
    expect((await sue.json('GET', '/api/audit?limit=2')).body.entries).toHaveLength(2)
    expect((await sue.json('GET', '/api/audit?limit=&action=login')).body.entries.length).toBeGreaterThanOrEqual(3)
    // Ids beyond a database integer name nothing: 404, not a database error.
    expect((await ana.json('GET', '/api/items/99999999999')).status).toBe(404)
    expect((await ada.json('POST', '/api/lists/99999999999/review', { mode: 'verified' })).status).toBe(404)
    expect((await ada.json('POST', `/api/lists/${f.listIds.secondLook}/review`, { priority: 1e12 })).status).toBe(400)
    // The policy's ranges: distances 0..256 (a warning above 64), quality 0..100.
    expect((await ada.json('POST', '/api/policy', { minQuality: 101 })).body.error).toMatchObject({ code: 'BAD_POLICY', message: 'minQuality 101: expected an integer from 0 to 100' })
    expect((await ada.json('POST', '/api/policy', { autoPdqDistance: 257 })).status).toBe(400)
    const wide = await ada.json('POST', '/api/policy', { autoPdqDistance: 70, reason: 'test' })
    expect(wide.body).toMatchObject({ policy: { autoPdqDistance: 70 }, warnings: ['autoPdqDistance 70 is above 64: distances that large match unrelated images'] })
    expect((await ada.json('POST', '/api/policy', { autoPdqDistance: 16 })).body.warnings).toEqual([])
  })

  it('counts "waiting for review" as the queue does: a media noticed through one match does not wait for its others', async () => {
    // The exact media was noticed (auto-confirmed); a review-required list matching it too leaves a pending match behind.
    await importList(f.handle.db, { name: 'also-known', lines: ['algorithm,hash,category,external_id', `md5,${f.media.exact.hashes.md5},A1,also`] })
    await f.handle.db.updateTable('hash_lists').set({ review_mode: 'review-required' }).where('name', '=', 'also-known').execute()
    const matcher = new Matcher(f.handle.db, { refreshIntervalMs: 0 })
    const [found] = await matcher.match([{ algorithm: 'md5', hash: f.media.exact.hashes.md5 }])
    const recorded = await recordMatches(f.handle.db, [{ mediaId: f.media.exact.mediaId, jobId: null, matches: found!.filter((m) => m.list === 'also-known') }])
    expect(recorded).toMatchObject([{ status: 'pending', reason: 'review-required' }])

    const queue = await ids(ana)
    expect(queue).not.toContain(f.media.exact.mediaId)
    expect(queue).toHaveLength(3)
    const stats = (await ana.json('GET', '/api/stats')).body
    expect(stats.queue).toEqual({ pending: 3, escalated: 0 })
    expect((await reviewStats(f.handle.db)).queue.pending).toBe((await listQueue(f.handle.db)).length + (await listQueue(f.handle.db, { escalated: true })).length)
    const html = await (await ana.request('GET', '/stats', undefined, { accept: 'text/html' })).text()
    expect(html).toContain('waiting for review: 3 media (0 escalated)')
    expect(await (await ana.request('GET', '/metrics')).text()).toMatch(/arachnid_review_queue_media\{queue="analysts"\} 3/)
  })

  it('puts a provider\'s dispute in the queue with its words; confirm upholds the notice, escalate goes to supervisors', async () => {
    const notice = await noticeOf(f.media.exact.url)
    const words = 'We checked: this file is our <own> product photo & not listed material.'
    expect((await dispute(notice.reference, words)).status).toBe(200)

    const { body } = await ana.json('GET', '/api/queue')
    const item = body.items.find((i: { mediaId: number }) => i.mediaId === f.media.exact.mediaId)
    expect(item).toMatchObject({ reasons: ['dispute'], url: f.media.exact.url, disputes: [{ reference: notice.reference, message: words, mediaUrl: f.media.exact.url, escalated: false }] })
    expect(item.lists).toContain('verified-list')
    expect((await ana.json('GET', '/api/stats')).body.queue).toEqual({ pending: 4, escalated: 0 })
    const page = await (await ana.request('GET', '/queue', undefined, { accept: 'text/html' })).text()
    expect(page).toContain(`disputes ${notice.reference}`)
    expect(page).toContain('We checked: this file is our &lt;own&gt; product photo &amp; not listed material.')
    const evidence = await ana.json('GET', `/api/items/${f.media.exact.mediaId}`)
    expect(evidence.body.disputes).toEqual([expect.objectContaining({ reference: notice.reference, message: words })])

    const path = `/api/items/${f.media.exact.mediaId}/decision`
    expect((await ana.json('POST', path, { decision: 'escalate', reason: 'a supervisor should answer this provider' })).body).toMatchObject({ state: 'escalated' })
    expect(await ids(ana)).not.toContain(f.media.exact.mediaId)
    expect(await ids(sue, '/api/queue?queue=supervisors')).toContain(f.media.exact.mediaId)
    expect((await ana.json('POST', path, { decision: 'confirm' })).status).toBe(403)
    const upheld = await sue.json('POST', path, { decision: 'confirm', reason: 'the hash is an exact match of a verified entry' })
    expect(upheld.body).toMatchObject({ state: 'upheld', notices: [], withdrawn: [] })
    expect(await ids(sue, '/api/queue?queue=supervisors')).not.toContain(f.media.exact.mediaId)
    expect((await noticeOf(f.media.exact.url)).status).toBe('open')
    const events = await f.handle.db.selectFrom('notice_events').select(['kind', 'detail']).where('notice_id', '=', notice.id).where('kind', '=', 'upheld').execute()
    expect(events).toEqual([{ kind: 'upheld', detail: { analyst: 'sue', reason: 'the hash is an exact match of a verified entry' } }])
    const audit = await listAudit(f.handle.db, { subject: `media:${f.media.exact.mediaId}` })
    expect(audit.slice(0, 2).map((e) => [e.actor, e.action])).toEqual([['sue', 'notice-upheld'], ['ana', 'escalate']])
    expect((await sue.json('POST', path, { decision: 'confirm' })).status).toBe(409)
  })

  it('withdraws a disputed notice on reject: matches rejected and suppressed, notice closed, unsent emails cancelled', async () => {
    const notice = await noticeOf(f.media.close.url)
    const pending = await f.handle.db.selectFrom('outbox').select('status').where('notice_id', '=', notice.id).execute()
    expect(pending).toEqual([{ status: 'pending' }])
    expect((await dispute(notice.reference, '')).status).toBe(200)
    const item = (await ana.json('GET', '/api/queue')).body.items.find((i: { mediaId: number }) => i.mediaId === f.media.close.mediaId)
    expect(item.disputes).toEqual([expect.objectContaining({ reference: notice.reference, message: null })])

    const result = await ana.json('POST', `/api/items/${f.media.close.mediaId}/decision`, { decision: 'reject', reason: 'the provider is right: a look-alike' })
    expect(result.body).toMatchObject({ state: 'withdrawn', matches: 1, withdrawn: [notice.reference] })
    expect(await ids(ana)).not.toContain(f.media.close.mediaId)
    const after = await f.handle.db.selectFrom('notices').select(['status', 'next_check_at']).where('id', '=', notice.id).executeTakeFirstOrThrow()
    expect(after).toEqual({ status: 'closed', next_check_at: null })
    expect(await f.handle.db.selectFrom('outbox').select(['status', 'last_error']).where('notice_id', '=', notice.id).execute())
      .toEqual([{ status: 'failed', last_error: 'cancelled: the notice was withdrawn after the provider\'s dispute' }])
    expect(await f.handle.db.selectFrom('matches').select('status').where('media_id', '=', f.media.close.mediaId).execute()).toEqual([{ status: 'rejected' }])
    expect(await f.handle.db.selectFrom('review_suppressions').select('reason').where('media_id', '=', f.media.close.mediaId).execute()).toEqual([{ reason: 'the provider is right: a look-alike' }])
    const audit = await listAudit(f.handle.db, { subject: `media:${f.media.close.mediaId}`, action: 'notice-withdrawn' })
    expect(audit[0]).toMatchObject({ actor: 'ana', detail: { notices: [notice.reference] } })
    // The provider's page says so.
    expect((await f.server.inject({ url: `/ack/${ack.token(notice.reference)}` })).body).toContain('Status: closed')
  })
})
