import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type ArachnidDatabase, type DialectName, openDatabase } from '@arachnid/core'
import { createNotices, ProviderDirectory, setProviderRule, type NoticeRequest } from '@arachnid/notifier'
import { clearNotifierState, ControlledSmtpSink, dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const reporter = { name: 'Arachnid test reporter', from: 'Arachnid <notices@reporter.test>' }

interface Worker {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  stderr: string
}

/** Workers started and not yet seen to exit: a test that fails half-way leaves none to the next. */
const running = new Set<Worker>()

/** `arachnid notify worker` as a real child process (node + tsx), so SIGKILL kills it outright. */
function startWorker(env: Record<string, string>): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', 'notify', 'worker', '--poll', '0.5'], {
    cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  })
  const worker: Worker = { child, stderr: '', exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) }
  running.add(worker)
  void worker.exited.then(() => running.delete(worker))
  child.stderr!.on('data', (chunk: Buffer) => { worker.stderr += chunk.toString() })
  return worker
}

async function until(what: string, condition: () => boolean | Promise<boolean>, worker?: Worker, seconds = 60): Promise<void> {
  const deadline = Date.now() + seconds * 1000
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${worker ? `\nworker stderr:\n${worker.stderr}` : ''}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * The notify worker killed with SIGKILL in the middle of delivery, then restarted, with a real SMTP
 * server that stops at a chosen point of a chosen transaction so the kill lands where we say.
 */
describe.each(dialects)('the notify worker killed mid-delivery on %s', (dialect: DialectName) => {
  let home: string
  let pg: TestDatabase | undefined
  let smtp: ControlledSmtpSink
  let env: Record<string, string>
  let counter = 0

  // PGlite is one process's folder: the test opens it only while no worker runs.
  const withDb = async <T>(fn: (db: ArachnidDatabase['db']) => Promise<T>): Promise<T> => {
    if (pg) return fn(pg.db)
    const handle = await openDatabase({ dataDir: path.join(home, 'db') })
    try {
      return await fn(handle.db)
    } finally {
      await handle.close()
    }
  }
  /**
   * n notices, each to an abuse desk of its own, so the envelope of a transaction says which email
   * it carries before any of the message is sent; the outbox holds these and nothing else (each
   * test makes its own emails, whatever an earlier one left). Returns their emails.
   */
  const addNotices = (n: number) => withDb(async (db) => {
    await clearNotifierState(db)
    const media = await db.insertInto('media').values({ sha256: Buffer.alloc(32, 100 + counter), md5: Buffer.alloc(16), sha1: Buffer.alloc(20), bytes: 1 }).returning('id').executeTakeFirstOrThrow()
    const requests: NoticeRequest[] = []
    for (let i = 0; i < n; i++) {
      const k = ++counter
      await setProviderRule(db, { pattern: `host-${k}.kill.test`, name: `Kill Test Hosting ${k}`, abuseEmail: `abuse-${k}@kill.test` })
      const url = `http://host-${k}.kill.test/image.jpg`
      requests.push({
        mediaId: media.id, url, finalUrl: url, pageUrls: [], serverIp: null, detectedAt: new Date(),
        hashes: { sha256: 'ab'.repeat(32), md5: '0'.repeat(32), sha1: '0'.repeat(40) }, matches: [{ list: 'l', algorithm: 'sha256', distance: 0, category: null, externalId: null }],
      })
    }
    await createNotices(db, await ProviderDirectory.load(db), requests, reporter)
    return db.selectFrom('outbox').select(['message_id', 'to_address']).where('status', '=', 'pending').orderBy('id').execute()
  })
  const copies = () => {
    const counts = new Map<string, number>()
    for (const m of smtp.received) counts.set(m.parsed.messageId!, (counts.get(m.parsed.messageId!) ?? 0) + 1)
    return counts
  }
  const stop = async (worker: Worker) => {
    worker.child.kill('SIGTERM')
    expect(await worker.exited, worker.stderr).toBe(0)
  }
  const kill = async (worker: Worker) => {
    worker.child.kill('SIGKILL')
    await worker.exited
    smtp.release()
  }

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'arachnid-kill-'))
    pg = dialect === 'postgres' ? await openTestDatabase('postgres') : undefined
    smtp = await new ControlledSmtpSink().start()
    // Made (and, on PGlite, migrated) here, not in the first test's time.
    await withDb(async () => {})
    env = {
      ARACHNID_HOME: home, DATABASE_URL: pg?.url ?? '', SMTP_URL: smtp.url, LOG_LEVEL: 'warn',
      ARACHNID_NOTICE_FROM: reporter.from, ARACHNID_DELIVERY_INTERVAL: '1',
      // The shortest lease the configuration takes: a killed worker's email is taken again soon after.
      ARACHNID_OUTBOX_LEASE: '5',
      // Nothing here needs DNS or RDAP; point both at loopback so nothing could leave the machine.
      ARACHNID_DNS_SERVERS: '127.0.0.1:9', ARACHNID_RDAP_BOOTSTRAP: 'http://127.0.0.1:9/',
    }
  })
  beforeEach(() => {
    smtp.received.length = 0
    smtp.transactions.length = 0
  })
  afterEach(async () => {
    for (const worker of running) {
      worker.child.kill('SIGKILL')
      await worker.exited
    }
    smtp.release()
  })
  afterAll(async () => {
    await smtp?.stop()
    await pg?.close().catch(() => {})
    await rm(home, { recursive: true, force: true })
  })

  it('killed while an email is on the wire before its end: after a restart every email arrives exactly once, and only that one was attempted twice', async () => {
    const emails = await addNotices(6)
    const ids = emails.map((e) => e.message_id)
    expect(new Set(ids).size).toBe(6)
    // The third transaction stops once the server has its recipient: nothing of the message yet.
    const held = smtp.holdAt('rcpt', 3)
    const first = startWorker(env)
    await Promise.race([held, first.exited.then(() => { throw new Error(`worker exited early:\n${first.stderr}`) })])
    const onWire = smtp.transactions.at(-1)!
    expect(onWire).toMatchObject({ complete: false, to: [expect.any(String)] })
    const wire = emails.find((e) => e.to_address === onWire.to[0])!
    const sentBeforeKill = emails.filter((e) => smtp.received.some((m) => m.parsed.messageId === e.message_id))
    expect(sentBeforeKill).toHaveLength(2)
    await kill(first)

    const second = startWorker(env)
    await until('all six emails', () => smtp.received.length >= 6, second)
    await stop(second)
    // Every email arrived exactly once.
    expect([...copies().entries()].sort()).toEqual(ids.map((id) => [id, 1]).sort())
    // What the server saw each email's sender do: the one on the wire was abandoned and sent
    // again; every other, those sent before the kill included, was sent once and only once.
    const seen = (e: (typeof emails)[number]) => smtp.transactions.filter((t) => t.to.includes(e.to_address))
      .map((t) => (!t.complete ? 'abandoned' : t.messageId === e.message_id ? 'delivered' : `delivered ${t.messageId}`))
    expect(emails.map((e) => [e.to_address, seen(e)])).toEqual(emails.map((e) => [e.to_address, e === wire ? ['abandoned', 'delivered'] : ['delivered']]))

    const rows = await withDb((db) => db.selectFrom('outbox').select(['status', 'in_doubt', 'attempts', 'last_error', 'message_id']).execute())
    const events = await withDb((db) => db.selectFrom('notice_events').select(['notice_id', 'kind', 'detail', 'at']).orderBy('id').execute())
    expect(rows.every((r) => r.status === 'sent' && !r.in_doubt), JSON.stringify({ rows, events, log: second.stderr }, null, 1)).toBe(true)
    // The outbox's own count: the email on the wire was taken again; those sent before the kill
    // never were. (A row the dead worker had claimed but not begun is claimed again too: attempts
    // counts claims, the lease's fencing token, not what reached the server, which is read above.)
    const attempts = new Map(rows.map((r) => [r.message_id, r.attempts]))
    expect({ wire: attempts.get(wire.message_id), sentBeforeKill: sentBeforeKill.map((e) => attempts.get(e.message_id)) })
      .toEqual({ wire: 2, sentBeforeKill: [1, 1] })
  })

  it('killed after the server took the end of an email but before its answer: the email is in doubt, and resent with the same Message-ID', async () => {
    const ids = (await addNotices(2)).map((e) => e.message_id)
    const held = smtp.holdAt('data', 1)
    const first = startWorker(env)
    await held
    await kill(first)
    const doubtful = smtp.received[0]!.parsed.messageId!
    const second = startWorker(env)
    await until('both emails and the resend', () => smtp.received.length >= 3, second)
    await stop(second)
    // The honest limit of SMTP (RFC 1047): a copy may arrive twice, the same Message-ID both times,
    // the second marked, so the receiving side can drop it; the other email arrived once.
    expect([...copies().entries()].sort()).toEqual(ids.map((id) => [id, id === doubtful ? 2 : 1]).sort())
    // Which copy arrives when depends on how fast the second worker starts; the first copy of the
    // doubtful email is the one the killed worker sent, unmarked, and the resend is marked.
    const doubtfulCopies = smtp.received.filter((m) => m.parsed.messageId === doubtful)
    expect(doubtfulCopies.map((m) => m.parsed.headers.get('x-arachnid-resent'))).toEqual([undefined, 'in-doubt'])
    const events = await withDb((db) => db.selectFrom('notice_events').select(['kind', 'detail']).where('kind', '=', 'in-doubt').execute())
    expect(events).toEqual([{ kind: 'in-doubt', detail: expect.objectContaining({ messageId: doubtful, action: 'resend' }) }])
  })

  it('with ARACHNID_IN_DOUBT=hold the same kill doubles nothing: the email waits for an operator', async () => {
    const ids = (await addNotices(2)).map((e) => e.message_id)
    const held = smtp.holdAt('data', 1)
    const first = startWorker({ ...env, ARACHNID_IN_DOUBT: 'hold' })
    await held
    await kill(first)
    const doubtful = smtp.received[0]!.parsed.messageId!
    const second = startWorker({ ...env, ARACHNID_IN_DOUBT: 'hold' })
    await until('the other email', () => smtp.received.length >= 2, second)
    await until('the doubtful email held', () => second.stderr.includes('held for an operator'), second)
    await stop(second)
    expect([...copies().entries()].sort()).toEqual(ids.map((id) => [id, 1]).sort())
    const row = await withDb((db) => db.selectFrom('outbox').select(['status', 'in_doubt']).where('message_id', '=', doubtful).executeTakeFirstOrThrow())
    expect(row).toEqual({ status: 'held', in_doubt: true })
  })
})
