import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, ListPullScheduler, openApp } from '@arachnid/cli'
import { loadConfig } from '@arachnid/core'
import { createBoss } from '@arachnid/notifier'
import { type CliEnvironment, type CliProcess, dialectsUnderTest, openCliEnvironment } from '@arachnid/test'

/**
 * Scheduled pulls of a subscribed list (issue 15): the scheduler the notify worker runs, driven
 * directly with an interval of a second against a peer deployment on loopback, seen through a gate
 * in front of the peer's matching service that lets its answers through, holds them, or fails them
 * with a 503. A failed pull is recorded on the subscription and the next interval tries again; two
 * pullers never pull the same subscription at once (the second skips it); a subscription held by a
 * pull that died is taken again once its hold lapses; `notify worker` pulls on its own.
 */

const dialects = await dialectsUnderTest()

const md5 = (s: string) => createHash('md5').update(s).digest('hex')

/** Forwards to the peer's service; or holds each request until opened again; or answers 503. */
class Gate {
  mode: 'pass' | 'hold' | 'fail' = 'pass'
  held = 0
  readonly #waiting: (() => void)[] = []
  readonly server: http.Server
  constructor(upstream: () => number) {
    this.server = http.createServer(async (req, res) => {
      if (this.mode === 'fail') return res.writeHead(503, { 'content-type': 'application/json' }).end('{"detail":"down for the test"}')
      if (this.mode === 'hold') {
        this.held++
        await new Promise<void>((resolve) => this.#waiting.push(resolve))
      }
      const answer = await fetch(`http://127.0.0.1:${upstream()}${req.url}`, { headers: { authorization: req.headers.authorization ?? '' } }).catch(() => undefined)
      if (answer === undefined) return res.writeHead(502).end()
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(Buffer.from(await answer.arrayBuffer()))
    })
  }
  get port(): number {
    return (this.server.address() as AddressInfo).port
  }
  open(): void {
    this.mode = 'pass'
    for (const release of this.#waiting.splice(0)) release()
  }
}

/** Waits for `check` to hold (polling; no time is asserted, the bound only ends a hung test). */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe('ARACHNID_PULL_INTERVAL', () => {
  it('is an hour by default, 0 turns scheduled pulls off, and a bad value names the variable', () => {
    expect(loadConfig({}, {}).pullIntervalSeconds).toBe(3600)
    expect(loadConfig({}, { ARACHNID_PULL_INTERVAL: '0' }).pullIntervalSeconds).toBe(0)
    expect(() => loadConfig({}, { ARACHNID_PULL_INTERVAL: '-1' })).toThrow(/^ARACHNID_PULL_INTERVAL=-1: expected an integer from 0 to 31536000$/)
    expect(() => loadConfig({}, { ARACHNID_PULL_INTERVAL: 'hourly' })).toThrow(/^ARACHNID_PULL_INTERVAL=hourly: expected an integer/)
  })
})

describe.each(dialects)('scheduled list pulls on %s', (dialect) => {
  let a: CliEnvironment
  let b: CliEnvironment
  let api: CliProcess | undefined
  let apiPort = 0
  let gate: Gate

  const startApi = async () => {
    api = a.start(['api', '--port', String(apiPort)])
    const [, p] = await api.waitFor(/matching service: http:\/\/127\.0\.0\.1:(\d+)\//, { stream: 'stderr' })
    apiPort = Number(p)
    await until('the peer service', async () => (await fetch(`http://127.0.0.1:${apiPort}/healthz`).catch(() => undefined))?.status === 200)
  }
  const ok = async (cli: CliEnvironment, args: string[], input?: string) => {
    const r = await cli.run(args, input === undefined ? {} : { input })
    expect(r.code, `${args.join(' ')}: ${r.errors}`).toBe(0)
    return r
  }
  /** Appends an entry to the peer's list (on the embedded database with its service stopped meanwhile). */
  const appendOnPeer = async (value: string) => {
    if (dialect === 'pglite') await api?.stop()
    const file = path.join(a.home, `${value}.csv`)
    await writeFile(file, `algorithm,hash\nmd5,${md5(value)}\n`)
    await ok(a, ['lists', 'import', file, '--name', 'shared', '--append', '--no-retro-hunt'])
    if (dialect === 'pglite') await startApi()
  }
  const openB = () => openApp(loadConfig({}, { ...b.env, LOG_LEVEL: 'silent' }))
  const subscription = (app: App) => app.database.db.selectFrom('list_subscriptions').selectAll().where('local_name', '=', 'mirror').executeTakeFirstOrThrow()
  const mirrored = async (app: App, value: string) => (await app.database.db.selectFrom('known_hashes as k').innerJoin('hash_lists as l', 'l.active_version_id', 'k.version_id')
    .where('l.name', '=', 'mirror').where('k.algorithm', '=', 'md5').select('k.hash').execute()).some((k) => Buffer.from(k.hash).toString('hex') === md5(value))

  beforeAll(async () => {
    ;[a, b] = await Promise.all([openCliEnvironment(dialect), openCliEnvironment(dialect)])
    await writeFile(path.join(a.home, 'shared.csv'), `algorithm,hash\nmd5,${md5('one')}\n`)
    await ok(a, ['lists', 'import', path.join(a.home, 'shared.csv'), '--name', 'shared', '--no-retro-hunt'])
    const { password } = await a.json(['api', 'users', 'add', 'peer-b', '--scope', 'export', '--json'])
    await startApi()
    gate = new Gate(() => apiPort)
    await new Promise<void>((resolve) => gate.server.listen(0, '127.0.0.1', resolve))
    const subscribed = await b.json(['lists', 'subscribe', `http://127.0.0.1:${gate.port}/api/v1/lists/shared`, '--name', 'mirror', '--user', 'peer-b', '--json'], { input: `${password}\n` })
    expect(subscribed).toMatchObject({ list: 'mirror', replaced: 1, replacedEntries: 1, retroHunt: { entries: 1, mediaScanned: 0 } })
  }, 300_000)
  afterAll(async () => {
    gate?.open()
    gate?.server.closeAllConnections()
    await new Promise((resolve) => gate?.server.close(resolve))
    await api?.stop()
    await Promise.all([a?.close(), b?.close()])
  })

  it('records a failed pull on the subscription, tries again on the next interval, and hunts what it pulls', async () => {
    await appendOnPeer('two')
    gate.mode = 'fail'
    const app = await openB()
    const boss = createBoss({ pglite: app.database.pglite, url: app.config.databaseUrl })
    const scheduler = new ListPullScheduler(boss, app, { intervalSeconds: 1, pollingIntervalSeconds: 0.5 })
    try {
      const before = (await subscription(app)).pulls
      await scheduler.start()
      // Failed twice at least: the failure was recorded, and the schedule went on.
      const failed = await until('a failed pull recorded and tried again', async () => {
        const s = await subscription(app)
        return s.pulls >= before + 2 && s.last_error !== null && s
      })
      expect(failed.last_error).toMatch(/answered 503 for list shared: down for the test/)
      expect(await mirrored(app, 'two')).toBe(false)

      gate.open()
      const hunts = () => app.database.db.selectFrom('retro_hunts as h').innerJoin('hash_lists as l', 'l.id', 'h.list_id').where('l.name', '=', 'mirror')
        .select(['h.trigger', 'h.status', 'h.entries']).orderBy('h.id').execute()
      // The subscription's first pull hunted the version it brought; the scheduled one hunts the entry it appends.
      await until('the pull after the peer is back, and its hunt', async () => (await subscription(app)).last_error === null && (await hunts()).filter((h) => h.status === 'finished').length === 2)
      await scheduler.stop()
      expect(await mirrored(app, 'two')).toBe(true)
      expect(await hunts()).toEqual([{ trigger: 'pull', status: 'finished', entries: 1 }, { trigger: 'pull', status: 'finished', entries: 1 }])
      expect(await subscription(app)).toMatchObject({ last_error: null, pull_owner: null, hunt_version_id: null })
    } finally {
      await scheduler.stop()
      // The boss is the caller's to stop.
      await boss.stop({ graceful: true, wait: true })
      await app.close()
    }
  }, 300_000)

  it('never has two pullers pull the same subscription at once, and takes one whose puller died after its hold lapses', async () => {
    await appendOnPeer('three')
    // Two processes on Postgres (a pool each); on the embedded database, which one process holds, two pullers in one.
    const app1 = await openB()
    const app2 = dialect === 'postgres' ? await openB() : app1
    const s1 = new ListPullScheduler(createBoss({ pglite: app1.database.pglite, url: app1.config.databaseUrl }), app1)
    const s2 = new ListPullScheduler(createBoss({ pglite: app2.database.pglite, url: app2.config.databaseUrl }), app2)
    try {
      gate.mode = 'hold'
      const held = gate.held
      const first = s1.runOnce()
      // The first puller holds the subscription and waits for the peer's answer.
      await until('the first pull at the peer', async () => gate.held > held)
      const holder = await subscription(app1)
      expect(holder.pull_owner).toMatch(new RegExp(`pid ${process.pid} `))
      expect(await s2.runOnce()).toEqual([expect.objectContaining({ list: 'mirror', status: 'busy', owner: holder.pull_owner })])
      gate.open()
      const [outcome] = await first
      expect(outcome).toMatchObject({ list: 'mirror', status: 'pulled', result: { added: 1 }, retroHunt: { entries: 1 } })
      expect(await mirrored(app1, 'three')).toBe(true)
      expect((await subscription(app1)).pull_owner).toBeNull()

      // A puller that died holding it: nobody pulls it until the hold lapses, then the next one does.
      await appendOnPeer('four')
      await app1.database.db.updateTable('list_subscriptions').set({ pull_owner: 'a dead process', pull_lease_until: new Date(Date.now() + 3_600_000) }).where('local_name', '=', 'mirror').execute()
      expect(await s2.runOnce()).toEqual([expect.objectContaining({ status: 'busy', owner: 'a dead process' })])
      await app1.database.db.updateTable('list_subscriptions').set({ pull_lease_until: new Date(Date.now() - 1000) }).where('local_name', '=', 'mirror').execute()
      expect(await s2.runOnce()).toEqual([expect.objectContaining({ status: 'pulled', result: expect.objectContaining({ added: 1 }) })])
      expect(await mirrored(app1, 'four')).toBe(true)
    } finally {
      gate.open()
      await s1.stop()
      await s2.stop()
      await app1.close()
      if (app2 !== app1) await app2.close()
    }
  }, 300_000)

  it('notify worker pulls every ARACHNID_PULL_INTERVAL seconds; 0 turns it off', async () => {
    const worker = b.start(['notify', 'worker', '--poll', '0.5'], { env: { ARACHNID_PULL_INTERVAL: '1', LOG_LEVEL: 'info' } })
    try {
      await worker.waitFor(/notify worker \d+ started \(.*; list pulls every 1 s\)/, { stream: 'stderr', timeoutMs: 120_000 })
      await appendOnPeer('five')
      await worker.waitFor(/"list":"mirror"[^\n]*"added":1[^\n]*"msg":"list pulled"/, { stream: 'stderr', timeoutMs: 120_000 })
    } finally {
      // Stopped between passes or in one: no error either way.
      expect((await worker.stop()).errors).not.toMatch(/Error|\n\s+at /)
    }
    const [s] = (await ok(b, ['lists', 'subscriptions', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(s).toMatchObject({ list: 'mirror', retroHunt: true, lastError: null, pulling: null, huntPending: false })
    expect((await ok(b, ['lists', 'export', 'mirror', '--format', 'csv'])).stdout).toContain(md5('five'))

    const off = b.start(['notify', 'worker'], { env: { ARACHNID_PULL_INTERVAL: '0' } })
    try {
      await off.waitFor(/notify worker \d+ started \(.*; no list pulls \(ARACHNID_PULL_INTERVAL=0\)\)/, { stream: 'stderr', timeoutMs: 120_000 })
    } finally {
      await off.stop()
    }
  }, 600_000)
})
