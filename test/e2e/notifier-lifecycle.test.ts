import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger, type DialectName, sql } from '@arachnid/core'
import { Hasher, type ImageHashes } from '@arachnid/hasher'
import {
  AckLinks, createAckHandler, createBoss, createNotices, DnsHostResolver, noticeHistory, noticeStats, NotifierService, NotifyScheduler,
  RdapClient, setProviderRule, SmtpTransport, type NoticeRequest,
} from '@arachnid/notifier'
import { generateImage } from '@arachnid/synthetic'
import { createWebApp } from '@arachnid/web'
import type { FastifyInstance } from 'fastify'
import { dialectsUnderTest, DnsServer, openTestDatabase, RdapServer, RemovalSite, SmtpSink, type ReceivedEmail, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()
const reporter = { name: 'Arachnid lifecycle test', from: 'Arachnid Notices <notices@reporter.test>' }
const REMOVAL_CHECKS = 2
const ESCALATE_AFTER = 2

async function until(what: string, condition: () => Promise<boolean>, seconds = 90): Promise<void> {
  const deadline = Date.now() + seconds * 1000
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

function xarfOf(mail: ReceivedEmail): Record<string, any> {
  const attachments = mail.parsed.attachments
  expect(attachments.map((a) => a.contentType)).toEqual(['application/json'])
  return JSON.parse(attachments[0]!.content.toString('utf8'))
}

/**
 * The notifier's whole job on real servers on loopback: DNS, RDAP, two websites (one takes its
 * images down on a schedule, one never does), SMTP, the acknowledgement endpoint, and the passes
 * scheduled through pg-boss on the same database.
 */
describe.each(dialects)('notices through to removal on %s', (dialect: DialectName) => {
  let handle: TestDatabase
  let dns: DnsServer
  let rdap: RdapServer
  let smtp: SmtpSink
  let removing: RemovalSite
  let keeping: RemovalSite
  let refusing: RemovalSite
  let ackServer: FastifyInstance
  let links: AckLinks
  let hasher: Hasher
  let service: NotifierService
  let scheduler: NotifyScheduler
  const images = new Map<string, { bytes: Uint8Array; hashes: ImageHashes; mediaId: number }>()
  const urls: Record<string, string> = {}
  const detectedAt = new Date(Date.now() - 3_600_000)

  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    hasher = new Hasher()
    for (const [name, seed] of [['a', 11], ['b', 12], ['c', 13], ['d', 14], ['e', 15], ['other', 99]] as const) {
      const bytes = await generateImage({ seed, width: 256, height: 192 })
      const hashes = await hasher.hash(bytes)
      const media = await handle.db.insertInto('media').values({
        sha256: Buffer.from(hashes.sha256, 'hex'), md5: Buffer.from(hashes.md5, 'hex'), sha1: Buffer.from(hashes.sha1, 'hex'),
        blockhash: Buffer.from(hashes.blockhash, 'hex'), pdq: Buffer.from(hashes.pdq, 'hex'), pdq_quality: hashes.pdqQuality, bytes: bytes.length,
      }).returning('id').executeTakeFirstOrThrow()
      images.set(name, { bytes, hashes, mediaId: media.id })
    }
    const recoded = await generateImage({ seed: 14, width: 256, height: 192, quality: 60 })
    removing = await new RemovalSite()
      .host('/a.jpg', { bytes: images.get('a')!.bytes, removal: '404', servedFor: 1 })
      .host('/b.jpg', { bytes: images.get('b')!.bytes, removal: 'replace', servedFor: 1, replacement: images.get('other')!.bytes })
      .host('/c.jpg', { bytes: images.get('c')!.bytes, removal: '410', servedFor: 0 })
      .start()
    keeping = await new RemovalSite()
      .host('/d.jpg', { bytes: images.get('d')!.bytes, removal: 'never' })
      // The same picture re-encoded: other bytes, still the material (perceptual hashes agree).
      .host('/d-recoded.jpg', { bytes: recoded, removal: 'never' })
      .start()
    refusing = await new RemovalSite().host('/e.jpg', { bytes: images.get('e')!.bytes, removal: 'never' }).start()
    dns = await new DnsServer()
      .set('removes.test', ['127.0.0.1']).set('keeps.test', ['127.0.0.1']).set('vanishes.test', ['127.0.0.1']).set('refuses.test', ['127.0.0.1'])
      .start()
    rdap = await new RdapServer([
      { handle: 'NET-TRANSIT', cidr: '127.0.0.0/8', name: 'LOOPBACK-TRANSIT', organisation: 'Loopback Transit', abuseEmail: 'abuse@transit.test' },
      { handle: 'NET-HOSTING', cidr: '127.0.0.0/24', name: 'LOOPBACK-HOSTING', organisation: 'Loopback Hosting', abuseEmail: 'abuse@hosting.test' },
    ]).start()
    smtp = await new SmtpSink().start()
    // The acknowledgement page as serve mounts it, on a real socket: the emails' links are followed.
    // Verifying a link needs only the secret, so the page's AckLinks does not need the port yet.
    const secret = 'lifecycle-secret-0123456789'
    ackServer = await createWebApp({ logger: createLogger({ level: 'silent' }) })
    await ackServer.register(createAckHandler({ db: handle.db, links: new AckLinks({ secret, baseUrl: 'http://127.0.0.1:9/' }) }), { prefix: '/ack' })
    const ackUrl = await ackServer.listen({ port: 0, host: '127.0.0.1' })
    links = new AckLinks({ secret, baseUrl: ackUrl })
    // The operator's directory names the provider of removes.test; everything else goes to RDAP.
    await setProviderRule(handle.db, { pattern: 'removes.test', name: 'Directory Host', abuseEmail: 'abuse@directory-host.test' })

    service = await NotifierService.create({
      db: handle.db, transport: new SmtpTransport(smtp.url), reporter, hasher, ack: links,
      hosts: new DnsHostResolver({ servers: [dns.address] }), rdap: new RdapClient({ bootstrapUrl: rdap.bootstrapUrl }),
      recheck: { intervalSeconds: 1, removalChecks: REMOVAL_CHECKS, escalateAfter: ESCALATE_AFTER, allowAddresses: ['127.0.0.1/32'], timeoutMs: 5000 },
      delivery: { retryBaseMs: 500 },
    })
    const at = (name: string, site: RemovalSite, host: string, path: string) => { urls[name] = `http://${host}:${site.port}${path}` }
    at('a', removing, 'removes.test', '/a.jpg')
    at('b', removing, 'removes.test', '/b.jpg')
    at('c', removing, 'vanishes.test', '/c.jpg')
    at('d', keeping, 'keeps.test', '/d.jpg')
    at('d2', keeping, 'keeps.test', '/d-recoded.jpg')
    at('e', refusing, 'refuses.test', '/e.jpg')
    const request = (name: string, image: string): NoticeRequest => {
      const { hashes, mediaId } = images.get(image)!
      return {
        mediaId, url: urls[name]!, finalUrl: urls[name]!, pageUrls: [`http://${new URL(urls[name]!).host}/gallery.html`], serverIp: '127.0.0.1', detectedAt,
        hashes: { sha256: hashes.sha256, md5: hashes.md5, sha1: hashes.sha1, blockhash: hashes.blockhash, pdq: hashes.pdq },
        matches: [{ list: 'lifecycle-list', algorithm: 'pdq', distance: 4, category: 'A1', externalId: `entry-${image}` }],
      }
    }
    const created = await createNotices(handle.db, service.resolver, [request('a', 'a'), request('b', 'b'), request('c', 'c'), request('d', 'd'), request('d2', 'd'), request('e', 'e')], reporter, {
      ack: links, recheckIntervalSeconds: 0,
    })
    expect(await handle.db.selectFrom('provider_lookups').select(['host', 'last_error']).where('status', '=', 'unassigned').execute()).toEqual([])
    expect(created).toMatchObject({ created: 6, unassigned: 0 })
    // The first notices go out before any recheck: a check that still finds the material reminds
    // only a provider who was told already (an unsent notice is not followed by a reminder), and
    // which of two passes runs first would otherwise depend on the machine's load.
    await service.deliver()
    // After their first notice: vanishes.test stops resolving, refuses.test stops listening.
    dns.remove('vanishes.test')
    await refusing.close()
    scheduler = new NotifyScheduler(createBoss({ pglite: handle.pglite, url: handle.url }, { schema: 'pgboss' }), service, { intervalSeconds: 1, pollingIntervalSeconds: 0.5 })
    await scheduler.start()

    // The passes run as pg-boss jobs until every removal is confirmed and the stubborn host is
    // escalated; the tests below read what they did.
    await until('removals and an escalation', async () => {
      const rows = await handle.db.selectFrom('notices').select(['media_url', 'status', 'escalations']).execute()
      const status = new Map(rows.map((r) => [r.media_url, r]))
      const pending = await handle.db.selectFrom('outbox').select('id').where('status', '<>', 'sent').execute()
      return ['a', 'b', 'c', 'e'].every((n) => status.get(urls[n]!)?.status === 'removed')
        && (status.get(urls.d!)?.escalations ?? 0) >= 1 && pending.length === 0
    })
    await scheduler.stop()
    // A reminder queued by the last recheck pass may still wait: deliver it, so mail and records agree.
    await service.deliver()
  })
  afterAll(async () => {
    await scheduler?.stop()
    service?.close()
    await hasher?.close()
    for (const server of [removing, keeping, refusing]) await server?.close()
    await dns?.stop()
    await rdap?.stop()
    await smtp?.stop()
    await ackServer?.close()
    await handle?.close()
  })

  const notice = (name: string) => handle.db.selectFrom('notices').selectAll().where('media_url', '=', urls[name]!).orderBy('id').executeTakeFirstOrThrow()
  const mailsFor = (reference: string) => smtp.received.filter((m) => m.parsed.subject?.startsWith(`[${reference}]`))

  it('ran the passes through pg-boss until removals were confirmed and the stubborn host escalated', async () => {
    // The passes ran as pg-boss jobs on this same database.
    const { rows } = await sql<{ name: string; n: number }>`select name, count(*)::int as n from pgboss.job group by name order by name`.execute(handle.db)
    expect(rows.map((r) => r.name)).toEqual(['arachnid-notify-deliver', 'arachnid-notify-recheck'])
    expect(rows.every((r) => Number(r.n) > 2)).toBe(true)
  })

  it('sent each notice once to the right abuse desk: text, HTML with the ack link, and XARF checked field by field', async () => {
    const expectations = [
      ['a', 'a', 'abuse@directory-host.test', 'Directory Host'], ['b', 'b', 'abuse@directory-host.test', 'Directory Host'],
      ['c', 'c', 'abuse@hosting.test', 'Loopback Hosting'], ['d', 'd', 'abuse@hosting.test', 'Loopback Hosting'],
      ['d2', 'd', 'abuse@hosting.test', 'Loopback Hosting'], ['e', 'e', 'abuse@hosting.test', 'Loopback Hosting'],
    ] as const
    for (const [name, image, to, provider] of expectations) {
      const n = await notice(name)
      const first = mailsFor(n.reference).filter((m) => !/Reminder|Escalation/.test(m.parsed.subject!))
      expect(first, name).toHaveLength(1)
      const mail = first[0]!
      expect(mail.envelopeTo).toEqual([to])
      expect(mail.parsed.subject).toBe(`[${n.reference}] Removal request: known child sexual abuse material hosted at ${new URL(urls[name]!).host}`)
      expect(mail.parsed.text).toContain(`To the abuse desk of ${provider},`)
      expect(mail.parsed.text).toContain(`Media URL:     ${urls[name]}\n`)
      const ack = /(http:\/\/127\.0\.0\.1:\d+\/ack\/\S+)/.exec(mail.parsed.text!)?.[1]
      expect(links.verify(ack!.split('/ack/')[1]!).reference).toBe(n.reference)
      expect(mail.parsed.html).toContain(`href="${ack}"`)
      const hashes = images.get(image)!.hashes
      const xarf = xarfOf(mail)
      expect(xarf.xarf_version).toBe('4.0.0')
      expect(xarf.report_id).toBe(n.reference)
      expect(xarf.category).toBe('content')
      expect(xarf.type).toBe('csam')
      expect(xarf.timestamp).toBe(detectedAt.toISOString())
      expect(xarf.reporter).toEqual({ org: reporter.name, contact: 'notices@reporter.test', domain: 'reporter.test', type: 'automated' })
      expect(xarf.source_identifier).toBe('127.0.0.1')
      expect(xarf.url).toBe(urls[name])
      expect(xarf.classification).toEqual(['A1'])
      expect(xarf.detection_method).toBe('hash_match_perceptual')
      expect(xarf.hash_values).toEqual([
        { algorithm: 'sha256', value: hashes.sha256 }, { algorithm: 'md5', value: hashes.md5 }, { algorithm: 'sha1', value: hashes.sha1 },
        { algorithm: 'blockhash', value: hashes.blockhash }, { algorithm: 'pdq', value: hashes.pdq },
      ])
      expect(JSON.stringify(xarf)).not.toMatch(/base64|image\/(jpeg|png)/)
    }
  })

  it('recorded each removal after the configured consecutive checks, for each way material goes', async () => {
    const reasons: Record<string, string> = { a: 'http-404', b: 'content-changed', c: 'dns', e: 'refused' }
    for (const [name, reason] of Object.entries(reasons)) {
      const n = await notice(name)
      const history = await noticeHistory(handle.db, n.reference)
      const checks = history!.events.filter((e) => e.kind === 'check').map((e) => e.detail)
      expect(checks.slice(-REMOVAL_CHECKS).map((c) => c.reason), name).toEqual(Array(REMOVAL_CHECKS).fill(reason))
      expect(n.removed_at!.getTime(), name).toBe(n.first_gone_at!.getTime())
      const removedEvent = history!.events.find((e) => e.kind === 'removed')
      expect(removedEvent?.detail.checks).toBe(REMOVAL_CHECKS)
      // At most one email to the provider per cycle: never more than one per check that still found it.
      const present = checks.filter((c) => c.outcome === 'present').length
      expect(mailsFor(n.reference).length, name).toBeLessThanOrEqual(1 + present)
    }
    // /a.jpg and /b.jpg were still there at the first check: one reminder each, same reference.
    expect(removing.hits('/a.jpg')).toBeGreaterThanOrEqual(1 + REMOVAL_CHECKS)
    expect((await notice('a')).reminders).toBe(1)
    expect((await notice('c')).reminders).toBe(0)
  })

  it('kept reminding the host that never removes, with the same reference, threaded, then escalated upstream', async () => {
    for (const name of ['d', 'd2']) {
      const n = await notice(name)
      expect(n.status).toBe('open')
      const mails = mailsFor(n.reference)
      const notices = mails.filter((m) => !/Reminder|Escalation/.test(m.parsed.subject!))
      const reminders = mails.filter((m) => /Reminder \d+:/.test(m.parsed.subject!))
      const escalations = mails.filter((m) => /Escalation:/.test(m.parsed.subject!))
      expect(reminders.length, name).toBeGreaterThanOrEqual(ESCALATE_AFTER)
      expect(reminders.length).toBe(n.reminders)
      for (const [i, reminder] of reminders.entries()) {
        expect(reminder.envelopeTo).toEqual(['abuse@hosting.test'])
        expect(reminder.parsed.subject).toBe(`[${n.reference}] Reminder ${i + 1}: Removal request: known child sexual abuse material hosted at ${new URL(urls[name]!).host}`)
        expect(reminder.parsed.inReplyTo).toBe(notices[0]!.parsed.messageId)
        expect(xarfOf(reminder).report_id).toBe(n.reference)
        expect(reminder.parsed.text).toMatch(/\/ack\//)
      }
      expect(escalations.length).toBe(n.escalations)
      expect(escalations[0]!.envelopeTo).toEqual(['abuse@transit.test'])
      expect(escalations[0]!.parsed.text).toContain('To the abuse desk of Loopback Transit,')
      expect(escalations[0]!.parsed.text).toContain('upstream network of Loopback Hosting')
      expect(xarfOf(escalations[0]!).url).toBe(urls[name])
      const history = await noticeHistory(handle.db, n.reference)
      const kinds = new Set(history!.events.map((e) => e.kind))
      for (const kind of ['created', 'queued', 'sent', 'check', 'reminder', 'escalation']) expect(kinds, `${name} ${kind}`).toContain(kind)
      expect(history!.events.filter((e) => e.kind === 'check').every((e) => e.detail.outcome === 'present')).toBe(true)
    }
    const recoded = await noticeHistory(handle.db, (await notice('d2')).reference)
    expect(recoded!.events.find((e) => e.kind === 'check')!.detail.reason).toBe('similar-content')
  })

  it('takes the provider\'s word as a reason to look, not as a removal', async () => {
    const n = await notice('d')
    const mail = mailsFor(n.reference)[0]!
    const ack = /(http:\/\/127\.0\.0\.1:\d+\/ack\/\S+)/.exec(mail.parsed.text!)![1]!
    expect((await fetch(ack, { method: 'POST', body: new URLSearchParams({ answer: 'removed' }) })).status).toBe(200)
    const result = await service.recheck()
    expect(result.present).toBeGreaterThanOrEqual(1)
    const after = await notice('d')
    expect(after).toMatchObject({ status: 'open', ack_status: 'removed' })
    // What that check queued goes out, so mail and records agree for whatever test reads them next.
    await service.deliver()
  })

  it('flags the same content back at the same provider after removal as a re-upload, and counts it', async () => {
    const a = await notice('a')
    removing.host('/a.jpg', { bytes: images.get('a')!.bytes, removal: 'never' })
    const { hashes, mediaId } = images.get('a')!
    const again = await createNotices(handle.db, service.resolver, [{
      mediaId, url: urls.a!, finalUrl: urls.a!, pageUrls: [], serverIp: '127.0.0.1', detectedAt: new Date(),
      hashes: { sha256: hashes.sha256, md5: hashes.md5, sha1: hashes.sha1 }, matches: [{ list: 'lifecycle-list', algorithm: 'sha256', distance: 0, category: 'A1', externalId: null }],
    }], reporter, { ack: links })
    expect(again).toMatchObject({ created: 1, reuploads: 1 })
    const reupload = await handle.db.selectFrom('notices').selectAll().where('reupload_of', '=', a.id).executeTakeFirstOrThrow()
    expect(reupload.reference).not.toBe(a.reference)
    expect(reupload.status).toBe('open')
    const stats = await noticeStats(handle.db)
    const directory = stats.providers.find((p) => p.provider === 'Directory Host')!
    expect(directory).toMatchObject({ notices: 3, removed: 2, open: 1, reuploads: 1 })
    const hosting = stats.providers.find((p) => p.provider === 'Loopback Hosting')!
    expect(hosting).toMatchObject({ notices: 4, removed: 2, open: 2, reuploads: 0, removedWithin24h: 0.5, removedWithin72h: 0.5 })
    expect(stats.overall).toMatchObject({ notices: 7, removed: 4, open: 3, reuploads: 1 })
    expect(stats.overall.medianHoursToRemoval).not.toBeNull()
    expect(stats.overall.medianHoursToRemoval!).toBeLessThan(1)
    expect(stats.overall.p90HoursToRemoval!).toBeGreaterThanOrEqual(stats.overall.medianHoursToRemoval!)
  })
})
