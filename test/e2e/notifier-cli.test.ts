import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type DialectName, openDatabase } from '@arachnid/core'
import { createNotices, ProviderDirectory, setProviderRule } from '@arachnid/notifier'
import { dialectsUnderTest, DnsServer, openTestDatabase, SmtpSink, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const run = promisify(execFile)

/** The notifier's commands as an operator runs them: `arachnid notices|providers|notify|stats`. */
describe.each(dialects)('the notifier CLI on %s', (dialect: DialectName) => {
  let home: string
  let pg: TestDatabase | undefined
  let smtp: SmtpSink
  let dns: DnsServer
  let env: Record<string, string>
  let reference: string

  const cli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env } })
    return stdout
  }

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'arachnid-notify-cli-'))
    pg = dialect === 'postgres' ? await openTestDatabase('postgres') : undefined
    smtp = await new SmtpSink().start()
    dns = await new DnsServer().start()
    env = {
      ARACHNID_HOME: home, DATABASE_URL: pg?.url ?? '', SMTP_URL: smtp.url, LOG_LEVEL: 'warn',
      ARACHNID_DNS_SERVERS: dns.address, ARACHNID_RDAP_BOOTSTRAP: 'http://127.0.0.1:9/',
    }
    const handle = pg ?? await openDatabase({ dataDir: path.join(home, 'db') })
    try {
      const db = handle.db
      await setProviderRule(db, { pattern: 'cli.test', name: 'CLI Hosting', abuseEmail: 'abuse@cli.test' })
      const media = await db.insertInto('media').values({ sha256: Buffer.alloc(32, 5), md5: Buffer.alloc(16), sha1: Buffer.alloc(20), bytes: 1 }).returning('id').executeTakeFirstOrThrow()
      const request = (url: string) => ({
        mediaId: media.id, url, finalUrl: url, pageUrls: [], serverIp: null, detectedAt: new Date('2026-11-29T08:00:00Z'),
        hashes: { sha256: '05'.repeat(32), md5: '0'.repeat(32), sha1: '0'.repeat(40) }, matches: [{ list: 'l', algorithm: 'sha256', distance: 0, category: null, externalId: null }],
      })
      const created = await createNotices(db, await ProviderDirectory.load(db), [request('http://files.cli.test/a.jpg'), request('http://lost.example.test/b.jpg')], { name: 'CLI reporter', from: 'notices@reporter.test' })
      reference = created.references[0]!
    } finally {
      if (!pg) await handle.close()
    }
  })
  afterAll(async () => {
    await smtp?.stop()
    await dns?.stop()
    await pg?.close().catch(() => {})
    await rm(home, { recursive: true, force: true })
  })

  it('sets a directory rule and lists rules and the unassigned hosts', async () => {
    expect(await cli('providers', 'set', '198.51.100.0/24', '--name', 'Doc Net', '--email', 'abuse@doc.test')).toBe('cidr 198.51.100.0/24 -> Doc Net <abuse@doc.test>\n')
    const listed = JSON.parse(await cli('providers', 'list', '--json'))
    expect(listed.rules.map((r: { pattern: string }) => r.pattern).sort()).toEqual(['198.51.100.0/24', 'cli.test'])
    expect(listed.unassigned).toEqual([expect.objectContaining({ host: 'lost.example.test', notices: 1 })])
  })

  it('runs one pass that delivers, then shows the notice, its history and the statistics', async () => {
    const pass = JSON.parse(await cli('notify', 'run', '--json'))
    expect(pass.delivery).toMatchObject({ sent: 1, failed: 0 })
    // The unassigned host waits for its retry time (backoff), so this pass does not ask again.
    expect(pass.assign).toMatchObject({ hosts: 0, assigned: 0 })
    expect(smtp.received.map((m) => m.envelopeTo[0])).toEqual(['abuse@cli.test'])

    const open = (await cli('notices', 'list', '--open', '--json')).trim().split('\n').map((l) => JSON.parse(l))
    expect(open.map((n: { mediaUrl: string; delivery: string | null }) => [n.mediaUrl, n.delivery]).sort()).toEqual([['http://files.cli.test/a.jpg', 'sent'], ['http://lost.example.test/b.jpg', null]])
    const shown = JSON.parse(await cli('notices', 'show', reference.toLowerCase(), '--json'))
    expect(shown.notice).toMatchObject({ reference, status: 'open', provider: 'CLI Hosting' })
    expect(shown.emails).toEqual([expect.objectContaining({ kind: 'notice', status: 'sent', to: 'abuse@cli.test' })])
    expect(shown.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'queued', 'sent'])
    const text = await cli('notices', 'show', reference)
    expect(text).toContain(`${reference}  open`)

    const stats = JSON.parse(await cli('stats', '--json'))
    expect(stats.removal.overall).toMatchObject({ notices: 2, removed: 0, open: 2, reuploads: 0 })
    expect(stats.removal.providers.map((p: { provider: string }) => p.provider)).toEqual(['(unassigned)', 'CLI Hosting'])
  })
})
