import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AckLinks, createAckHandler, DISPUTE_MESSAGE_MAX, noticeHistory } from '@arachnid/notifier'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

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
  let server: http.Server
  let base: string
  let links: AckLinks
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    const media = await handle.db.insertInto('media').values({ sha256: Buffer.alloc(32, 1), md5: Buffer.alloc(16), sha1: Buffer.alloc(20), bytes: 1 }).returning('id').executeTakeFirstOrThrow()
    for (const [reference, url] of [['ARN-AAAAA-AAAAA', 'http://one.test/a.jpg'], ['ARN-BBBBB-BBBBB', 'http://two.test/secret-other.jpg']] as const) {
      await handle.db.insertInto('notices').values({ reference, media_url: url, media_id: media.id, status: 'open', idempotency_key: reference, detected_at: new Date(), next_check_at: new Date(Date.now() + 86_400_000) }).execute()
    }
    server = http.createServer(() => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    links = new AckLinks({ secret: SECRET, baseUrl: base })
    server.removeAllListeners('request')
    server.on('request', createAckHandler({ db: handle.db, links }))
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise<void>((resolve) => server ? server.close(() => resolve()) : resolve())
    await handle?.close()
  })

  it('shows only its own notice and records "removed" and "dispute" in the history', async () => {
    const url = links.url('ARN-AAAAA-AAAAA')
    const page = await fetch(url)
    expect(page.status).toBe(200)
    expect(page.headers.get('cache-control')).toBe('no-store')
    const html = await page.text()
    expect(html).toContain('ARN-AAAAA-AAAAA')
    expect(html).toContain('http://one.test/a.jpg')
    expect(html).not.toContain('ARN-BBBBB-BBBBB')
    expect(html).not.toContain('secret-other')

    const removed = await fetch(url, { method: 'POST', body: new URLSearchParams({ answer: 'removed' }) })
    expect(removed.status).toBe(200)
    expect(await removed.text()).toContain('"removed" was recorded')
    const notice = await handle.db.selectFrom('notices').select(['ack_status', 'ack_at', 'next_check_at', 'status']).where('reference', '=', 'ARN-AAAAA-AAAAA').executeTakeFirstOrThrow()
    expect(notice.ack_status).toBe('removed')
    // The claim is checked, not believed: the notice stays open and is due for a recheck now.
    expect(notice.status).toBe('open')
    expect(notice.next_check_at!.getTime()).toBeLessThanOrEqual(Date.now())

    expect((await fetch(url, { method: 'POST', body: new URLSearchParams({ answer: 'dispute' }) })).status).toBe(200)
    expect((await fetch(url, { method: 'POST', body: new URLSearchParams({ answer: 'delete-everything' }) })).status).toBe(400)
    const history = await noticeHistory(handle.db, 'ARN-AAAAA-AAAAA')
    expect(history!.events.filter((e) => e.kind === 'ack').map((e) => e.detail.answer)).toEqual(['removed', 'dispute'])
    const other = await handle.db.selectFrom('notices').select('ack_status').where('reference', '=', 'ARN-BBBBB-BBBBB').executeTakeFirstOrThrow()
    expect(other.ack_status).toBeNull()
  })

  it('puts a dispute, with the provider\'s words, where analysts look: one open row in notice_disputes', async () => {
    const url = links.url('ARN-BBBBB-BBBBB')
    expect(await (await fetch(url)).text()).toMatch(/<textarea[^>]*name="message"/)
    const words = 'This is our own logo <b>, not what your list says; see our takedown policy.'
    const answered = await fetch(url, { method: 'POST', body: new URLSearchParams({ answer: 'dispute', message: `  ${words}\n` }) })
    expect(answered.status).toBe(200)
    expect(await answered.text()).toContain('An analyst will review the notice.')
    const notice = await handle.db.selectFrom('notices').select(['id', 'media_id']).where('reference', '=', 'ARN-BBBBB-BBBBB').executeTakeFirstOrThrow()
    const disputes = await handle.db.selectFrom('notice_disputes').select(['notice_id', 'media_id', 'message', 'via', 'resolved_at']).where('notice_id', '=', notice.id).execute()
    expect(disputes).toEqual([{ notice_id: notice.id, media_id: notice.media_id, message: words, via: 'link', resolved_at: null }])
    const history = await noticeHistory(handle.db, 'ARN-BBBBB-BBBBB')
    expect(history!.events.filter((e) => e.kind === 'ack').map((e) => e.detail)).toEqual([{ answer: 'dispute', via: 'link', message: words }])
    // Words beyond the limit are refused, not cut silently; "removed" opens no dispute.
    expect((await fetch(url, { method: 'POST', body: new URLSearchParams({ answer: 'dispute', message: 'x'.repeat(DISPUTE_MESSAGE_MAX + 1) }) })).status).toBe(400)
    expect((await fetch(url, { method: 'POST', body: new URLSearchParams({ answer: 'removed', message: 'ignored' }) })).status).toBe(200)
    expect(await handle.db.selectFrom('notice_disputes').select('id').where('notice_id', '=', notice.id).execute()).toHaveLength(1)
  })

  it('answers a forged or unknown link like any unknown page, and an expired one with 410', async () => {
    const forged = links.url('ARN-AAAAA-AAAAA').replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))
    expect((await fetch(forged)).status).toBe(404)
    expect((await fetch(forged, { method: 'POST', body: new URLSearchParams({ answer: 'removed' }) })).status).toBe(404)
    expect((await fetch(`${base}/ack/`)).status).toBe(404)
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404)
    expect((await fetch(links.url('ARN-CCCCC-CCCCC'))).status).toBe(404)
    const expired = links.url('ARN-AAAAA-AAAAA', new Date(Date.now() - 800 * 3_600_000))
    expect((await fetch(expired)).status).toBe(410)
  })
})
