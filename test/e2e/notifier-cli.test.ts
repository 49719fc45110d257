import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type DialectName } from '@arachnid/core'
import { createNotices, ProviderDirectory, setProviderRule } from '@arachnid/notifier'
import { clearNotifierState, type CliEnvironment, dialectsUnderTest, DnsServer, openCliEnvironment, SmtpSink } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/** The notifier's commands as an operator runs them (`pnpm arachnid notices|providers|notify|stats`). */
describe.each(dialects)('the notifier CLI on %s', (dialect: DialectName) => {
  let cli: CliEnvironment
  let smtp: SmtpSink
  let dns: DnsServer
  let reference: string

  beforeAll(async () => {
    smtp = await new SmtpSink().start()
    dns = await new DnsServer().start()
    // RDAP's bootstrap on a closed port: the host below never resolves, so RDAP is never asked.
    cli = await openCliEnvironment(dialect, { env: { SMTP_URL: smtp.url, ARACHNID_DNS_SERVERS: dns.address, ARACHNID_RDAP_BOOTSTRAP: 'http://127.0.0.1:9/' } })
  })
  // Each test starts from two fresh notices, made as a crawl makes them (the directory alone asked),
  // nothing delivered or looked up yet, whatever an earlier test did.
  beforeEach(async () => {
    smtp.received.length = 0
    dns.queries.length = 0
    await cli.withDatabase(async ({ db }) => {
      await clearNotifierState(db)
      await setProviderRule(db, { pattern: 'cli.test', name: 'CLI Hosting', abuseEmail: 'abuse@cli.test' })
      const media = await db.insertInto('media').values({ sha256: Buffer.alloc(32, 5), md5: Buffer.alloc(16), sha1: Buffer.alloc(20), bytes: 1 })
        .onConflict((oc) => oc.column('sha256').doUpdateSet({ bytes: 1 })).returning('id').executeTakeFirstOrThrow()
      const request = (url: string) => ({
        mediaId: media.id, url, finalUrl: url, pageUrls: [], serverIp: null, detectedAt: new Date('2026-11-29T08:00:00Z'),
        hashes: { sha256: '05'.repeat(32), md5: '0'.repeat(32), sha1: '0'.repeat(40) }, matches: [{ list: 'l', algorithm: 'sha256', distance: 0, category: null, externalId: null }],
      })
      const created = await createNotices(db, await ProviderDirectory.load(db), [request('http://files.cli.test/a.jpg'), request('http://lost.example.test/b.jpg')], { name: 'CLI reporter', from: 'notices@reporter.test' })
      reference = created.references[0]!
    })
  })
  afterAll(async () => {
    await cli?.close()
    await smtp?.stop()
    await dns?.stop()
  })

  it('sets a directory rule and lists rules and the unassigned hosts', async () => {
    const set = await cli.run(['providers', 'set', '198.51.100.0/24', '--name', 'Doc Net', '--email', 'abuse@doc.test'])
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout).toBe('cidr 198.51.100.0/24 -> Doc Net <abuse@doc.test>\n')
    const listed = await cli.json(['providers', 'list', '--json'])
    expect(listed.rules.map((r: { pattern: string }) => r.pattern).sort()).toEqual(['198.51.100.0/24', 'cli.test'])
    // Only the directory was asked when the notice was made: the host waits for its first real lookup.
    expect(listed.unassigned).toEqual([expect.objectContaining({ host: 'lost.example.test', notices: 1, attempts: 0 })])
  })

  it('runs one pass that delivers, then shows the notice, its history and the statistics', async () => {
    const pass = await cli.json(['notify', 'run', '--json'])
    expect(pass.delivery).toMatchObject({ sent: 1, failed: 0 })
    // The host never looked up is asked at once (DNS does not know it), then waits for its retry.
    expect(pass.assign).toMatchObject({ hosts: 1, assigned: 0, unassigned: 1 })
    expect(dns.queries.map((q) => q.name)).toContain('lost.example.test')
    expect(smtp.received.map((m) => m.envelopeTo[0])).toEqual(['abuse@cli.test'])

    const open = (await cli.run(['notices', 'list', '--open', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(open.map((n: { mediaUrl: string; delivery: string | null }) => [n.mediaUrl, n.delivery]).sort()).toEqual([['http://files.cli.test/a.jpg', 'sent'], ['http://lost.example.test/b.jpg', null]])
    const shown = await cli.json(['notices', 'show', reference.toLowerCase(), '--json'])
    expect(shown.notice).toMatchObject({ reference, status: 'open', provider: 'CLI Hosting' })
    expect(shown.emails).toEqual([expect.objectContaining({ kind: 'notice', status: 'sent', to: 'abuse@cli.test' })])
    expect(shown.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'queued', 'sent'])
    const text = await cli.run(['notices', 'show', reference])
    expect(text.stdout).toContain(`${reference}  open`)
    const released = await cli.run(['notify', 'release', reference])
    expect(released.stdout).toBe(`0 held emails released: none of ${reference}'s emails is held\n`)

    const stats = await cli.json(['stats', '--json'])
    expect(stats.removal.overall).toMatchObject({ notices: 2, removed: 0, open: 2, reuploads: 0 })
    expect(stats.removal.providers.map((p: { provider: string }) => p.provider)).toEqual(['(unassigned)', 'CLI Hosting'])
  })
})
