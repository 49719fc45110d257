import { mkdtemp, readdir, readFile, rm, stat, utimes } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { simpleParser } from 'mailparser'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  createNotices, EmlDirectoryTransport, listNotices, noticeKey, OutboxDelivery, ProviderDirectory, parsePattern,
  referenceFor, setProviderRule, SmtpTransport, type NoticeRequest,
} from '@arachnid/notifier'
import { clearNotifierState, dialectsUnderTest, openTestDatabase, SmtpSink, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()
const reporter = { name: 'Arachnid test reporter', from: 'Arachnid <notices@reporter.test>' }

function request(mediaId: number, url: string, serverIp = '203.0.113.7'): NoticeRequest {
  return {
    mediaId, url, finalUrl: url, pageUrls: ['http://files.example.test/page-1.html'], serverIp,
    detectedAt: new Date('2026-11-29T08:00:00Z'),
    hashes: { sha256: 'a'.repeat(64), md5: 'b'.repeat(32), sha1: 'c'.repeat(40), blockhash: 'd'.repeat(64), pdq: 'e'.repeat(64) },
    matches: [{ list: 'demo', algorithm: 'blockhash', distance: 3, category: 'A1', externalId: 'entry-9' }],
  }
}

describe('provider directory patterns', () => {
  it('normalises CIDRs and domains and refuses anything else', () => {
    expect(parsePattern('203.0.113.7')).toEqual({ kind: 'cidr', pattern: '203.0.113.7/32' })
    expect(parsePattern('2001:DB8::/32')).toEqual({ kind: 'cidr', pattern: '2001:db8:0:0:0:0:0:0/32' })
    expect(parsePattern('Files.Example.TEST')).toEqual({ kind: 'domain', pattern: 'files.example.test' })
    expect(() => parsePattern('10.0.0.0/40')).toThrow(/CIDR/)
    expect(() => parsePattern('not a domain!')).toThrow(/neither/)
  })

  it('gives the same reference for the same URL, every time', () => {
    const key = noticeKey('http://x.test/a.jpg')
    expect(referenceFor(key)).toBe(referenceFor(noticeKey('http://x.test/a.jpg')))
    expect(referenceFor(key)).toMatch(/^ARN-[A-Z2-9]{5}-[A-Z2-9]{5}$/)
    expect(referenceFor(key)).not.toBe(referenceFor(noticeKey('http://x.test/b.jpg')))
  })
})

describe.each(dialects)('notifier on %s', (dialect) => {
  let handle: TestDatabase
  let smtp: SmtpSink
  let mediaIds: number[]
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    smtp = await new SmtpSink().start()
    mediaIds = []
    for (let i = 0; i < 4; i++) {
      const row = await handle.db.insertInto('media').values({
        sha256: Buffer.alloc(32, i + 1), md5: Buffer.alloc(16), sha1: Buffer.alloc(20), bytes: 100,
      }).returning('id').executeTakeFirstOrThrow()
      mediaIds.push(row.id)
    }
    await setProviderRule(handle.db, { pattern: '203.0.113.0/24', name: 'Net Hosting', abuseEmail: 'abuse@net-hosting.test' })
    await setProviderRule(handle.db, { pattern: '203.0.113.0/28', name: 'Small Reseller', abuseEmail: 'abuse@reseller.test' })
    await setProviderRule(handle.db, { pattern: 'cdn.example.test', name: 'CDN Co', abuseEmail: 'abuse@cdn.test' })
  })
  afterAll(async () => {
    await smtp?.stop()
    await handle?.close()
  })
  // Each test makes the notices it needs: none is left over from another test.
  beforeEach(async () => {
    await clearNotifierState(handle.db)
    smtp.received.length = 0
    smtp.rejectNext(0)
  })

  /** a.jpg to Small Reseller, b.jpg to Net Hosting, c.jpg to no one (no rule names its host or address). */
  const createThree = async () => createNotices(handle.db, await ProviderDirectory.load(handle.db), [
    request(mediaIds[0]!, 'http://files.example.test/a.jpg'),
    request(mediaIds[1]!, 'http://files.example.test/b.jpg', '203.0.113.200'),
    request(mediaIds[2]!, 'http://nowhere.test/c.jpg', '198.51.100.1'),
  ], reporter)

  it('picks the most specific directory rule, domain over address', async () => {
    const directory = await ProviderDirectory.load(handle.db)
    expect(directory.resolve('files.example.test', '203.0.113.7')?.name).toBe('Small Reseller')
    expect(directory.resolve('files.example.test', '203.0.113.200')?.name).toBe('Net Hosting')
    expect(directory.resolve('img.cdn.example.test', '203.0.113.7')?.name).toBe('CDN Co')
    expect(directory.resolve('elsewhere.test', '198.51.100.1')).toBeUndefined()
  })

  it('creates one notice per media URL with its email in the outbox, and never a second', async () => {
    expect(await createThree()).toMatchObject({ created: 3, unassigned: 1 })
    const again = await createNotices(handle.db, await ProviderDirectory.load(handle.db), [request(mediaIds[0]!, 'http://files.example.test/a.jpg')], reporter)
    expect(again.created).toBe(0)
    const outbox = await handle.db.selectFrom('outbox').selectAll().execute()
    expect(outbox.map((o) => o.to_address).sort()).toEqual(['abuse@net-hosting.test', 'abuse@reseller.test'])
  })

  it('delivers the outbox over SMTP once: text, HTML and XARF JSON, reference in the subject, no image', async () => {
    await createThree()
    const transport = new SmtpTransport(smtp.url)
    const delivery = new OutboxDelivery(handle.db, transport, { from: reporter.from })
    expect(await delivery.deliverDue()).toMatchObject({ sent: 2, retrying: 0, failed: 0 })
    expect(await delivery.deliverDue()).toMatchObject({ sent: 0, retrying: 0, failed: 0 })
    await transport.close()
    expect(smtp.received).toHaveLength(2)
    const mail = smtp.received.find((m) => m.envelopeTo.includes('abuse@reseller.test'))!.parsed
    const reference = referenceFor(noticeKey('http://files.example.test/a.jpg'))
    expect(mail.subject).toContain(`[${reference}]`)
    expect(mail.text).toContain('http://files.example.test/a.jpg')
    expect(mail.text).toContain('http://files.example.test/page-1.html')
    expect(mail.text).toContain('a'.repeat(64))
    expect(mail.text).toContain('2026-11-29T08:00:00.000Z')
    expect(mail.html).toContain(reference)
    expect(mail.attachments).toHaveLength(1)
    const attachment = mail.attachments[0]!
    expect(attachment.contentType).toBe('application/json')
    const xarf = JSON.parse(attachment.content.toString('utf8'))
    expect(xarf).toMatchObject({
      xarf_version: '4.0.0', report_id: reference, category: 'content', type: 'csam', url: 'http://files.example.test/a.jpg',
      source_identifier: '203.0.113.7', classification: ['A1'], detection_method: 'hash_match_perceptual',
      reporter: { org: reporter.name, contact: 'notices@reporter.test' },
    })
    expect(xarf.hash_values).toContainEqual({ algorithm: 'sha256', value: 'a'.repeat(64) })
    expect(mail.attachments.every((a) => !a.contentType.startsWith('image/'))).toBe(true)
    const listed = await listNotices(handle.db)
    expect(listed.filter((n) => n.delivery === 'sent')).toHaveLength(2)
  })

  it('retries while SMTP refuses, then delivers each email exactly once', async () => {
    const directory = await ProviderDirectory.load(handle.db)
    await createNotices(handle.db, directory, [request(mediaIds[3]!, 'http://files.example.test/d.jpg')], reporter)
    smtp.rejectNext(2)
    const transport = new SmtpTransport(smtp.url)
    const delivery = new OutboxDelivery(handle.db, transport, { from: reporter.from, retryBaseMs: 0 })
    expect(await delivery.deliverDue()).toMatchObject({ retrying: 1, sent: 0 })
    const row = await handle.db.selectFrom('outbox').select(['attempts', 'last_error', 'status']).where('to_address', '=', 'abuse@reseller.test').orderBy('id', 'desc').executeTakeFirstOrThrow()
    expect(row).toMatchObject({ status: 'pending', attempts: 1 })
    expect(row.last_error).toMatch(/451|try again/)
    // retryBaseMs 0: due again at the next pass; one attempt per pass.
    expect(await delivery.deliverDue()).toMatchObject({ retrying: 1, sent: 0 })
    expect(await delivery.deliverDue()).toMatchObject({ retrying: 0, sent: 1 })
    await transport.close()
    expect(smtp.received.filter((m) => m.parsed.text?.includes('/d.jpg'))).toHaveLength(1)
  })

  it('writes .eml files once per key when there is no SMTP: a row taken again after a crash leaves its file as it was', async () => {
    await createThree()
    await createNotices(handle.db, await ProviderDirectory.load(handle.db), [request(mediaIds[3]!, 'http://files.example.test/d.jpg')], reporter)
    const dir = await mkdtemp(path.join(os.tmpdir(), 'arachnid-eml-'))
    try {
      const transport = new EmlDirectoryTransport(dir)
      const delivery = new OutboxDelivery(handle.db, transport, { from: reporter.from })
      expect((await delivery.deliverDue()).sent).toBe(3)
      // One file per outbox key, named after it, and nothing else (no temporary file left).
      const keys = (await handle.db.selectFrom('outbox').select('idempotency_key').execute()).map((r) => r.idempotency_key)
      expect((await readdir(dir)).sort()).toEqual(keys.map((k) => path.basename(transport.fileFor(k))).sort())
      // Each file as written: its inode (a new file renamed over it would have another) and its
      // content; its modification time set far back, so a write into it would show.
      const longAgo = new Date('2001-02-03T04:05:06Z')
      const written = new Map<string, { ino: bigint; content: string }>()
      for (const key of keys) {
        const file = transport.fileFor(key)
        await utimes(file, longAgo, longAgo)
        written.set(file, { ino: (await stat(file, { bigint: true })).ino, content: (await readFile(file)).toString('utf8') })
      }

      // A crash after writing but before marking sent: every row is taken again and handed to the
      // transport again, which finds its file and writes nothing.
      await handle.db.updateTable('outbox').set({ status: 'pending' }).execute()
      expect((await delivery.deliverDue()).sent).toBe(3)
      expect((await handle.db.selectFrom('outbox').select('attempts').execute()).map((r) => r.attempts)).toEqual([2, 2, 2])
      expect((await readdir(dir)).sort()).toEqual(keys.map((k) => path.basename(transport.fileFor(k))).sort())
      for (const [file, before] of written) {
        const now = await stat(file, { bigint: true })
        expect({ ino: now.ino, mtime: new Date(Number(now.mtimeMs)), content: (await readFile(file)).toString('utf8') }, file)
          .toEqual({ ino: before.ino, mtime: longAgo, content: before.content })
      }

      const parsed = await simpleParser(await readFile(transport.fileFor(keys[0]!)))
      expect(parsed.subject).toMatch(/^\[ARN-/)
      expect(parsed.attachments[0]?.contentType).toBe('application/json')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
