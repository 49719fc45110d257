import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from '@arachnid/core'
import { startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import {
  type CliEnvironment, type CliResult, DnsServer, RdapServer, REPO_ROOT, SmtpSink, dialectsUnderTest, openCliEnvironment,
} from '@arachnid/test'

const dialects = await dialectsUnderTest()

/**
 * The notifier's and the review server's commands as a new user runs them (`pnpm arachnid ...`,
 * each a process of its own) on both databases: crawl then notify at once, the review server's
 * refusals of bad input, its figures, providers' disputes, and the commands' one-line errors.
 */

const PASSWORD = 'a passphrase long enough for the test'
const ACK_SECRET = 'cli-test-ack-secret-0123456789'
const WORDS = 'We host <product photos> & this one is ours; not what your list says.'
/** Known images the verified list holds; the last two of the site's known images are only on the review-required list. */
const WAITING = 2

/**
 * One line `arachnid: ...` (no stack, no raw library error), exit 2. Soft: every check of a test
 * runs and reports, so each defect shows on its own (not only the first one met).
 */
function expectOneLineError(result: CliResult, pattern: RegExp): void {
  const lines = result.errors.split('\n').filter((l) => l.trim() !== '')
  expect.soft(lines, result.stderr).toHaveLength(1)
  expect.soft(lines[0]).toMatch(/^arachnid: /)
  expect.soft(lines[0]).toMatch(pattern)
  expect.soft(result.code, result.stderr).toBe(2)
}

let site: SyntheticSite
let known: { url: string; sha256: string }[]

beforeAll(async () => {
  site = await startSyntheticSite({ seed: 10, pages: 6, images: 24, knownFraction: 0.25, alteredPerKnown: 0, badInputs: false })
  known = []
  // Hashes only: the bytes are hashed in memory and never written anywhere.
  for await (const image of site.knownImages()) known.push({ url: image.url, sha256: createHash('sha256').update(image.bytes).digest('hex') })
  expect(known.length).toBeGreaterThan(WAITING)
})
afterAll(async () => {
  await site?.close()
})

describe('argument checks that fail before any database is opened', () => {
  let cli: CliEnvironment
  beforeAll(async () => { cli = await openCliEnvironment('pglite') })
  afterAll(async () => { await cli?.close() })

  it('print one clear line and exit 2 for bad flags of notify, serve, providers and analysts', async () => {
    const cases: [string[], RegExp][] = [
      [['notify', 'run', '--allow', 'notacidr'], /--allow "notacidr": expected an IP address or a CIDR range/],
      [['serve', '--port', 'abc'], /--port "abc": expected an integer from 0 to 65535/],
      [['serve', '--port', '70000'], /--port "70000": expected an integer from 0 to 65535/],
      [['notify', 'worker', '--poll', '0.1'], /--poll "0.1": expected a number from 0.5 to 600/],
      [['providers', 'set', 'example.net', '--name', '', '--email', 'abuse@example.net'], /--name: expected a non-empty value/],
      [['providers', 'set', 'not a pattern!', '--name', 'X', '--email', 'abuse@example.net'], /"not a pattern!" is neither a CIDR .* nor a domain name/],
      [['providers', 'set', 'example.net', '--name', 'X', '--email', 'nobody'], /"nobody" is not an email address/],
      [['analysts', 'policy', '--auto-pdq', '300'], /--auto-pdq "300": expected an integer from 0 to 256/],
      [['analysts', 'policy', '--min-quality', '101'], /--min-quality "101": expected an integer from 0 to 100/],
    ]
    // Three at a time: each is a whole process start, and none opens the database.
    for (let i = 0; i < cases.length; i += 3) {
      await Promise.all(cases.slice(i, i + 3).map(async ([args, pattern]) => expectOneLineError(await cli.run(args), pattern)))
    }
  }, 180_000)
})

describe.each(dialects)('notify and review from the CLI on %s', (dialect) => {
  let cli: CliEnvironment
  let smtp: SmtpSink
  let dns: DnsServer
  let rdap: RdapServer
  let noticesCreated = 0
  /** Commands in turn; on Postgres at once (the embedded database admits one process at a time). */
  const runAll = async (commands: readonly (readonly string[])[]): Promise<CliResult[]> => {
    if (dialect === 'postgres') return Promise.all(commands.map((c) => cli.run(c)))
    const results: CliResult[] = []
    for (const c of commands) results.push(await cli.run(c))
    return results
  }

  beforeAll(async () => {
    smtp = await new SmtpSink().start()
    // The site's host resolves through our DNS only; its address is in a network whose registry
    // answers the old way (no objectClassName), naming the abuse contact.
    dns = await new DnsServer().start()
    rdap = await new RdapServer([
      { handle: 'NET-LOOP-LEGACY', cidr: '127.0.0.0/8', name: 'LOOPBACK-LEGACY', organisation: 'Legacy Loopback Hosting', abuseEmail: 'abuse@legacy-loopback.test', legacy: true },
    ]).start()
    cli = await openCliEnvironment(dialect, {
      env: {
        SMTP_URL: smtp.url, ARACHNID_DNS_SERVERS: dns.address, ARACHNID_RDAP_BOOTSTRAP: rdap.bootstrapUrl,
        ARACHNID_ACK_SECRET: ACK_SECRET, ARACHNID_ACK_BASE_URL: 'http://ack.invalid',
      },
    })
  })
  afterAll(async () => {
    await cli?.close()
    await smtp?.stop()
    await dns?.stop()
    await rdap?.stop()
  })

  it('says so when a listing is empty, and refuses to release an unknown reference', async () => {
    const [providers, notices, analysts, release] = await runAll([
      ['providers', 'list'], ['notices', 'list'], ['analysts', 'list'], ['notify', 'release', 'ARN-NOSUC-HNOTE'],
    ])
    for (const r of [providers, notices, analysts]) expect.soft(r!.code, r!.stderr).toBe(0)
    expect.soft(providers!.stdout).toMatch(/^no providers: no directory rules/)
    expect.soft(notices!.stdout).toMatch(/^no notices yet/)
    expect.soft(analysts!.stdout).toMatch(/^no accounts yet/)
    expectOneLineError(release!, /no notice ARN-NOSUC-HNOTE/)
    expect.soft(release!.stdout).toBe('')
  })

  it('crawl then notify run at once assigns the provider that RDAP names, and delivers', async () => {
    const lists = path.join(cli.home, 'lists')
    const header = 'algorithm,hash,category,external_id'
    await writeFile(`${lists}-verified.csv`, [header, ...known.slice(0, -WAITING).map((k, i) => `sha256,${k.sha256},A1,v-${i}`)].join('\n'))
    await writeFile(`${lists}-second.csv`, [header, ...known.map((k, i) => `sha256,${k.sha256},A1,s-${i}`)].join('\n'))
    for (const [file, name, rows] of [[`${lists}-verified.csv`, 'verified', known.length - WAITING], [`${lists}-second.csv`, 'second-look', known.length]] as const) {
      const imported = await cli.run(['lists', 'import', file, '--name', name])
      expect(imported.code, imported.stderr).toBe(0)
      expect(imported.stdout, 'every row imported').toContain(`${rows} hashes imported`)
    }
    // The second list waits for analysts; a wide blockhash threshold is allowed with a warning.
    const policy = await cli.run(['analysts', 'policy', '--list', 'second-look', '--mode', 'review-required', '--auto-blockhash', '70', '--reason', 'test'])
    expect(policy.code, policy.stderr).toBe(0)
    expect(policy.stdout).toMatch(/second-look\s+review-required/)
    const added = await cli.run(['analysts', 'add', 'alice', '--role', 'supervisor'], { input: `${PASSWORD}\n` })
    expect(added.code, added.stderr).toBe(0)

    const crawl = await cli.json(['crawl', `${site.manifest.baseUrl}/`, '--allow', '127.0.0.1/32', '--json'])
    noticesCreated = crawl.notices
    expect(noticesCreated).toBeGreaterThanOrEqual(known.length - WAITING)
    // The directory names nobody: nothing could be sent during the crawl.
    expect(smtp.received).toHaveLength(0)

    const pass = await cli.json(['notify', 'run', '--json'])
    expect(pass.assign).toMatchObject({ hosts: 1, assigned: noticesCreated, unassigned: 0 })
    expect(pass.delivery).toMatchObject({ sent: noticesCreated, failed: 0 })
    expect(rdap.requests).toContain('/rdap/ip/127.0.0.1')
    expect(smtp.received).toHaveLength(noticesCreated)
    expect(new Set(smtp.received.flatMap((m) => m.envelopeTo))).toEqual(new Set(['abuse@legacy-loopback.test']))
    expect(smtp.received[0]!.parsed.text).toContain('Legacy Loopback Hosting')
    expect(policy.errors.trim()).toBe('arachnid: warning: --auto-blockhash 70 is above 64: distances that large match unrelated images')
  }, 240_000)

  it('serves figures that agree, refuses bad input with 400, and puts a provider\'s dispute in the queue', async () => {
    // A port in use is one clear line.
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()))
    const busy = (blocker.address() as net.AddressInfo).port
    try {
      expectOneLineError(await cli.run(['serve', '--port', String(busy)]), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busy}: the port is in use`))
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }

    let reference = ''
    const serve = cli.start(['serve', '--port', '0'])
    try {
      const base = (await serve.waitFor(/review server: (http:\/\/\S+)\//))[1]!
      // A malformed cookie is refused on every route, and cleared.
      for (const route of ['/healthz', '/login', '/queue', '/api/queue']) {
        const response = await fetch(`${base}${route}`, { redirect: 'manual', headers: { cookie: 'arachnid_session=%E0%A4%A' } })
        expect.soft(response.status, route).toBe(400)
        expect.soft(response.headers.get('set-cookie'), route).toMatch(/^arachnid_session=;/)
      }
      const login = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'alice', password: PASSWORD }) })
      expect(login.status).toBe(200)
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!
      const { csrfToken } = await login.json() as { csrfToken: string }
      const get = async (route: string) => {
        const response = await fetch(`${base}${route}`, { headers: { cookie, accept: 'application/json' } })
        return { status: response.status, body: await response.json() as any }
      }

      // Query parameters are checked: 400 with a clear message, not a database error.
      expect.soft(await get('/api/audit?limit=abc')).toEqual({ status: 400, body: { error: { code: 'BAD_QUERY', message: 'query parameter limit="abc": expected an integer from 1 to 500' } } })
      expect.soft((await get('/api/audit?limit=-1')).status).toBe(400)
      expect.soft((await get('/api/queue?list=abc')).status).toBe(400)
      expect.soft((await get('/api/audit?limit=2')).body.entries).toHaveLength(2)

      // One definition of "waiting": the media noticed through the verified list do not wait for their second-look match.
      const queue = (await get('/api/queue')).body.items as { mediaId: number; url: string; reasons: string[] }[]
      expect.soft(queue).toHaveLength(WAITING)
      expect.soft(queue.every((i) => i.reasons.join() === 'review-required')).toBe(true)
      expect.soft((await get('/api/stats')).body.queue).toEqual({ pending: WAITING, escalated: 0 })
      const statsPage = await (await fetch(`${base}/stats`, { headers: { cookie } })).text()
      expect.soft(statsPage).toContain(`waiting for review: ${WAITING} media (0 escalated)`)

      // The provider disputes through the link in its email, in its own words; an analyst sees them.
      const email = smtp.received.find((m) => /\/ack\/\S+/.test(m.parsed.text ?? ''))
      expect(email, 'a notice email with an acknowledgement link').toBeDefined()
      reference = /ARN-[A-Z0-9]{5}-[A-Z0-9]{5}/.exec(email!.parsed.subject ?? '')![0]
      const token = /\/ack\/(\S+)/.exec(email!.parsed.text!)![1]!
      const answered = await fetch(`${base}/ack/${token}`, { method: 'POST', body: new URLSearchParams({ answer: 'dispute', message: WORDS }) })
      expect(answered.status).toBe(200)
      expect(await answered.text()).toContain('An analyst will review the notice.')
      const withDispute = (await get('/api/queue')).body.items as { mediaId: number; reasons: string[]; disputes: { reference: string; message: string; provider: string }[] }[]
      expect(withDispute).toHaveLength(WAITING + 1)
      const disputed = withDispute.find((i) => i.disputes.length > 0)!
      expect(disputed).toMatchObject({ reasons: ['dispute'], disputes: [{ reference, message: WORDS, provider: 'Legacy Loopback Hosting' }] })
      expect((await get('/api/stats')).body.queue).toEqual({ pending: WAITING + 1, escalated: 0 })
      const queuePage = await (await fetch(`${base}/queue`, { headers: { cookie } })).text()
      expect(queuePage).toContain('We host &lt;product photos&gt; &amp; this one is ours; not what your list says.')

      // The analyst agrees with the provider: the notice is withdrawn.
      const decided = await fetch(`${base}/api/items/${disputed.mediaId}/decision`, {
        method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrfToken },
        body: JSON.stringify({ decision: 'reject', reason: 'the provider is right' }),
      })
      expect(decided.status).toBe(200)
      expect(await decided.json()).toMatchObject({ state: 'withdrawn', withdrawn: expect.arrayContaining([reference]) })
      expect((await get('/api/queue')).body.items).toHaveLength(WAITING)
    } finally {
      const stopped = await serve.stop()
      expect(stopped.errors).not.toMatch(/Error|\n\s+at /)
    }

    const shown = await cli.json(['notices', 'show', reference, '--json'])
    expect(shown.notice).toMatchObject({ reference, status: 'closed' })
    const kinds = shown.events.map((e: { kind: string }) => e.kind)
    expect(kinds).toEqual(expect.arrayContaining(['ack', 'withdrawn']))
    expect(shown.events.find((e: { kind: string }) => e.kind === 'ack').detail).toMatchObject({ answer: 'dispute', message: WORDS })
  }, 240_000)

  it('notices list | head -5 ends quietly with many notices', async () => {
    await cli.withDatabase(async ({ db }) => {
      const media = await db.selectFrom('media').select('id').limit(1).executeTakeFirstOrThrow()
      await sql`insert into notices (reference, media_url, media_id, status, idempotency_key, detected_at)
        select 'ARN-PIPE' || lpad(g::text, 7, '0'), 'http://127.0.0.1:9/pipe/' || g || '.jpg', ${media.id}, 'open', 'pipe:' || g, now()
        from generate_series(1, 1500) g`.execute(db)
    })
    const child = spawn('bash', ['-c', 'set -o pipefail; pnpm arachnid notices list | head -5'], { cwd: REPO_ROOT, env: { ...cli.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
    expect(stdout.trimEnd().split('\n')).toHaveLength(5)
    expect(stdout).toMatch(/^ARN-PIPE\d{7}\s+open/)
    expect(stderr).not.toMatch(/EPIPE|Error|\n\s+at /)
    expect(code, stderr).toBe(0)
  })
})
