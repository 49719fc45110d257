import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from '@arachnid/core'
import { Matcher, importList, recordMatches } from '@arachnid/matcher'
import { AckLinks, noticeStats } from '@arachnid/notifier'
import { listAudit } from '@arachnid/review'
import { dialectsUnderTest } from '@arachnid/test'
import { ACK_SECRET, ApiClient, PASSWORD, PROVIDER, type ReviewFixture, openReviewFixture } from './review-fixture.js'

const dialects = await dialectsUnderTest()
const ack = new AckLinks({ secret: ACK_SECRET, baseUrl: 'http://127.0.0.1/' })

describe.each(dialects)('review API on %s', (dialect) => {
  let f: ReviewFixture
  let ana: ApiClient
  let bob: ApiClient
  let sue: ApiClient
  let ada: ApiClient
  const statuses = async (mediaId: number) => (await f.handle.db.selectFrom('matches').select(['status', 'review_reason']).where('media_id', '=', mediaId).execute())
  const auditCount = async () => Number((await f.handle.db.selectFrom('audit_log').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n)

  beforeAll(async () => {
    f = await openReviewFixture(dialect, { ack, metricsToken: 'scrape-token-for-tests' })
    ana = await ApiClient.login(f.server.url, 'ana')
    bob = await ApiClient.login(f.server.url, 'bob')
    sue = await ApiClient.login(f.server.url, 'sue')
    ada = await ApiClient.login(f.server.url, 'ada')
  })
  afterAll(async () => {
    await f?.close()
  })

  it('routes each match by the policy: exact and close notify at once; near, low-quality and review-required wait', async () => {
    expect(await statuses(f.media.exact.mediaId)).toEqual([{ status: 'auto-confirmed', review_reason: 'exact' }])
    expect(await statuses(f.media.close.mediaId)).toEqual([{ status: 'auto-confirmed', review_reason: 'near-close' }])
    expect(await statuses(f.media.near.mediaId)).toEqual([{ status: 'pending', review_reason: 'near' }])
    expect(await statuses(f.media.lowQuality.mediaId)).toEqual([{ status: 'pending', review_reason: 'low-quality' }])
    expect(await statuses(f.media.reviewRequired.mediaId)).toEqual([{ status: 'pending', review_reason: 'review-required' }])
    expect(await statuses(f.media.unrelated.mediaId)).toEqual([])
    // The crawl noticed only what the policy let through.
    const noticed = (await f.handle.db.selectFrom('notices').select('media_url').execute()).map((n) => n.media_url).sort()
    expect(noticed).toEqual([f.media.close.url, f.media.exact.url].sort())
  })

  it('refuses every protected route without a session: 401 JSON for the API, a redirect to /login for pages', async () => {
    const anonymous = new ApiClient(f.server.url)
    const routes = f.server.routes
    expect(routes.filter((r) => r.kind !== 'public').length).toBeGreaterThanOrEqual(18)
    expect(routes.filter((r) => r.kind === 'public').map((r) => `${r.method} ${r.path}`).sort())
      .toEqual(['GET /ack/<token>', 'GET /healthz', 'GET /login', 'POST /ack/<token>', 'POST /login'])
    for (const route of routes.filter((r) => r.kind !== 'public')) {
      const response = await anonymous.request(route.method, route.path, route.method === 'POST' ? {} : undefined)
      if (route.kind === 'api') {
        expect(response.status, `${route.method} ${route.path}`).toBe(401)
        expect(await response.json()).toMatchObject({ error: { code: 'UNAUTHENTICATED' } })
      } else {
        expect(response.status, `${route.method} ${route.path}`).toBe(303)
        expect(response.headers.get('location'), route.path).toMatch(/^\/login\?next=/)
      }
    }
    // Unknown paths too, and a forged cookie is no session.
    expect((await anonymous.request('GET', '/api/not-a-route')).status).toBe(401)
    anonymous.cookie = 'arachnid_session=forged'
    expect((await anonymous.request('GET', '/api/queue')).status).toBe(401)
    // The public ones answer.
    expect((await anonymous.request('GET', '/healthz')).status).toBe(200)
    expect((await anonymous.request('GET', '/login')).status).toBe(200)
    const notice = await f.handle.db.selectFrom('notices').select('reference').executeTakeFirstOrThrow()
    const ackPage = await anonymous.request('GET', `/ack/${ack.token(notice.reference)}`)
    expect(ackPage.status).toBe(200)
    expect(await ackPage.text()).toContain(notice.reference)
    expect((await anonymous.request('GET', `/ack/${ack.token(notice.reference)}x`)).status).toBe(404)
  })

  it('logs in with the right password only, with an HttpOnly SameSite=Strict cookie, and audits both', async () => {
    const client = new ApiClient(f.server.url)
    const wrong = await client.request('POST', '/login', { name: 'ana', password: 'not the password at all' })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()
    const unknown = await client.request('POST', '/login', { name: 'nobody', password: PASSWORD })
    expect(unknown.status).toBe(401)
    const right = await client.request('POST', '/login', { name: 'ana', password: PASSWORD })
    expect(right.status).toBe(200)
    const cookie = right.headers.get('set-cookie')!
    expect(cookie).toMatch(/^arachnid_session=[\w-]{40,};/)
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('SameSite=Strict')
    const me = await client.json('GET', '/api/me')
    expect(me.body.analyst).toMatchObject({ name: 'ana', role: 'analyst' })
    const entries = await listAudit(f.handle.db, { limit: 500 })
    expect(entries.some((e) => e.action === 'login-failed' && e.actor === 'ana')).toBe(true)
    expect(entries.some((e) => e.action === 'login-failed' && e.actor === 'nobody')).toBe(true)
    // Guessing is slowed: after five failures for a name, even the right password is refused for a while.
    for (let i = 0; i < 5; i++) expect((await client.request('POST', '/login', { name: 'mallory', password: `guess number ${i}!` })).status).toBe(401)
    expect((await client.request('POST', '/login', { name: 'mallory', password: 'guess number 6!' })).status).toBe(429)
    // Logging out ends the session on the server, not just in the browser.
    const old = client.cookie
    expect((await client.request('POST', '/logout', {})).status).toBe(200)
    client.cookie = old
    expect((await client.request('GET', '/api/me')).status).toBe(401)
  })

  it('refuses changes without the session\'s CSRF token, or from another origin, and changes nothing', async () => {
    const path = `/api/items/${f.media.near.mediaId}/decision`
    const before = await auditCount()
    const none = await ana.request('POST', path, { decision: 'reject' }, { 'x-csrf-token': '' })
    expect(none.status).toBe(403)
    expect(await none.json()).toMatchObject({ error: { code: 'CSRF' } })
    expect((await ana.request('POST', path, { decision: 'reject' }, { 'x-csrf-token': bob.csrf })).status).toBe(403)
    expect((await ana.request('POST', path, { decision: 'reject' }, { 'x-csrf-token': `${ana.csrf}x` })).status).toBe(403)
    expect((await ana.request('POST', path, { decision: 'reject' }, { origin: 'http://evil.example' })).status).toBe(403)
    expect((await ana.request('POST', path, { decision: 'reject' }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403)
    expect((await ana.request('POST', `/api/items/${f.media.near.mediaId}/preview`, {}, { 'x-csrf-token': '' })).status).toBe(403)
    expect((await ada.request('POST', '/api/policy', { autoPdqDistance: 0 }, { 'x-csrf-token': '' })).status).toBe(403)
    expect(await statuses(f.media.near.mediaId)).toEqual([{ status: 'pending', review_reason: 'near' }])
    expect(await auditCount()).toBe(before)
  })

  it('lists the queue by priority with its filters, and shows each item\'s evidence without the media', async () => {
    const { body } = await ana.json('GET', '/api/queue')
    const ids = body.items.map((i: { mediaId: number }) => i.mediaId)
    // Distance first (the two at 0 by age: the list's own order of discovery), the near match last.
    expect(new Set(ids.slice(0, 2))).toEqual(new Set([f.media.lowQuality.mediaId, f.media.reviewRequired.mediaId]))
    expect(ids[2]).toBe(f.media.near.mediaId)
    expect(ids).toHaveLength(3)
    expect(body.items[2]).toMatchObject({ distance: 22, lists: ['verified-list'], reasons: ['near'], provider: PROVIDER.name, url: f.media.near.url })
    const byList = await ana.json('GET', `/api/queue?list=${f.listIds.secondLook}`)
    expect(byList.body.items.map((i: { mediaId: number }) => i.mediaId)).toEqual([f.media.reviewRequired.mediaId])
    expect((await ana.json('GET', `/api/queue?job=${f.jobId}`)).body.items).toHaveLength(3)
    expect((await ana.json('GET', `/api/queue?job=${f.jobId + 1000}`)).body.items).toHaveLength(0)
    expect((await ana.json('GET', `/api/queue?provider=${encodeURIComponent(PROVIDER.name)}`)).body.items).toHaveLength(3)
    expect((await ana.json('GET', '/api/queue?provider=Elsewhere')).body.items).toHaveLength(0)
    // A list's review priority outranks age among equal distances.
    await f.handle.db.updateTable('hash_lists').set({ review_priority: 5 }).where('id', '=', f.listIds.verified).execute()
    expect((await ana.json('GET', '/api/queue')).body.items[0].mediaId).toBe(f.media.lowQuality.mediaId)
    await f.handle.db.updateTable('hash_lists').set({ review_priority: 0 }).where('id', '=', f.listIds.verified).execute()

    const item = await ana.json('GET', `/api/items/${f.media.near.mediaId}`)
    expect(item.status).toBe(200)
    expect(item.body.hashes.sha256).toBe(f.media.near.hashes.sha256)
    expect(item.body.hashes.pdq).toBe(f.media.near.hashes.pdq)
    expect(item.body.fetches[0]).toMatchObject({ url: f.media.near.url, serverIp: '127.0.0.1', pages: [`${f.siteUrl}/`] })
    expect(item.body.matches[0]).toMatchObject({ list: 'verified-list', algorithm: 'pdq', distance: 22, category: 'B1', externalId: 'ext-near', status: 'pending', reason: 'near' })
    expect(item.body.matches[0].entryHash).not.toBe(f.media.near.hashes.pdq)
    expect(item.body.provider).toMatchObject({ name: PROVIDER.name, abuseEmail: PROVIDER.abuseEmail })
    expect(JSON.stringify(item.body)).not.toMatch(/base64|data:image/)
  })

  it('needs two analysts to confirm a near match when the policy says so, then notices it through the notifier', async () => {
    const change = await ada.json('POST', '/api/policy', { twoAnalystsNear: true, reason: 'second pair of eyes on near matches' })
    expect(change.status).toBe(200)
    expect(change.body.policy.twoAnalystsNear).toBe(true)
    const path = `/api/items/${f.media.near.mediaId}/decision`
    const first = await ana.json('POST', path, { decision: 'confirm', reason: 'same picture, recompressed' })
    expect(first.body).toMatchObject({ state: 'awaiting-second', notices: [] })
    expect((await ana.json('POST', path, { decision: 'confirm' })).status).toBe(409)
    expect(await f.handle.db.selectFrom('notices').select('id').where('media_url', '=', f.media.near.url).execute()).toEqual([])
    const second = await bob.json('POST', path, { decision: 'confirm', reason: 'agree' })
    expect(second.status).toBe(200)
    expect(second.body).toMatchObject({ state: 'confirmed', matches: 1 })
    expect(second.body.notices).toHaveLength(1)
    const notice = await f.handle.db.selectFrom('notices').selectAll().where('media_url', '=', f.media.near.url).executeTakeFirstOrThrow()
    expect(notice.reference).toBe(second.body.notices[0])
    const outbox = await f.handle.db.selectFrom('outbox').select(['to_address', 'kind', 'status', 'text_body']).where('notice_id', '=', notice.id).execute()
    expect(outbox).toHaveLength(1)
    expect(outbox[0]).toMatchObject({ to_address: PROVIDER.abuseEmail, kind: 'notice', status: 'pending' })
    expect(outbox[0]!.text_body).toContain(f.media.near.url)
    expect(await statuses(f.media.near.mediaId)).toEqual([{ status: 'confirmed', review_reason: 'near' }])
    const audit = await listAudit(f.handle.db, { subject: `media:${f.media.near.mediaId}` })
    expect(audit.map((e) => [e.actor, e.action, e.reason])).toEqual([['bob', 'confirm', 'agree'], ['ana', 'confirm-vote', 'same picture, recompressed']])
    expect(audit[0]!.detail).toMatchObject({ notices: [notice.reference] })
    const policyAudit = await listAudit(f.handle.db, { action: 'policy-change' })
    expect(policyAudit[0]).toMatchObject({ actor: 'ada', reason: 'second pair of eyes on near matches' })
    // Deciding again is refused: nothing waits any more.
    expect((await bob.json('POST', path, { decision: 'reject' })).status).toBe(409)
    await ada.json('POST', '/api/policy', { twoAnalystsNear: false })
  })

  it('rejects with a suppression, so the content is not queued again for that list entry, even in a new list version', async () => {
    const target = f.media.lowQuality
    const result = await ana.json('POST', `/api/items/${target.mediaId}/decision`, { decision: 'reject', reason: 'benign look-alike' })
    expect(result.body).toMatchObject({ state: 'rejected', matches: 1, notices: [] })
    expect(await statuses(target.mediaId)).toEqual([{ status: 'rejected', review_reason: 'low-quality' }])
    const audit = await listAudit(f.handle.db, { subject: `media:${target.mediaId}` })
    expect(audit[0]).toMatchObject({ actor: 'ana', action: 'reject', reason: 'benign look-alike' })
    // The list is imported again: same entries, new version, new row ids. Matching the same content
    // again records the match as rejected (suppressed), and the queue does not show it.
    const lines = (await f.handle.db.selectFrom('known_hashes as k').innerJoin('hash_lists as l', 'l.id', 'k.list_id').where('l.name', '=', 'verified-list')
      .where('k.retracted_at', 'is', null).select(['k.algorithm', 'k.hash', 'k.category', 'k.external_id']).execute())
      .map((k) => `${k.algorithm},${Buffer.from(k.hash).toString('hex')},${k.category},${k.external_id}`)
    const reimported = await importList(f.handle.db, { name: 'verified-list', lines: ['algorithm,hash,category,external_id', ...new Set(lines)] })
    expect(reimported.version).toBe(2)
    const matcher = new Matcher(f.handle.db, { refreshIntervalMs: 0 })
    const [found] = await matcher.match([{ algorithm: 'pdq', hash: target.hashes.pdq, quality: target.hashes.pdqQuality }])
    expect(found![0]).toMatchObject({ list: 'verified-list', listVersion: 2, distance: 0 })
    const recorded = await recordMatches(f.handle.db, [{ mediaId: target.mediaId, jobId: null, matches: found! }])
    expect(recorded).toMatchObject([{ status: 'rejected', reason: 'suppressed' }])
    const queue = await ana.json('GET', '/api/queue')
    expect(queue.body.items.map((i: { mediaId: number }) => i.mediaId)).not.toContain(target.mediaId)
  })

  it('escalates to the supervisors\' queue, where only supervisors decide; a confirmation there notices the media', async () => {
    const target = f.media.reviewRequired
    const path = `/api/items/${target.mediaId}/decision`
    expect((await ana.json('POST', path, { decision: 'escalate', reason: 'unsure of the category' })).body).toMatchObject({ state: 'escalated' })
    expect((await ana.json('GET', '/api/queue')).body.items.map((i: { mediaId: number }) => i.mediaId)).not.toContain(target.mediaId)
    expect((await ana.json('GET', '/api/queue?queue=supervisors')).status).toBe(403)
    expect((await sue.json('GET', '/api/queue?queue=supervisors')).body.items.map((i: { mediaId: number }) => i.mediaId)).toEqual([target.mediaId])
    const refused = await bob.json('POST', path, { decision: 'confirm' })
    expect(refused.status).toBe(403)
    const confirmed = await sue.json('POST', path, { decision: 'confirm', reason: 'category confirmed' })
    expect(confirmed.body).toMatchObject({ state: 'confirmed' })
    expect(confirmed.body.notices).toHaveLength(1)
    const notices = await f.handle.db.selectFrom('notices').select('media_url').where('media_url', '=', target.url).execute()
    expect(notices).toHaveLength(1)
    const audit = await listAudit(f.handle.db, { subject: `media:${target.mediaId}` })
    expect(audit.map((e) => [e.actor, e.action, e.reason])).toEqual([['sue', 'confirm', 'category confirmed'], ['ana', 'escalate', 'unsure of the category']])
    expect((await ana.json('GET', '/api/queue')).body.items).toEqual([])
  })

  it('shows a preview only on request: fetched live, blurred and greyscale by default, audited, never stored', async () => {
    const target = f.media.near
    const tables = ['media', 'media_fetches', 'notices', 'outbox']
    const counts = async () => Promise.all(tables.map(async (t) => Number((await sql<{ n: number }>`select count(*)::int as n from ${sql.table(t)}`.execute(f.handle.db)).rows[0]!.n)))
    const before = await counts()
    const response = await ana.request('POST', `/api/items/${target.mediaId}/preview`, { reason: 'check the category' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('image/png')
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(response.headers.get('x-arachnid-same-content')).toBe('true')
    const png = Buffer.from(await response.arrayBuffer())
    const meta = await sharp(png).metadata()
    expect(meta.format).toBe('png')
    expect(meta.channels).toBe(1)
    // Blurred: far less fine detail than the same preview unobscured.
    const clear = await ana.request('POST', `/api/items/${target.mediaId}/preview`, { obscure: false })
    expect(clear.headers.get('x-arachnid-obscured')).toBe('false')
    const sharpness = async (buffer: Buffer) => (await sharp(buffer).greyscale().stats()).sharpness
    expect(await sharpness(png)).toBeLessThan((await sharpness(Buffer.from(await clear.arrayBuffer()))) / 3)
    expect(await counts()).toEqual(before)
    const audit = await listAudit(f.handle.db, { subject: `media:${target.mediaId}`, action: 'preview' })
    expect(audit.map((e) => [e.actor, e.detail.obscured, e.reason])).toEqual([['ana', false, null], ['ana', true, 'check the category']])
  })

  it('keeps the audit log append-only: the database refuses UPDATE, DELETE and TRUNCATE', async () => {
    const db = f.handle.db
    const before = await auditCount()
    expect(before).toBeGreaterThan(5)
    await expect(sql`update audit_log set reason = 'rewritten'`.execute(db)).rejects.toThrow(/append-only/)
    await expect(sql`delete from audit_log`.execute(db)).rejects.toThrow(/append-only/)
    await expect(sql`truncate audit_log`.execute(db)).rejects.toThrow(/append-only/)
    expect(await auditCount()).toBe(before)
    expect((await db.selectFrom('audit_log').select('reason').where('reason', '=', 'rewritten').execute())).toEqual([])
    // Supervisors browse it; analysts may not.
    expect((await ana.json('GET', '/api/audit')).status).toBe(403)
    const browsed = await sue.json('GET', '/api/audit?limit=5')
    expect(browsed.body.entries).toHaveLength(5)
    const older = await sue.json('GET', `/api/audit?before=${browsed.body.entries[4].id}&limit=500`)
    expect(older.body.entries.length + 5).toBe(before)
  })

  it('gives admins alone the policy and list modes, and audits the changes', async () => {
    expect((await sue.json('POST', '/api/policy', { autoPdqDistance: 10 })).status).toBe(403)
    expect((await ana.json('POST', `/api/lists/${f.listIds.verified}/review`, { mode: 'review-required' })).status).toBe(403)
    expect((await ada.json('POST', '/api/policy', { autoPdqDistance: 300 })).status).toBe(400)
    const changed = await ada.json('POST', `/api/lists/${f.listIds.verified}/review`, { mode: 'review-required', priority: 3, reason: 'new source' })
    expect(changed.body.list).toMatchObject({ mode: 'review-required', priority: 3 })
    const entry = (await listAudit(f.handle.db, { action: 'list-review-change', actor: 'ada' }))[0]!
    expect(entry.detail).toMatchObject({ before: { mode: 'verified' }, after: { mode: 'review-required', priority: 3 } })
    await ada.json('POST', `/api/lists/${f.listIds.verified}/review`, { mode: 'verified', priority: 0 })
  })

  it('serves statistics from the same figures as `arachnid stats`, and Prometheus metrics', async () => {
    // Two notices removed, as the rechecks would record it: 5 h and 50 h after they were created.
    const open = await f.handle.db.selectFrom('notices').select(['id', 'created_at']).orderBy('id').execute()
    expect(open.length).toBeGreaterThanOrEqual(4)
    for (const [i, hours] of [[0, 5], [1, 50]] as const) {
      await f.handle.db.updateTable('notices').set({ status: 'removed', removed_at: new Date(open[i]!.created_at.getTime() + hours * 3_600_000) }).where('id', '=', open[i]!.id).execute()
    }
    const { body } = await ana.json('GET', '/api/stats')
    expect(body.removal).toEqual(JSON.parse(JSON.stringify(await noticeStats(f.handle.db))))
    expect(body.removal.overall).toMatchObject({ removed: 2, open: open.length - 2 })
    expect(body.medianHoursCheck).toBe(body.removal.overall.medianHoursToRemoval)
    const buckets = Object.fromEntries(body.timeToRemoval.overall.map((b: { label: string; count: number }) => [b.label, b.count]))
    expect(buckets).toMatchObject({ '1-6 h': 1, '1-3 d': 1 })
    expect(body.openAges.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(open.length - 2)
    expect(body.noticesPerDay.at(-1).count).toBe(open.length)
    const page = await ana.request('GET', '/stats', undefined, { accept: 'text/html' })
    const html = await page.text()
    expect(html.match(/<svg class="chart"/g)?.length).toBeGreaterThanOrEqual(5)
    expect(html).toContain('Time to removal per provider')

    const metrics = await ana.request('GET', '/metrics')
    const text = await metrics.text()
    expect(text).toMatch(/arachnid_review_queue_media\{queue="analysts"\} 0/)
    expect(text).toMatch(/arachnid_review_decisions_total\{decision="confirm",state="confirmed"\} 2/)
    expect(text).toMatch(/arachnid_review_previews_total\{outcome="ok",obscured="true"\} 1/)
    const scraper = new ApiClient(f.server.url)
    expect((await scraper.request('GET', '/metrics', undefined, { authorization: 'Bearer scrape-token-for-tests' })).status).toBe(200)
    expect((await scraper.request('GET', '/metrics', undefined, { authorization: 'Bearer wrong-token-for-tests!' })).status).toBe(401)
    // The scraper's token opens /metrics only.
    expect((await scraper.request('GET', '/api/queue', undefined, { authorization: 'Bearer scrape-token-for-tests' })).status).toBe(401)
  })
})
