import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '@arachnid/core'
import { AckLinks, createAckHandler, DISPUTE_MESSAGE_MAX, noticeHistory } from '@arachnid/notifier'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'
import { createWebApp } from '@arachnid/web'
import type { FastifyInstance } from 'fastify'

const dialects = await dialectsUnderTest()
const SECRET = 'test-secret-0123456789abcdef'

describe('signed acknowledgement links', () => {
  const links = new AckLinks({ secret: SECRET, baseUrl: 'http://127.0.0.1:9/', ttlHours: 24 })
  const now = new Date('2026-11-29T08:00:00Z')

  it('names one reference, until it expires', () => {
    const token = links.token('ARN-ABCDE-FGHJK', now)
    expect(links.url('ARN-ABCDE-FGHJK', now)).toBe(`http://127.0.0.1:9/ack/${token}`)
    expect(links.verify(token, new Date(now.getTime() + 23 * 3_600_000))).toEqual({ reference: 'ARN-ABCDE-FGHJK', expiresAt: new Date(now.getTime() + 24 * 3_600_000) })
    expect(() => links.verify(token, new Date(now.getTime() + 24 * 3_600_000))).toThrow(expect.objectContaining({ code: 'ACK_EXPIRED' }))
  })

  it('refuses altered, re-signed and foreign tokens', () => {
    const token = links.token('ARN-ABCDE-FGHJK', now)
    const [payload, signature] = token.split('.') as [string, string]
    const otherPayload = Buffer.from(`ARN-ZZZZZ-ZZZZZ.${Math.floor(now.getTime() / 1000) + 3600}`).toString('base64url')
    expect(() => links.verify(`${otherPayload}.${signature}`, now)).toThrow(expect.objectContaining({ code: 'ACK_INVALID' }))
    expect(() => links.verify(`${payload}.${signature.slice(0, -2)}AA`, now)).toThrow(expect.objectContaining({ code: 'ACK_INVALID' }))
    const foreign = new AckLinks({ secret: 'another-secret-0123456789', baseUrl: 'http://x/' }).token('ARN-ABCDE-FGHJK', now)
    expect(() => links.verify(foreign, now)).toThrow(expect.objectContaining({ code: 'ACK_INVALID' }))
    expect(() => links.verify('garbage', now)).toThrow(expect.objectContaining({ code: 'ACK_INVALID' }))
    expect(() => new AckLinks({ secret: 'short', baseUrl: 'http://x/' })).toThrow(/16 characters/)
  })
})

