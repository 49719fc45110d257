import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  assignProviders, createNotices, DnsHostResolver, listUnassigned, NOT_ASKED_YET, parseNetwork, parseProviderRule, ProviderDirectory, ProviderResolver, RdapClient,
  setProviderRule, type NoticeRequest,
} from '@arachnid/notifier'
import { clearNotifierState, dialectsUnderTest, DnsServer, openTestDatabase, RdapServer, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()
const reporter = { name: 'Arachnid test reporter', from: 'Arachnid <notices@reporter.test>' }

/** Loopback address plan: 127.0.0.0/8 is the upstream transit network, 127.0.0.0/24 a hosting company in it. */
const NETWORKS = [
  { handle: 'NET-TRANSIT', cidr: '127.0.0.0/8', name: 'LOOPBACK-TRANSIT', organisation: 'Loopback Transit', abuseEmail: 'abuse@transit.test' },
  { handle: 'NET-HOSTING', cidr: '127.0.0.0/24', name: 'LOOPBACK-HOSTING', organisation: 'Loopback Hosting', abuseEmail: 'abuse@hosting.test', nestAbuse: true },
  { handle: 'NET-SILENT', cidr: '127.0.5.0/24', name: 'NO-CONTACT', organisation: 'No Contact Ltd', upLink: false },
  { handle: 'NET-V6', cidr: '::1/128', name: 'V6-HOST', organisation: 'Six Hosting', abuseEmail: 'abuse@six.test' },
]

describe('DNS and RDAP clients against real servers on loopback', () => {
  let dns: DnsServer
  let rdap: RdapServer
  beforeAll(async () => {
    dns = await new DnsServer().set('files.example.test', ['127.0.0.1', '::1']).start()
    rdap = await new RdapServer(NETWORKS).start()
  })
  afterAll(async () => {
    await dns?.stop()
    await rdap?.stop()
  })

  it('resolves A and AAAA through the configured server, and a missing name to nothing', async () => {
    const resolver = new DnsHostResolver({ servers: [dns.address] })
    expect(await resolver.addresses('files.example.test')).toEqual(['127.0.0.1', '::1'])
    expect(await resolver.addresses('gone.example.test')).toEqual([])
    expect(await resolver.addresses('127.0.0.9')).toEqual(['127.0.0.9'])
    expect(dns.queries.map((q) => `${q.type} ${q.name}`)).toEqual(expect.arrayContaining(['A files.example.test', 'AAAA files.example.test', 'A gone.example.test']))
  })

  it('follows the bootstrap registry to the most specific network and reads the abuse vCard, nested or not', async () => {
    const client = new RdapClient({ bootstrapUrl: rdap.bootstrapUrl })
    expect(await client.serverFor('127.0.0.1')).toBe(`${rdap.baseUrl}/rdap/`)
    expect(await client.serverFor('198.51.100.1')).toBeUndefined()
    const hosting = await client.network('127.0.0.1')
    expect(hosting).toMatchObject({ handle: 'NET-HOSTING', cidr: '127.0.0.0/24', organisation: 'Loopback Hosting', abuseEmail: 'abuse@hosting.test', upUrl: `${rdap.baseUrl}/rdap/ip/127.0.0.0/8` })
    const transit = await client.parent(hosting!)
    expect(transit).toMatchObject({ handle: 'NET-TRANSIT', abuseEmail: 'abuse@transit.test' })
    expect(await client.parent(transit!)).toBeNull()
    // No "up" link: the parent is found by asking for the next shorter prefix.
    const silent = await client.network('127.0.5.9')
    expect(silent).toMatchObject({ handle: 'NET-SILENT', abuseEmail: null, upUrl: null })
    expect((await client.parent(silent!))?.handle).toBe('NET-TRANSIT')
    expect(await client.network('::1')).toMatchObject({ handle: 'NET-V6', abuseEmail: 'abuse@six.test' })
    expect(rdap.requests).toContain('/bootstrap/ipv6.json')
  })

  it('takes answers of older registry servers, which have no objectClassName, as networks when they hold one', async () => {
    const legacy = await new RdapServer([
      { handle: 'NET-OLD', cidr: '127.0.0.0/16', name: 'OLD-REGISTRY-NET', organisation: 'Old Registry Hosting', abuseEmail: 'abuse@old-registry.test', legacy: true },
      { handle: 'NET-OLD-NESTED', cidr: '127.0.9.0/24', name: 'OLD-NESTED', organisation: 'Nested Old Hosting', abuseEmail: 'abuse@nested-old.test', nestAbuse: true, legacy: true },
    ]).start()
    try {
      const client = new RdapClient({ bootstrapUrl: legacy.bootstrapUrl })
      expect(await client.network('127.0.1.1')).toMatchObject({ handle: 'NET-OLD', cidr: '127.0.0.0/16', organisation: 'Old Registry Hosting', abuseEmail: 'abuse@old-registry.test', upUrl: null })
      expect(await client.network('127.0.9.9')).toMatchObject({ handle: 'NET-OLD-NESTED', cidr: '127.0.9.0/24', abuseEmail: 'abuse@nested-old.test' })
      // No "up" link: the parent is found by prefix, and is an old-style answer too.
      expect((await client.parent((await client.network('127.0.9.9'))!))?.handle).toBe('NET-OLD')
    } finally {
      await legacy.stop()
    }
    // Another class of object, or no addresses at all, is still refused.
    expect(() => parseNetwork({ objectClassName: 'entity', handle: 'X', startAddress: '127.0.0.0', endAddress: '127.0.0.255' }, 'http://x.test/')).toThrow(/not an ip network/)
    expect(() => parseNetwork({ handle: 'X', entities: [] }, 'http://x.test/')).toThrow(/not an ip network/)
  })

  it('checks a directory rule before it is written: name, abuse address and pattern', () => {
    expect(parseProviderRule({ pattern: ' Example.NET ', name: ' Example Hosting ', abuseEmail: 'abuse@example.net' }))
      .toEqual({ kind: 'domain', pattern: 'example.net', name: 'Example Hosting', abuseEmail: 'abuse@example.net' })
    expect(() => parseProviderRule({ pattern: 'example.net', name: '  ', abuseEmail: 'abuse@example.net' })).toThrow(/provider name is empty/)
    expect(() => parseProviderRule({ pattern: 'example.net', name: 'X', abuseEmail: 'abuse' })).toThrow(/"abuse" is not an email address/)
    expect(() => parseProviderRule({ pattern: 'not a pattern!', name: 'X', abuseEmail: 'abuse@example.net' })).toThrow(/neither a CIDR .* nor a domain name/)
    expect(() => parseProviderRule({ pattern: '10.0.0.0/33', name: 'X', abuseEmail: 'abuse@example.net' })).toThrow(/not a valid CIDR/)
  })
})

describe.each(dialects)('provider resolution on %s', (dialect) => {
  let handle: TestDatabase
  let dns: DnsServer
  let rdap: RdapServer
  let mediaId: number
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    dns = await new DnsServer().set('files.example.test', ['127.0.0.1']).set('directory.example.test', ['127.0.0.1']).set('silent.example.test', ['127.0.5.5']).start()
    rdap = await new RdapServer(NETWORKS).start()
    mediaId = (await handle.db.insertInto('media').values({ sha256: Buffer.alloc(32, 7), md5: Buffer.alloc(16), sha1: Buffer.alloc(20), bytes: 10 }).returning('id').executeTakeFirstOrThrow()).id
    await setProviderRule(handle.db, { pattern: 'directory.example.test', name: 'Directory Host', abuseEmail: 'abuse@directory.test' })
  })
  afterAll(async () => {
    await dns?.stop()
    await rdap?.stop()
    await handle?.close()
  })
  // Each test starts from the directory alone: no notices, lookups or cached RDAP answers, and
  // DNS knows only the names above (the tests below teach it others as hosts come online).
  beforeEach(async () => {
    await clearNotifierState(handle.db, { rdapCache: true })
    dns.remove('nowhere.example.test').remove('fresh.example.test')
  })

  const resolver = () => ProviderResolver.create(handle.db, { hosts: new DnsHostResolver({ servers: [dns.address] }), rdap: new RdapClient({ bootstrapUrl: rdap.bootstrapUrl }) })

  it('prefers the local directory, else DNS then RDAP, and caches RDAP answers in the database', async () => {
    const r = await resolver()
    expect(await r.resolve('directory.example.test', null)).toMatchObject({ name: 'Directory Host', source: 'directory' })
    const before = rdap.requests.length
    const found = await r.resolve('files.example.test', null)
    expect(found).toMatchObject({ name: 'Loopback Hosting', abuseEmail: 'abuse@hosting.test', source: 'rdap', addresses: ['127.0.0.1'] })
    const asked = rdap.requests.length - before
    expect(asked).toBeGreaterThan(0)
    // A second resolver (another process, say) uses the cached answer: no new RDAP request.
    expect(await (await resolver()).resolve('files.example.test', null)).toMatchObject({ id: found!.id, source: 'rdap' })
    expect(rdap.requests.length - before).toBe(asked)
    const cached = await handle.db.selectFrom('rdap_cache').select('ip').execute()
    expect(cached.map((c) => c.ip)).toContain('ip:127.0.0.1')
    expect(await r.upstream('127.0.0.1', 'abuse@hosting.test')).toMatchObject({ name: 'Loopback Transit', abuseEmail: 'abuse@transit.test' })
    // A network with no abuse contact names no provider.
    expect(await r.resolve('silent.example.test', null)).toBeUndefined()
  })

  it('keeps unresolvable hosts on the unassigned list and assigns them once they resolve', async () => {
    const request = (url: string): NoticeRequest => ({
      mediaId, url, finalUrl: url, pageUrls: [], serverIp: null, detectedAt: new Date('2026-11-29T08:00:00Z'),
      hashes: { sha256: '07'.repeat(32), md5: '0'.repeat(32), sha1: '0'.repeat(40) }, matches: [{ list: 'l', algorithm: 'sha256', distance: 0, category: null, externalId: null }],
    })
    const r = await resolver()
    const created = await createNotices(handle.db, r, [request('http://nowhere.example.test/a.jpg'), request('http://silent.example.test/b.jpg')], reporter, { retryBaseSeconds: 0 })
    expect(created).toMatchObject({ created: 2, unassigned: 2 })
    const listed = await listUnassigned(handle.db)
    expect(listed.map((u) => u.host)).toEqual(['nowhere.example.test', 'silent.example.test'])
    expect(listed[0]!.lastError).toMatch(/no provider/)
    expect(await handle.db.selectFrom('outbox').select('id').execute()).toHaveLength(0)

    dns.set('nowhere.example.test', ['127.0.0.1'])
    const assigned = await assignProviders(handle.db, r, { reporter }, { retryBaseSeconds: 0 })
    expect(assigned).toMatchObject({ assigned: 1, unassigned: 1 })
    expect((await listUnassigned(handle.db)).map((u) => u.host)).toEqual(['silent.example.test'])
    const outbox = await handle.db.selectFrom('outbox').select(['to_address', 'kind']).execute()
    expect(outbox).toEqual([{ to_address: 'abuse@hosting.test', kind: 'notice' }])
    const attempts = await handle.db.selectFrom('provider_lookups').select(['host', 'attempts', 'status']).orderBy('host').execute()
    expect(attempts).toEqual([{ host: 'nowhere.example.test', attempts: 2, status: 'resolved' }, { host: 'silent.example.test', attempts: 2, status: 'unassigned' }])
  })

  it('leaves a host the directory alone could not name due at once, so the next pass asks RDAP', async () => {
    const request = (url: string): NoticeRequest => ({
      mediaId, url, finalUrl: url, pageUrls: [], serverIp: '127.0.0.1', detectedAt: new Date('2026-11-29T08:00:00Z'),
      hashes: { sha256: '07'.repeat(32), md5: '0'.repeat(32), sha1: '0'.repeat(40) }, matches: [{ list: 'l', algorithm: 'sha256', distance: 0, category: null, externalId: null }],
    })
    // As a crawl does: the directory only, with a long retry delay that must not apply.
    const created = await createNotices(handle.db, await ProviderDirectory.load(handle.db), [request('http://fresh.example.test/a.jpg')], reporter, { retryBaseSeconds: 3600 })
    expect(created).toMatchObject({ created: 1, unassigned: 1 })
    const lookup = await handle.db.selectFrom('provider_lookups').select(['status', 'attempts', 'last_error', 'next_attempt_at']).where('host', '=', 'fresh.example.test').executeTakeFirstOrThrow()
    expect(lookup).toMatchObject({ status: 'unassigned', attempts: 0, last_error: NOT_ASKED_YET })
    expect((await listUnassigned(handle.db)).find((u) => u.host === 'fresh.example.test')).toMatchObject({ attempts: 0, lastError: NOT_ASKED_YET })
    dns.set('fresh.example.test', ['127.0.0.1'])
    const assigned = await assignProviders(handle.db, await resolver(), { reporter }, { retryBaseSeconds: 3600 })
    expect(assigned).toMatchObject({ assigned: 1 })
    const notice = await handle.db.selectFrom('notices as n').innerJoin('providers as p', 'p.id', 'n.provider_id').select(['p.name', 'p.abuse_email'])
      .where('n.host', '=', 'fresh.example.test').executeTakeFirstOrThrow()
    expect(notice).toEqual({ name: 'Loopback Hosting', abuse_email: 'abuse@hosting.test' })
  })
})
