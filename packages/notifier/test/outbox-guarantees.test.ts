import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createNotices, OutboxDelivery, ProviderDirectory, releaseHeld, setProviderRule, SmtpTransport, type NoticeRequest } from '@arachnid/notifier'
import { sql } from '@arachnid/core'
import { dialectsUnderTest, openTestDatabase, SmtpSink, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()
const reporter = { name: 'Arachnid test reporter', from: 'Arachnid <notices@reporter.test>' }

describe.each(dialects)('outbox delivery guarantees on %s', (dialect) => {
  let handle: TestDatabase
  let smtp: SmtpSink
  let mediaId: number
  let counter = 0
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    smtp = await new SmtpSink().start()
    mediaId = (await handle.db.insertInto('media').values({ sha256: Buffer.alloc(32, 3), md5: Buffer.alloc(16), sha1: Buffer.alloc(20), bytes: 10 }).returning('id').executeTakeFirstOrThrow()).id
    await setProviderRule(handle.db, { pattern: 'busy.test', name: 'Busy Host', abuseEmail: 'abuse@busy.test' })
    await setProviderRule(handle.db, { pattern: 'quiet.test', name: 'Quiet Host', abuseEmail: 'abuse@quiet.test' })
  })
  afterAll(async () => {
    await smtp?.stop()
    await handle?.close()
  })
  beforeEach(async () => {
    await handle.db.deleteFrom('notice_events').execute()
    await handle.db.deleteFrom('outbox').execute()
    smtp.received.length = 0
    smtp.rejectNext(0)
  })

  const notices = async (host: string, n: number) => {
    const requests: NoticeRequest[] = Array.from({ length: n }, () => {
      const url = `http://${host}/img-${++counter}.jpg`
      return {
        mediaId, url, finalUrl: url, pageUrls: [], serverIp: null, detectedAt: new Date(),
        hashes: { sha256: '03'.repeat(32), md5: '0'.repeat(32), sha1: '0'.repeat(40) }, matches: [{ list: 'l', algorithm: 'sha256', distance: 0, category: null, externalId: null }],
      }
    })
    return createNotices(handle.db, await ProviderDirectory.load(handle.db), requests, reporter)
  }
  const perMessageId = () => {
    const counts = new Map<string, number>()
    for (const m of smtp.received) counts.set(m.parsed.messageId!, (counts.get(m.parsed.messageId!) ?? 0) + 1)
    return counts
  }

  it('keeps retrying with backoff while SMTP is down, then delivers every email exactly once', async () => {
    await notices('busy.test', 3)
    const port = smtp.port
    await smtp.stop()
    const transport = new SmtpTransport(smtp.url, { timeoutMs: 5000 })
    const delivery = new OutboxDelivery(handle.db, transport, { from: reporter.from, retryBaseMs: 0 })
    for (let pass = 1; pass <= 3; pass++) {
      expect(await delivery.deliverDue()).toMatchObject({ sent: 0, retrying: 3, failed: 0 })
    }
    const rows = await handle.db.selectFrom('outbox').select(['attempts', 'status', 'last_error']).execute()
    expect(rows.every((r) => r.attempts === 3 && r.status === 'pending' && /ECONNREFUSED|connect/i.test(r.last_error ?? ''))).toBe(true)
    await smtp.start(port)
    expect(await delivery.deliverDue()).toMatchObject({ sent: 3, retrying: 0 })
    expect(await delivery.deliverDue()).toMatchObject({ sent: 0, retrying: 0 })
    expect([...perMessageId().values()]).toEqual([1, 1, 1])
    // Each send recorded once, with its event, in the same statement as the row's status.
    const sent = await handle.db.selectFrom('outbox').select(['notice_id', 'message_id', 'sent_at', 'status']).orderBy('id').execute()
    const events = await handle.db.selectFrom('notice_events').select(['notice_id', 'detail']).where('kind', '=', 'sent').orderBy('id').execute()
    expect(sent.every((r) => r.status === 'sent' && r.sent_at !== null)).toBe(true)
    expect(events.map((e) => ({ notice: e.notice_id, ...(typeof e.detail === 'string' ? JSON.parse(e.detail) : e.detail) }))).toEqual(sent.map((r) => ({
      notice: r.notice_id, email: 'notice', sequence: 1, to: 'abuse@busy.test', messageId: r.message_id, inDoubt: false,
    })))
  })

  it('backs off exponentially: each failure doubles the delay the outbox schedules, up to its cap, and a failed email is not due before it', async () => {
    await notices('busy.test', 1)
    const baseMs = 3_600_000
    const maxMs = 10 * 3_600_000
    const failures = 5
    smtp.rejectNext(failures)
    const delivery = new OutboxDelivery(handle.db, new SmtpTransport(smtp.url), { from: reporter.from, retryBaseMs: baseMs, retryMaxMs: maxMs })
    const dbNow = async () => (await sql<{ now: Date }>`select now() as now`.execute(handle.db)).rows[0]!.now.getTime()
    // The delay of each failure is what the outbox wrote (next_attempt_at) less the moment of the
    // failure, which lies between the database's clock read before and after the pass.
    const scheduled: { attempt: number; atLeastMs: number; atMostMs: number }[] = []
    for (let attempt = 1; attempt <= failures; attempt++) {
      const before = await dbNow()
      expect(await delivery.deliverDue()).toMatchObject({ retrying: 1, sent: 0 })
      const after = await dbNow()
      const row = await handle.db.selectFrom('outbox').select(['next_attempt_at', 'attempts', 'status']).executeTakeFirstOrThrow()
      expect(row).toMatchObject({ attempts: attempt, status: 'pending' })
      // Timestamps are read to the millisecond: one either side.
      scheduled.push({ attempt, atLeastMs: row.next_attempt_at.getTime() - after - 1, atMostMs: row.next_attempt_at.getTime() - before + 1 })
      // Not due yet: the next pass leaves it alone.
      expect(await delivery.deliverDue()).toMatchObject({ sent: 0, retrying: 0 })
      expect((await handle.db.selectFrom('outbox').select('attempts').executeTakeFirstOrThrow()).attempts).toBe(attempt)
      // Its delay has passed (as if the hours went by): due at the next pass.
      await handle.db.updateTable('outbox').set({ next_attempt_at: sql<Date>`now() - interval '1 second'` as never }).execute()
    }
    // 1 h, 2 h, 4 h, 8 h, then the 10 h cap.
    const expected = [1, 2, 4, 8, 10].map((hours) => hours * 3_600_000)
    expect(scheduled.map(({ attempt, atLeastMs, atMostMs }) => {
      const want = expected[attempt - 1]!
      return atLeastMs <= want && want <= atMostMs ? want : `attempt ${attempt}: between ${atLeastMs} and ${atMostMs} ms`
    })).toEqual(expected)
    expect(smtp.received).toHaveLength(0)
    // The rejections are used up: the next attempt delivers it.
    expect(await delivery.deliverDue()).toMatchObject({ sent: 1 })
    expect(smtp.received).toHaveLength(1)
  })

  it('sends at most the hourly quota to one provider and leaves the rest for later', async () => {
    await notices('busy.test', 5)
    await notices('quiet.test', 1)
    const delivery = new OutboxDelivery(handle.db, new SmtpTransport(smtp.url), { from: reporter.from, ratePerHour: 2 })
    expect(await delivery.deliverDue()).toMatchObject({ sent: 3, deferred: 3 })
    expect(await delivery.deliverDue()).toMatchObject({ sent: 0, deferred: 3 })
    expect(smtp.received.map((m) => m.envelopeTo[0]).sort()).toEqual(['abuse@busy.test', 'abuse@busy.test', 'abuse@quiet.test'])
    // An hour later (the sent rows age out of the window) the next two go.
    await handle.db.updateTable('outbox').set({ sent_at: new Date(Date.now() - 3_700_000) }).where('status', '=', 'sent').execute()
    expect(await delivery.deliverDue()).toMatchObject({ sent: 2, deferred: 1 })
  })

  it('resends a row whose sender died before the commit point, once, as a normal send', async () => {
    await notices('quiet.test', 1)
    // A worker claimed it and died before handing SMTP the end of the message.
    await handle.db.updateTable('outbox').set({ status: 'sending', attempts: 1, lease_until: new Date(Date.now() - 1000) }).execute()
    const delivery = new OutboxDelivery(handle.db, new SmtpTransport(smtp.url), { from: reporter.from })
    expect(await delivery.deliverDue()).toMatchObject({ sent: 1, inDoubt: 0 })
    expect(smtp.received).toHaveLength(1)
    expect(smtp.received[0]!.parsed.headers.get('x-arachnid-resent')).toBeUndefined()
    expect(await handle.db.selectFrom('outbox').select(['status', 'attempts', 'in_doubt']).executeTakeFirstOrThrow()).toEqual({ status: 'sent', attempts: 2, in_doubt: false })
  })

  it('treats a row left mid-commit as in doubt: resent with the same Message-ID and marked, or held for an operator', async () => {
    await notices('quiet.test', 2)
    const rows = await handle.db.selectFrom('outbox').select(['id', 'message_id']).orderBy('id').execute()
    await handle.db.updateTable('outbox').set({ status: 'committing', attempts: 1, lease_until: new Date(Date.now() - 1000) }).execute()

    const held = new OutboxDelivery(handle.db, new SmtpTransport(smtp.url), { from: reporter.from, inDoubt: 'hold' })
    expect(await held.deliverDue()).toMatchObject({ sent: 0, inDoubt: 2 })
    expect(smtp.received).toHaveLength(0)
    expect((await handle.db.selectFrom('outbox').select('status').execute()).map((r) => r.status)).toEqual(['held', 'held'])
    const reference = (await handle.db.selectFrom('notices').innerJoin('outbox', 'outbox.notice_id', 'notices.id').select('reference').where('outbox.id', '=', rows[0]!.id).executeTakeFirstOrThrow()).reference
    expect(await releaseHeld(handle.db, reference)).toBe(1)
    // Released once: nothing of it is held now, and a reference no notice has is an error, not "0 released".
    expect(await releaseHeld(handle.db, reference)).toBe(0)
    await expect(releaseHeld(handle.db, 'ARN-NOSUC-HNOTE')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'no notice ARN-NOSUC-HNOTE' })

    const resend = new OutboxDelivery(handle.db, new SmtpTransport(smtp.url), { from: reporter.from, inDoubt: 'resend' })
    expect(await resend.deliverDue()).toMatchObject({ sent: 1 })
    expect(smtp.received).toHaveLength(1)
    expect(smtp.received[0]!.parsed.messageId).toBe(rows[0]!.message_id)
    expect(smtp.received[0]!.parsed.headers.get('x-arachnid-resent')).toBe('in-doubt')
    const events = await handle.db.selectFrom('notice_events').select(['kind', 'detail']).where('kind', '=', 'in-doubt').execute()
    expect(events).toHaveLength(2)
    expect(events.every((e) => e.detail.action === 'held')).toBe(true)
  })
})