describe.each(dialects)('acknowledgement endpoint on %s', (dialect) => {
  let handle: TestDatabase
  let app: FastifyInstance
  const links = new AckLinks({ secret: SECRET, baseUrl: 'http://127.0.0.1:9/' })
  const path = (reference: string, now?: Date) => new URL(links.url(reference, now)).pathname
  const form = (fields: Record<string, string>) => ({ payload: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    const media = await handle.db.insertInto('media').values({ sha256: Buffer.alloc(32, 1), md5: Buffer.alloc(16), sha1: Buffer.alloc(20), bytes: 1 }).returning('id').executeTakeFirstOrThrow()
    for (const [reference, url] of [['ARN-AAAAA-AAAAA', 'http://one.test/a.jpg'], ['ARN-BBBBB-BBBBB', 'http://two.test/b.jpg'], ['ARN-DDDDD-DDDDD', 'http://four.test/d.jpg'], ['ARN-EEEEE-EEEEE', 'http://five.test/secret-other.jpg']] as const) {
      await handle.db.insertInto('notices').values({ reference, media_url: url, media_id: media.id, status: 'open', idempotency_key: reference, detected_at: new Date(), next_check_at: new Date(Date.now() + 86_400_000) }).execute()
    }
    // Mounted as the review server mounts it, on a bare web app: requests go through Fastify's inject (no socket needed).
    app = await createWebApp({ logger: createLogger({ level: 'silent' }) })
    await app.register(createAckHandler({ db: handle.db, links }), { prefix: '/ack' })
  })
  afterAll(async () => {
    await app?.close()
    await handle?.close()
  })

  it('shows only its own notice and records "removed" and "dispute" in the history', async () => {
    const url = path('ARN-AAAAA-AAAAA')
    const shown = await app.inject({ url })
    expect(shown.statusCode).toBe(200)
    expect(shown.headers['cache-control']).toBe('no-store')
    // Reached from an email with a signed link: no Referer leaves it, and it loads nothing.
    expect(shown.headers['referrer-policy']).toBe('no-referrer')
    expect(shown.headers['content-security-policy']).toBe("default-src 'none';form-action 'self';frame-ancestors 'none';base-uri 'none'")
    expect(shown.body).toContain('ARN-AAAAA-AAAAA')
    expect(shown.body).toContain('http://one.test/a.jpg')
    expect(shown.body).not.toContain('ARN-EEEEE-EEEEE')
    expect(shown.body).not.toContain('secret-other')

    const removed = await app.inject({ method: 'POST', url, ...form({ answer: 'removed' }) })
    expect(removed.statusCode).toBe(200)
    expect(removed.body).toContain('"removed" was recorded')
    const notice = await handle.db.selectFrom('notices').select(['ack_status', 'ack_at', 'next_check_at', 'status']).where('reference', '=', 'ARN-AAAAA-AAAAA').executeTakeFirstOrThrow()
    expect(notice.ack_status).toBe('removed')
    // The claim is checked, not believed: the notice stays open and is due for a recheck now.
    expect(notice.status).toBe('open')
    expect(notice.next_check_at!.getTime()).toBeLessThanOrEqual(Date.now())

    expect((await app.inject({ method: 'POST', url, ...form({ answer: 'dispute' }) })).statusCode).toBe(200)
    const unknown = await app.inject({ method: 'POST', url, ...form({ answer: 'delete-everything' }) })
    expect([unknown.statusCode, unknown.body]).toEqual([400, expect.stringContaining('Answer "removed" or "dispute".')])
    expect((await app.inject({ method: 'POST', url, ...form({}) })).statusCode).toBe(400)
    const history = await noticeHistory(handle.db, 'ARN-AAAAA-AAAAA')
    expect(history!.events.filter((e) => e.kind === 'ack').map((e) => e.detail.answer)).toEqual(['removed', 'dispute'])
    // No test answers for ARN-EEEEE-EEEEE: another notice's answers never touch it.
    const other = await handle.db.selectFrom('notices').select('ack_status').where('reference', '=', 'ARN-EEEEE-EEEEE').executeTakeFirstOrThrow()
    expect(other.ack_status).toBeNull()
  })

  it('puts a dispute, with the provider\'s words, where analysts look: one open row in notice_disputes', async () => {
    const url = path('ARN-BBBBB-BBBBB')
    expect((await app.inject({ url })).body).toMatch(/<textarea[^>]*name="message"/)
    const words = 'This is our own logo <b>, not what your list says; see our takedown policy.'
    const answered = await app.inject({ method: 'POST', url, ...form({ answer: 'dispute', message: `  ${words}\n` }) })
    expect(answered.statusCode).toBe(200)
    expect(answered.body).toContain('An analyst will review the notice.')
    const notice = await handle.db.selectFrom('notices').select(['id', 'media_id']).where('reference', '=', 'ARN-BBBBB-BBBBB').executeTakeFirstOrThrow()
    const disputes = await handle.db.selectFrom('notice_disputes').select(['notice_id', 'media_id', 'message', 'via', 'resolved_at']).where('notice_id', '=', notice.id).execute()
    expect(disputes).toEqual([{ notice_id: notice.id, media_id: notice.media_id, message: words, via: 'link', resolved_at: null }])
    const history = await noticeHistory(handle.db, 'ARN-BBBBB-BBBBB')
    expect(history!.events.filter((e) => e.kind === 'ack').map((e) => e.detail)).toEqual([{ answer: 'dispute', via: 'link', message: words }])
    // Words beyond the limit are refused, not cut silently; "removed" opens no dispute.
    const tooLong = await app.inject({ method: 'POST', url, ...form({ answer: 'dispute', message: 'x'.repeat(DISPUTE_MESSAGE_MAX + 1) }) })
    expect([tooLong.statusCode, tooLong.body]).toEqual([400, expect.stringContaining(`at most ${DISPUTE_MESSAGE_MAX} characters`)])
    expect((await app.inject({ method: 'POST', url, ...form({ answer: 'removed', message: 'ignored' }) })).statusCode).toBe(200)
    expect(await handle.db.selectFrom('notice_disputes').select('id').where('notice_id', '=', notice.id).execute()).toHaveLength(1)
  })

  it('shows the provider\'s own notice as text, never as markup', async () => {
    await handle.db.updateTable('notices').set({ media_url: 'http://four.test/"><script>alert(1)</script>.jpg' }).where('reference', '=', 'ARN-DDDDD-DDDDD').execute()
    const shown = await app.inject({ url: path('ARN-DDDDD-DDDDD') })
    expect(shown.body).toContain('http://four.test/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;.jpg')
    expect(shown.body).not.toContain('<script>')
  })

  it('answers a forged or unknown link like any unknown page, and an expired one with 410', async () => {
    const forged = path('ARN-AAAAA-AAAAA').replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))
    expect((await app.inject({ url: forged })).statusCode).toBe(404)
    expect((await app.inject({ method: 'POST', url: forged, ...form({ answer: 'removed' }) })).statusCode).toBe(404)
    expect((await app.inject({ url: '/ack/' })).statusCode).toBe(404)
    expect((await app.inject({ url: '/elsewhere' })).statusCode).toBe(404)
    expect((await app.inject({ url: path('ARN-CCCCC-CCCCC') })).statusCode).toBe(404)
    expect((await app.inject({ method: 'DELETE', url: path('ARN-AAAAA-AAAAA') })).statusCode).toBe(405)
    const expired = await app.inject({ url: path('ARN-AAAAA-AAAAA', new Date(Date.now() - 800 * 3_600_000)) })
    expect([expired.statusCode, expired.body]).toEqual([410, expect.stringContaining('This link has expired')])
    // A body past the form's bound is refused before it is read whole.
    const huge = await app.inject({ method: 'POST', url: path('ARN-AAAAA-AAAAA'), ...form({ answer: 'dispute', message: 'x'.repeat(30_000) }) })
    expect(huge.statusCode).toBe(413)
  })
})
