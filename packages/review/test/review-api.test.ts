import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from '@arachnid/core'
import { Matcher, importList, recordMatches } from '@arachnid/matcher'
import { AckLinks } from '@arachnid/notifier'
import { listAudit, listQueue } from '@arachnid/review'
import { dialectsUnderTest } from '@arachnid/test'
import { ACK_SECRET, ApiClient, PASSWORD, PROVIDER, type ReviewFixture, openReviewFixture } from './review-fixture.js'

const dialects = await dialectsUnderTest()
const ack = new AckLinks({ secret: ACK_SECRET, baseUrl: 'http://127.0.0.1/' })

/**
 * The review API through Fastify's inject (no socket: nothing here is about the network). The
 * fixture's first scenario is only read; a test that decides or changes settings works on a
 * scenario of its own (its own pictures, lists and job), so no test depends on another having run.
 */
describe.each(dialects)('review API on %s', (dialect) => {
  let f: ReviewFixture
  let ana: ApiClient
  let bob: ApiClient
  let sue: ApiClient
  let ada: ApiClient
  const statuses = async (mediaId: number) => (await f.handle.db.selectFrom('matches').select(['status', 'review_reason']).where('media_id', '=', mediaId).execute())
  const auditCount = async () => Number((await f.handle.db.selectFrom('audit_log').select(sql<number>`count(*)::int`.as('n')).executeTakeFirstOrThrow()).n)
  const queueIds = async (client: ApiClient, query: string) => ((await client.json('GET', `/api/queue?${query}`)).body.items as { mediaId: number }[]).map((i) => i.mediaId)

  beforeAll(async () => {
    f = await openReviewFixture(dialect, { ack, metricsToken: 'scrape-token-for-tests' })
    ana = await ApiClient.login(f.server, 'ana')
    bob = await ApiClient.login(f.server, 'bob')
    sue = await ApiClient.login(f.server, 'sue')
    ada = await ApiClient.login(f.server, 'ada')
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
    // The recording noticed only what the policy let through.
    const noticed = (await f.handle.db.selectFrom('notices').select('media_url').where('job_id', '=', f.jobId).execute()).map((n) => n.media_url).sort()
    expect(noticed).toEqual([f.media.close.url, f.media.exact.url].sort())
  })

  it('refuses every protected route without a session: 401 JSON for the API, a redirect to /login for pages', async () => {
    const anonymous = new ApiClient(f.server)
    const routes = f.server.routes
    expect(routes.filter((r) => r.kind !== 'public').length).toBeGreaterThanOrEqual(20)
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
    // Unknown paths too (a signed-in analyst would get 404, or 405 for another method), and a forged cookie is no session.
    expect((await anonymous.request('GET', '/api/not-a-route')).status).toBe(401)
    expect((await anonymous.request('GET', '/not-a-page', undefined, { accept: 'text/html' })).status).toBe(303)
    expect((await ana.request('GET', '/api/not-a-route')).status).toBe(404)
    expect(await (await ana.request('GET', '/api/policy/x')).json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such route' } })
    expect(await (await ana.request('POST', '/api/queue', {})).json()).toEqual({ error: { code: 'METHOD_NOT_ALLOWED', message: 'use GET' } })
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

  it('sends the security headers on pages, the API and refusals alike', async () => {
    for (const [client, path] of [[ana, '/queue'], [ana, '/api/queue'], [new ApiClient(f.server), '/api/queue'], [ana, '/static/review.js']] as const) {
      const response = await client.request('GET', path, undefined, { accept: path.startsWith('/api') ? 'application/json' : 'text/html' })
      expect(response.headers.get('content-security-policy'), path).toBe("default-src 'none';script-src 'self';style-src 'unsafe-inline';img-src 'self' blob:;connect-src 'self';form-action 'self';frame-ancestors 'none';base-uri 'none'")
      expect(Object.fromEntries(['x-frame-options', 'x-content-type-options', 'referrer-policy', 'cache-control'].map((h) => [h, response.headers.get(h)])), path)
        .toEqual({ 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin', 'cache-control': 'no-store' })
    }
    const script = await ana.request('GET', '/static/review.js')
    expect([script.status, script.headers.get('content-type')]).toEqual([200, expect.stringMatching(/javascript/)])
  })

  it('serves the review API\'s OpenAPI document, generated from the route schemas, to analysts only', async () => {
    expect((await new ApiClient(f.server).request('GET', '/openapi.json')).status).toBe(401)
    const { status, body } = await ana.json('GET', '/openapi.json')
    expect(status).toBe(200)
    expect(body).toMatchObject({ openapi: '3.1.0', info: { title: 'Arachnid review API' } })
    expect(Object.keys(body.paths)).toEqual(expect.arrayContaining(['/api/queue', '/api/items/{mediaId}', '/api/items/{mediaId}/decision', '/api/audit', '/api/policy', '/login']))
    // Pages are not part of the API.
    expect(Object.keys(body.paths)).not.toContain('/queue')
    const limit = body.paths['/api/audit'].get.parameters.find((p: { name: string }) => p.name === 'limit')
    expect(limit).toMatchObject({ in: 'query', description: 'an integer from 1 to 500', schema: { type: 'integer', minimum: 1, maximum: 500 } })
    expect(body.paths['/api/items/{mediaId}/decision'].post.requestBody.content['application/json'].schema)
      .toMatchObject({ required: ['decision'], properties: { decision: { enum: ['confirm', 'reject', 'escalate'] } } })
  })

  it('logs in with the right password only, with an HttpOnly SameSite=Strict cookie, and audits both', async () => {
    const client = new ApiClient(f.server)
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
    // Logging out ends the session on the server, not just in the browser.
    const old = client.cookie
    expect((await client.request('POST', '/logout', {})).status).toBe(200)
    client.cookie = old
    expect((await client.request('GET', '/api/me')).status).toBe(401)
  })

  it('locks a name out after five failures, in the database: another server process on it refuses too', async () => {
    const guess = (server: ReviewFixture['server'], i: number, password = `guess number ${i}!`) => new ApiClient(server).request('POST', '/login', { name: 'mallory', password })
    for (let i = 0; i < 5; i++) expect((await guess(f.server, i)).status).toBe(401)
    const locked = await guess(f.server, 6)
    expect(locked.status).toBe(429)
    expect(await locked.json()).toEqual({ error: { code: 'LOCKED_OUT', message: 'Too many failed attempts; try again later.' } })
    // A second server on the same database (another `serve` process) knows it: the lockout is not per process.
    const { ReviewServer } = await import('@arachnid/review')
    const other = await ReviewServer.create({ db: f.handle.db, reporter: { name: 'x', from: 'x@example.org' } })
    try {
      expect((await guess(other, 7)).status).toBe(429)
      // Even the right password, for a real account locked out the same way.
      for (let i = 0; i < 5; i++) expect((await new ApiClient(other).request('POST', '/login', { name: 'bob', password: `not bob's password ${i}` })).status).toBe(401)
      expect((await new ApiClient(f.server).request('POST', '/login', { name: 'bob', password: PASSWORD })).status).toBe(429)
    } finally {
      await other.close()
    }
    // Other names are not affected, and the refused attempts were not counted as failures.
    expect((await new ApiClient(f.server).request('POST', '/login', { name: 'sue', password: PASSWORD })).status).toBe(200)
    const rows = await f.handle.db.selectFrom('login_failures').select('name').where('name', 'in', ['mallory', 'bob']).execute()
    expect(rows.filter((r) => r.name === 'mallory')).toHaveLength(5)
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
    // A form's _csrf field is checked as the header is.
    const form = await f.server.inject({ method: 'POST', url: path, payload: `decision=reject&_csrf=${bob.csrf}`, headers: { cookie: ana.cookie, 'content-type': 'application/x-www-form-urlencoded' } })
    expect([form.statusCode, form.json()]).toEqual([403, { error: { code: 'CSRF', message: 'missing or wrong CSRF token' } }])
    // The token is checked before the body is: a forged request learns nothing about what would be accepted.
    expect((await ana.request('POST', path, { decision: 'nonsense' }, { 'x-csrf-token': '' })).status).toBe(403)
    expect(await statuses(f.media.near.mediaId)).toEqual([{ status: 'pending', review_reason: 'near' }])
    expect(await auditCount()).toBe(before)
  })

  it('lists the queue by priority with its filters, and shows each item\'s evidence without the media', async () => {
    const { body } = await ana.json('GET', `/api/queue?job=${f.jobId}`)
    const ids = body.items.map((i: { mediaId: number }) => i.mediaId)
    // Distance first (the two at 0 by age: the list's own order of discovery), the near match last.
    expect(new Set(ids.slice(0, 2))).toEqual(new Set([f.media.lowQuality.mediaId, f.media.reviewRequired.mediaId]))
    expect(ids[2]).toBe(f.media.near.mediaId)
    expect(ids).toHaveLength(3)
    expect(body.items[2]).toMatchObject({ distance: 22, lists: ['verified-list'], reasons: ['near'], provider: PROVIDER.name, url: f.media.near.url })
    expect(await queueIds(ana, `list=${f.listIds.secondLook}`)).toEqual([f.media.reviewRequired.mediaId])
    expect(await queueIds(ana, `job=${f.jobId + 1000}`)).toEqual([])
    expect(await queueIds(ana, `job=${f.jobId}&provider=${encodeURIComponent(PROVIDER.name)}`)).toHaveLength(3)
    expect(await queueIds(ana, `job=${f.jobId}&provider=Elsewhere`)).toEqual([])
    // Empty filters (what the page's form sends) are no filters.
    expect(await queueIds(ana, `job=${f.jobId}&list=&provider=`)).toHaveLength(3)

    const item = await ana.json('GET', `/api/items/${f.media.near.mediaId}`)
    expect(item.status).toBe(200)
    expect(item.body.hashes.sha256).toBe(f.media.near.hashes.sha256)
    expect(item.body.hashes.pdq).toBe(f.media.near.hashes.pdq)
    expect(item.body.fetches[0]).toMatchObject({ url: f.media.near.url, serverIp: '127.0.0.1', pages: [`${f.siteUrl}/`] })
    expect(item.body.matches[0]).toMatchObject({ list: 'verified-list', algorithm: 'pdq', distance: 22, category: 'B1', externalId: 'ext-near', status: 'pending', reason: 'near' })
    expect(item.body.matches[0].entryHash).not.toBe(f.media.near.hashes.pdq)
    expect(item.body.provider).toMatchObject({ name: PROVIDER.name, abuseEmail: PROVIDER.abuseEmail })
    expect(JSON.stringify(item.body)).not.toMatch(/base64|data:image/)
    expect((await ana.json('GET', '/api/items/0')).status).toBe(404)
  })

  it('ranks a list\'s review priority above age among equal distances', async () => {
    const s = await f.scenario('priority')
    expect((await queueIds(ana, `job=${s.jobId}`)).slice(0, 2)).toEqual(expect.arrayContaining([s.media.lowQuality.mediaId, s.media.reviewRequired.mediaId]))
    await f.handle.db.updateTable('hash_lists').set({ review_priority: 5 }).where('id', '=', s.listIds.verified).execute()
    expect((await queueIds(ana, `job=${s.jobId}`))[0]).toBe(s.media.lowQuality.mediaId)
    await f.handle.db.updateTable('hash_lists').set({ review_priority: 0 }).where('id', '=', s.listIds.verified).execute()
    await f.handle.db.updateTable('hash_lists').set({ review_priority: 5 }).where('id', '=', s.listIds.secondLook).execute()
    expect((await queueIds(ana, `job=${s.jobId}`))[0]).toBe(s.media.reviewRequired.mediaId)
  })

  it('needs two analysts to confirm a near match when the policy says so, then notices it through the notifier', async () => {
    const s = await f.scenario('two-analysts')
    const change = await ada.json('POST', '/api/policy', { twoAnalystsNear: true, reason: 'second pair of eyes on near matches' })
    try {
      expect(change.status).toBe(200)
      expect(change.body.policy.twoAnalystsNear).toBe(true)
      const path = `/api/items/${s.media.near.mediaId}/decision`
      const first = await ana.json('POST', path, { decision: 'confirm', reason: 'same picture, recompressed' })
      expect(first.body).toMatchObject({ state: 'awaiting-second', notices: [] })
      expect((await ana.json('POST', path, { decision: 'confirm' })).status).toBe(409)
      expect(await f.handle.db.selectFrom('notices').select('id').where('media_url', '=', s.media.near.url).execute()).toEqual([])
      const second = await bob.json('POST', path, { decision: 'confirm', reason: 'agree' })
      expect(second.status).toBe(200)
      expect(second.body).toMatchObject({ state: 'confirmed', matches: 1 })
      expect(second.body.notices).toHaveLength(1)
      const notice = await f.handle.db.selectFrom('notices').selectAll().where('media_url', '=', s.media.near.url).executeTakeFirstOrThrow()
      expect(notice.reference).toBe(second.body.notices[0])
      const outbox = await f.handle.db.selectFrom('outbox').select(['to_address', 'kind', 'status', 'text_body']).where('notice_id', '=', notice.id).execute()
      expect(outbox).toHaveLength(1)
      expect(outbox[0]).toMatchObject({ to_address: PROVIDER.abuseEmail, kind: 'notice', status: 'pending' })
      expect(outbox[0]!.text_body).toContain(s.media.near.url)
      expect(await statuses(s.media.near.mediaId)).toEqual([{ status: 'confirmed', review_reason: 'near' }])
      const audit = await listAudit(f.handle.db, { subject: `media:${s.media.near.mediaId}` })
      expect(audit.map((e) => [e.actor, e.action, e.reason])).toEqual([['bob', 'confirm', 'agree'], ['ana', 'confirm-vote', 'same picture, recompressed']])
      expect(audit[0]!.detail).toMatchObject({ notices: [notice.reference] })
      const policyAudit = await listAudit(f.handle.db, { action: 'policy-change' })
      expect(policyAudit[0]).toMatchObject({ actor: 'ada', reason: 'second pair of eyes on near matches' })
      // Deciding again is refused: nothing waits any more.
      expect((await bob.json('POST', path, { decision: 'reject' })).status).toBe(409)
    } finally {
      await ada.json('POST', '/api/policy', { twoAnalystsNear: false })
    }
  })

  it('rejects with a suppression, so the content is not queued again for that list entry, even in a new list version', async () => {
    const s = await f.scenario('reject')
    const target = s.media.lowQuality
    const result = await ana.json('POST', `/api/items/${target.mediaId}/decision`, { decision: 'reject', reason: 'benign look-alike' })
    expect(result.body).toMatchObject({ state: 'rejected', matches: 1, notices: [] })
    expect(await statuses(target.mediaId)).toEqual([{ status: 'rejected', review_reason: 'low-quality' }])
    const audit = await listAudit(f.handle.db, { subject: `media:${target.mediaId}` })
    expect(audit[0]).toMatchObject({ actor: 'ana', action: 'reject', reason: 'benign look-alike' })
    // The list is imported again: same entries, new version, new row ids. Matching the same content
    // again records the match as rejected (suppressed), and the queue does not show it.
    const lines = (await f.handle.db.selectFrom('known_hashes as k').innerJoin('hash_lists as l', 'l.id', 'k.list_id').where('l.name', '=', s.lists.verified)
      .where('k.retracted_at', 'is', null).select(['k.algorithm', 'k.hash', 'k.category', 'k.external_id']).execute())
      .map((k) => `${k.algorithm},${Buffer.from(k.hash).toString('hex')},${k.category},${k.external_id}`)
    const reimported = await importList(f.handle.db, { name: s.lists.verified, lines: ['algorithm,hash,category,external_id', ...new Set(lines)] })
    expect(reimported.version).toBe(2)
    const matcher = new Matcher(f.handle.db, { refreshIntervalMs: 0 })
    const [found] = await matcher.match([{ algorithm: 'pdq', hash: target.hashes.pdq, quality: target.hashes.pdqQuality }])
    expect(found![0]).toMatchObject({ list: s.lists.verified, listVersion: 2, distance: 0 })
    const recorded = await recordMatches(f.handle.db, [{ mediaId: target.mediaId, jobId: null, matches: found! }])
    expect(recorded).toMatchObject([{ status: 'rejected', reason: 'suppressed' }])
    expect(await queueIds(ana, `job=${s.jobId}`)).not.toContain(target.mediaId)
    expect((await listQueue(f.handle.db)).map((i) => i.mediaId)).not.toContain(target.mediaId)
  })

  it('escalates to the supervisors\' queue, where only supervisors decide; a confirmation there notices the media', async () => {
    const s = await f.scenario('escalate')
    const target = s.media.reviewRequired
    const path = `/api/items/${target.mediaId}/decision`
    expect((await ana.json('POST', path, { decision: 'escalate', reason: 'unsure of the category' })).body).toMatchObject({ state: 'escalated' })
    expect(await queueIds(ana, `job=${s.jobId}`)).not.toContain(target.mediaId)
    expect((await ana.json('GET', '/api/queue?queue=supervisors')).status).toBe(403)
    expect(await queueIds(sue, `job=${s.jobId}&queue=supervisors`)).toEqual([target.mediaId])
    const refused = await bob.json('POST', path, { decision: 'confirm' })
    expect(refused.status).toBe(403)
    const confirmed = await sue.json('POST', path, { decision: 'confirm', reason: 'category confirmed' })
    expect(confirmed.body).toMatchObject({ state: 'confirmed' })
    expect(confirmed.body.notices).toHaveLength(1)
    const notices = await f.handle.db.selectFrom('notices').select('media_url').where('media_url', '=', target.url).execute()
    expect(notices).toHaveLength(1)
    const audit = await listAudit(f.handle.db, { subject: `media:${target.mediaId}` })
    expect(audit.map((e) => [e.actor, e.action, e.reason])).toEqual([['sue', 'confirm', 'category confirmed'], ['ana', 'escalate', 'unsure of the category']])
    expect(await queueIds(sue, `job=${s.jobId}&queue=supervisors`)).toEqual([])
    expect(await queueIds(ana, `job=${s.jobId}`)).toEqual([s.media.lowQuality.mediaId, s.media.near.mediaId])
  })

  it('refuses a decision that is not one, naming the field, and changes nothing', async () => {
    const path = `/api/items/${f.media.near.mediaId}/decision`
    const bad = await ana.json('POST', path, { decision: 'delete' })
    expect(bad).toEqual({ status: 400, body: { error: { code: 'BAD_DECISION', message: 'decision "delete": expected one of confirm, reject, escalate' } } })
    expect((await ana.json('POST', path, { reason: 'no decision' })).body.error).toEqual({ code: 'BAD_DECISION', message: 'decision is required: expected one of confirm, reject, escalate' })
    expect((await ana.json('POST', path, { decision: 'reject', reason: 'x'.repeat(2001) })).status).toBe(400)
    expect((await ana.json('POST', path, ['reject'])).body.error.code).toBe('BAD_JSON')
    expect(await statuses(f.media.near.mediaId)).toEqual([{ status: 'pending', review_reason: 'near' }])
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
    // The fixture's own entries: four accounts added, a list marked review-required, four logins.
    expect(before).toBeGreaterThanOrEqual(9)
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
    expect(older.body.entries.length + 5).toBe(Math.min(before, 505))
  })

  it('gives admins alone the policy and list modes, and audits the changes', async () => {
    const s = await f.scenario('admin')
    expect((await sue.json('POST', '/api/policy', { autoPdqDistance: 10 })).status).toBe(403)
    expect((await ana.json('POST', `/api/lists/${s.listIds.verified}/review`, { mode: 'review-required' })).status).toBe(403)
    expect((await ada.json('POST', '/api/policy', { autoPdqDistance: 300 })).status).toBe(400)
    const changed = await ada.json('POST', `/api/lists/${s.listIds.verified}/review`, { mode: 'review-required', priority: 3, reason: 'new source' })
    expect(changed.body.list).toMatchObject({ mode: 'review-required', priority: 3 })
    const entry = (await listAudit(f.handle.db, { action: 'list-review-change', actor: 'ada', subject: `list:${s.listIds.verified}` }))[0]!
    expect(entry.detail).toMatchObject({ before: { mode: 'verified' }, after: { mode: 'review-required', priority: 3 } })
    // A list that does not exist is a 404, not a 400.
    const missing = await ada.json('POST', '/api/lists/2147483647/review', { mode: 'verified' })
    expect(missing).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: 'no list 2147483647' } } })
  })

  it('serves Prometheus metrics that count what this server did, to a session or the scraper\'s token', async () => {
    const s = await f.scenario('metrics')
    const scrape = async () => (await ana.request('GET', '/metrics')).text()
    const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
    const before = await scrape()
    expect((await ana.json('POST', `/api/items/${s.media.lowQuality.mediaId}/decision`, { decision: 'reject' })).status).toBe(200)
    expect((await ana.request('POST', `/api/items/${s.media.near.mediaId}/preview`, {})).status).toBe(200)
    const after = await scrape()
    for (const series of ['arachnid_review_decisions_total{decision="reject",state="rejected"}', 'arachnid_review_previews_total{outcome="ok",obscured="true"}']) {
      expect(value(after, series) - value(before, series), series).toBe(1)
    }
    // The queue gauge is the queue's own count, read at scrape time.
    expect(value(after, 'arachnid_review_queue_media{queue="analysts"}')).toBe((await listQueue(f.handle.db)).length)
    const pendingSuspects = await f.handle.db.selectFrom('suspects').where('status', '=', 'pending').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    expect(value(after, 'arachnid_review_suspects{status="pending"}')).toBe(Number(pendingSuspects.n))
    expect((await ana.json('GET', '/api/stats')).body).toMatchObject({ suspects: { pending: Number(pendingSuspects.n) } })
    expect(value(after, 'arachnid_review_http_requests_total{route="decision",status="2xx"}')).toBeGreaterThanOrEqual(1)
    const scraper = new ApiClient(f.server)
    expect((await scraper.request('GET', '/metrics', undefined, { authorization: 'Bearer scrape-token-for-tests' })).status).toBe(200)
    expect((await scraper.request('GET', '/metrics', undefined, { authorization: 'Bearer wrong-token-for-tests!' })).status).toBe(401)
    // The scraper's token opens /metrics only.
    expect((await scraper.request('GET', '/api/queue', undefined, { authorization: 'Bearer scrape-token-for-tests' })).status).toBe(401)
  })
})

/**
 * The statistics against figures worked out by hand from what the test sets up: a database of its
 * own, so every notice in it is one the test knows.
 */
describe.each(dialects)('review statistics on %s', (dialect) => {
  let f: ReviewFixture
  let ana: ApiClient
  beforeAll(async () => {
    f = await openReviewFixture(dialect)
    ana = await ApiClient.login(f.server, 'ana')
  })
  afterAll(async () => {
    await f?.close()
  })

  it('gives removal figures, histograms and the page from the notices\' own times', async () => {
    const db = f.handle.db
    // Three notices: exact and close (noticed when recorded) and near (an analyst confirms it here).
    expect((await ana.json('POST', `/api/items/${f.media.near.mediaId}/decision`, { decision: 'confirm' })).body.state).toBe('confirmed')
    const notice = async (url: string) => db.selectFrom('notices').select(['id', 'created_at']).where('media_url', '=', url).executeTakeFirstOrThrow()
    const exact = await notice(f.media.exact.url)
    const close = await notice(f.media.close.url)
    const hour = 3_600_000
    // exact: its email went out 1 h after the notice was created and the media was gone 5 h after that: 5 h to removal.
    const sentAt = new Date(exact.created_at.getTime() + hour)
    await db.updateTable('outbox').set({ status: 'sent', sent_at: sentAt }).where('notice_id', '=', exact.id).where('kind', '=', 'notice').execute()
    await db.updateTable('notices').set({ status: 'removed', removed_at: new Date(sentAt.getTime() + 5 * hour) }).where('id', '=', exact.id).execute()
    // close: no email sent, so counted from the notice's creation: removed 50 h after it.
    await db.updateTable('notices').set({ status: 'removed', removed_at: new Date(close.created_at.getTime() + 50 * hour) }).where('id', '=', close.id).execute()

    const { body } = await ana.json('GET', '/api/stats')
    // Removed in 5 h and 50 h, one of three still open. Median of [5, 50]: 27.5; 90th percentile
    // (linear between ranks, as Postgres's percentile_cont): 5 + 0.9 * (50 - 5) = 45.5; within 24 h:
    // 1 of 3 notices; within 72 h: 2 of 3.
    const figures = { notices: 3, removed: 2, open: 1, medianHoursToRemoval: 27.5, p90HoursToRemoval: 45.5, removedWithin24h: 0.333, removedWithin72h: 0.667, reuploads: 0 }
    expect(body.removal).toEqual({ overall: { provider: '(all)', ...figures }, providers: [{ provider: PROVIDER.name, ...figures }] })
    const buckets = (list: { label: string; count: number }[]) => Object.fromEntries(list.map((b) => [b.label, b.count]))
    expect(buckets(body.timeToRemoval.overall)).toEqual({ '< 1 h': 0, '1-6 h': 1, '6-24 h': 0, '1-3 d': 1, '3-7 d': 0, '> 7 d': 0 })
    expect(body.timeToRemoval.providers).toEqual([{ provider: PROVIDER.name, buckets: body.timeToRemoval.overall }])
    expect(buckets(body.openAges)).toEqual({ '< 1 h': 1, '1-6 h': 0, '6-24 h': 0, '1-3 d': 0, '3-7 d': 0, '> 7 d': 0 })
    expect(body.noticesPerDay).toHaveLength(30)
    expect(body.noticesPerDay.at(-1)).toEqual({ day: new Date().toISOString().slice(0, 10), count: 3 })
    expect(body.queue).toEqual({ pending: 2, escalated: 0 })

    const html = await (await ana.request('GET', '/stats', undefined, { accept: 'text/html' })).text()
    expect(html.match(/<svg class="chart"/g)?.length).toBeGreaterThanOrEqual(5)
    expect(html).toContain('Time to removal per provider')
    expect(html).toContain(`<tr><td>${PROVIDER.name}</td><td>3</td><td>2</td><td>1</td><td>27.5 h</td><td>45.5 h</td><td>33%</td><td>67%</td><td>0</td></tr>`)
    expect(html).toContain('Notices 3, removed 2, open 1; waiting for review: 2 media (0 escalated);')
  })
})
