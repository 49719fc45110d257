/**
 * The frontier's capacity: lease -> complete cycles per second against Postgres, no fetching.
 *
 * Each worker is a loop over the real PostgresFrontier (the crawler's requestManager) on its own
 * connection (a pool of 1): fetchNextRequest() leases a batch of `--batch` URLs (8, a worker's
 * page concurrency) and hands them out; per page the worker takes the host's turn on the
 * politeness clock (HostClock.turn), records the page's yield for its URL pattern (recordYield),
 * adds the page's links (add: `--links` new URLs, each on a random one of the hosts) and marks it
 * done (markRequestHandled), in the order a crawl worker does. Nothing else a worker writes per
 * page (pages, media_fetches) is done here: this measures the frontier alone.
 *
 * For each concurrency (1, 4, 16, 64 workers as async loops in this process; then 64 as 4
 * processes of 16) a fresh job is preloaded with `--urls` URLs across `--hosts` hosts through
 * PostgresFrontier.add, analysed, run for a warm-up and a measured window, then deleted. Baseline
 * in the same run and at the same concurrency: as many single-row
 * `update frontier set status = 'done', lease_until = null where id = $1` round trips (the
 * statement markRequestHandled issues) as the frontier completed pages, i.e. the floor of one
 * statement per page.
 *
 * Figures: pages/s, p50/p99 lease latency (the fetchNextRequest call that runs the lease
 * transaction), statements per page (counted in node-postgres, BEGIN/COMMIT included), Postgres
 * CPU per 1,000 pages (utime+stime from /proc/<pid>/stat of the bench's own backends, read at
 * the window's edges; the shared WAL writer, checkpointer and background writer separately),
 * WAL bytes per page (pg_current_wal_lsn, cluster-wide: an upper bound when others write), the
 * bench processes' own CPU, and how busy the machine's cores were.
 *
 * Run from the repository root: pnpm tsx bench/frontier/run.ts [--levels 1,4,16,64]
 *   [--procs 4x16] [--urls 200000] [--hosts 2000] [--links 5] [--batch 8] [--seconds 20]
 *   [--warmup 3] [--no-patterns]
 * Needs Postgres (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres); it
 * creates and drops its own database, and reads /proc of the Postgres processes (same machine).
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Database, type Kysely, openDatabase, sql } from '@arachnid/core'
import { DEFAULT_FRONTIER_OPTIONS, type FrontierOptions, HostClock, PostgresFrontier } from '@arachnid/crawler'

// node-postgres, the module the database handles use (bench has no @types/pg: the little used here is typed here).
interface PgClient {
  connect(): Promise<void>
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>
  end(): Promise<void>
}
const pg = createRequire(import.meta.url)('pg') as { Client: { new (options: { connectionString: string }): PgClient; prototype: { query: (...args: unknown[]) => unknown } } }

const argv = process.argv.slice(2)
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(name)
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback
}
const LEVELS = arg('--levels', '1,4,16,64').split(',').filter(Boolean).map(Number)
const PROCS = arg('--procs', '4x16').split(',').filter(Boolean).map((s) => s.split('x').map(Number) as [number, number])
const URLS = Number(arg('--urls', '200000'))
const HOSTS = Number(arg('--hosts', '2000'))
const LINKS = Number(arg('--links', '5'))
const BATCH = Number(arg('--batch', '8'))
const SECONDS = Number(arg('--seconds', '20'))
const WARMUP = Number(arg('--warmup', '3'))
const PATTERNS = !argv.includes('--no-patterns')
const CHILD = argv.includes('--child')
/** Keep the last level's job and the database, to look at it afterwards. */
const KEEP = argv.includes('--keep')
/** Session settings for the workers' connections (e.g. "-c enable_hashjoin=off"), to try a plan without changing the frontier. */
const PG_OPTIONS = arg('--pg-options', '')
const withOptions = (url: string) => {
  if (PG_OPTIONS === '') return url
  const u = new URL(url)
  u.searchParams.set('options', PG_OPTIONS)
  return u.toString()
}
const self = fileURLToPath(import.meta.url)

// ---- statements, counted in node-postgres (every statement of every pool of this process) ----
let statements = 0
const byStatement = new Map<string, number>()
/** The last lease statement as the frontier issued it, for EXPLAIN. */
let lastLease: { text: string; values: unknown[] } | undefined
const originalQuery = pg.Client.prototype.query
pg.Client.prototype.query = function (this: PgClient, ...args: unknown[]) {
  statements++
  const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text ?? '?'
  const key = text.replace(/\s+/g, ' ').trim().slice(0, 70)
  byStatement.set(key, (byStatement.get(key) ?? 0) + 1)
  if (key.startsWith('with hosts as')) lastLease = { text, values: args[1] as unknown[] }
  return originalQuery.apply(this, args)
}

const hostName = (i: number) => `h${String(i).padStart(4, '0')}.bench.example`
const frontierOptions = (): FrontierOptions => ({
  ...DEFAULT_FRONTIER_OPTIONS, maxPages: 100_000_000, maxDepth: 1000, maxPagesPerHost: 1_000_000, sameSite: false, leaseBatch: BATCH,
  patternBudget: { enabled: PATTERNS, window: 50, budget: 100 },
})
const SEEDS = [`https://${hostName(0)}/`]

interface Worker { db: Kysely<Database>; close(): Promise<void>; frontier: PostgresFrontier; clock: HostClock; pid: number }

async function openWorker(url: string, jobId: number, name: string): Promise<Worker> {
  const handle = await openDatabase({ databaseUrl: withOptions(url), poolSize: 1, migrate: false })
  const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(handle.db)
  return {
    db: handle.db, close: () => handle.close(), pid: rows[0]!.pid,
    frontier: new PostgresFrontier(handle.db, jobId, SEEDS, frontierOptions(), undefined, name),
    clock: new HostClock(handle.db, jobId, 0),
  }
}

interface Window { pages: number; statements: number; leaseMs: number[]; cpuMs: number; emptyLeases: number; byStatement: Record<string, number> }

/**
 * Runs the workers' loops: `go` resolves when they may start; the window opens `WARMUP` s later
 * and closes `SECONDS` s after that; returns what was done inside it.
 */
async function runWorkers(workers: Worker[], go: Promise<void>, onWindow?: (edge: 'open' | 'close') => void): Promise<Window> {
  await go
  let inWindow = false
  let stop = false
  let pages = 0
  let emptyLeases = 0
  const leaseMs: number[] = []
  let serial = 0
  let opened = { statements: 0, cpu: process.cpuUsage(), byStatement: new Map<string, number>() }
  const result: Partial<Window> = {}
  const timer = (async () => {
    await sleep(WARMUP * 1000)
    opened = { statements, cpu: process.cpuUsage(), byStatement: new Map(byStatement) }
    inWindow = true
    onWindow?.('open')
    await sleep(SECONDS * 1000)
    inWindow = false
    onWindow?.('close')
    const cpu = process.cpuUsage(opened.cpu)
    result.statements = statements - opened.statements
    result.cpuMs = (cpu.user + cpu.system) / 1000
    result.pages = pages
    result.byStatement = Object.fromEntries([...byStatement].map(([k, n]) => [k, n - (opened.byStatement.get(k) ?? 0)]).filter(([, n]) => (n as number) > 0))
    stop = true
  })()
  await Promise.all(workers.map(async (w, wi) => {
    while (!stop) {
      const t0 = performance.now()
      const first = await w.frontier.fetchNextRequest()
      const took = performance.now() - t0
      const counting = inWindow
      if (counting) leaseMs.push(took)
      if (first === null) { if (counting) emptyLeases++; await sleep(5); continue }
      const batch = [first]
      while (w.frontier.getPendingCount() > batch.length) {
        const next = await w.frontier.fetchNextRequest()
        if (next === null) break
        batch.push(next)
      }
      for (const request of batch) {
        const depth = Number((request.userData as { depth?: number }).depth ?? 0)
        const links = Array.from({ length: LINKS }, () => `https://${hostName(Math.floor(Math.random() * HOSTS))}/p/${depth + 1}/${process.pid}-${wi}-${serial++}`)
        await w.clock.turn(new URL(request.url))
        await w.frontier.recordYield({ url: request.url, media: [], links })
        await w.frontier.add(links.map((url) => ({ url, depth: depth + 1 })))
        await w.frontier.markRequestHandled(request)
        if (inWindow) pages++
      }
    }
  }))
  await timer
  return { ...(result as Window), leaseMs, emptyLeases }
}

/** The floor: `total` single-row updates by id, as markRequestHandled issues them, over the workers' connections. */
async function runBaseline(workers: Worker[], ids: number[], total: number): Promise<{ seconds: number; statements: number; cpuMs: number }> {
  let next = 0
  const s0 = statements
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(workers.map(async (w) => {
    for (;;) {
      const i = next++
      if (i >= total) return
      await w.db.updateTable('frontier').set({ status: 'done', lease_until: null }).where('id', '=', ids[i % ids.length]!).execute()
    }
  }))
  const cpu = process.cpuUsage(cpu0)
  return { seconds: (performance.now() - t0) / 1000, statements: statements - s0, cpuMs: (cpu.user + cpu.system) / 1000 }
}

// ---- child process: `--child --url U --job J --workers N`; says `ready <pids>`, starts on `go`, prints its window as JSON ----
if (CHILD) {
  const url = arg('--url', '')
  const jobId = Number(arg('--job', '0'))
  const n = Number(arg('--workers', '1'))
  const workers = await Promise.all(Array.from({ length: n }, (_, i) => openWorker(url, jobId, `bench-${process.pid}-${i}`)))
  process.stdout.write(`ready ${JSON.stringify(workers.map((w) => w.pid))}\n`)
  const lines = readline.createInterface({ input: process.stdin })
  const go = new Promise<void>((resolve) => lines.on('line', (l) => { if (l.trim() === 'go') resolve() }))
  const window = await runWorkers(workers, go)
  process.stdout.write(`result ${JSON.stringify(window)}\n`)
  lines.close()
  await Promise.all(workers.map((w) => w.close()))
  process.exit(0)
}

// ---- the parent ----
const TICK_MS = 1000 / 100 // USER_HZ; /proc/<pid>/stat counts clock ticks
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state): utime is field 14, stime 15.
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS
  } catch {
    return 0
  }
}
function machineBusy(): { busy: number; total: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number)
  const idle = cpu[3]! + cpu[4]!
  const total = cpu.reduce((a, b) => a + b, 0)
  return { busy: total - idle, total }
}
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ')
const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

const { openTestDatabase } = await import('@arachnid/test')
const admin = await openTestDatabase('postgres')
const dbUrl = admin.url!
const dbName = new URL(dbUrl).pathname.slice(1)
console.log(`frontier bench: ${URLS} URLs across ${HOSTS} hosts per run, ${LINKS} new links per page, lease batch ${BATCH}, pattern budgets ${PATTERNS ? 'on' : 'off'}, ` +
  `warm-up ${WARMUP} s, window ${SECONDS} s${PG_OPTIONS ? `, worker sessions ${PG_OPTIONS}` : ''}; ${os.availableParallelism()} cores; load average ${load()}`)

async function backgroundPids(): Promise<number[]> {
  const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity where backend_type in ('walwriter', 'checkpointer', 'background writer')`.execute(admin.db)
  return rows.map((r) => r.pid)
}
async function walLsn(): Promise<bigint> {
  const { rows } = await sql<{ b: string }>`select (pg_current_wal_lsn() - '0/0'::pg_lsn)::text as b`.execute(admin.db)
  return BigInt(rows[0]!.b.split('.')[0]!)
}

async function preload(): Promise<{ jobId: number; seconds: number; statements: number }> {
  const job = await admin.db.insertInto('crawl_jobs').values({ name: 'frontier bench', seeds: JSON.stringify(SEEDS), options: JSON.stringify({}), status: 'running' })
    .returning('id').executeTakeFirstOrThrow()
  const frontier = new PostgresFrontier(admin.db, job.id, SEEDS, frontierOptions(), undefined, 'bench-preload')
  const perHost = Math.ceil(URLS / HOSTS)
  const s0 = statements
  const t0 = performance.now()
  // 5,000 URLs per add (50 hosts x 100): within Postgres' 65,535 parameters per statement.
  const hostsPerAdd = Math.max(1, Math.floor(5000 / perHost))
  for (let h = 0; h < HOSTS; h += hostsPerAdd) {
    const candidates = []
    for (let i = h; i < Math.min(HOSTS, h + hostsPerAdd); i++) for (let p = 0; p < perHost; p++) candidates.push({ url: `https://${hostName(i)}/p/1/seed-${p}`, depth: 1 })
    await frontier.add(candidates)
  }
  const seconds = (performance.now() - t0) / 1000
  const st = statements - s0
  await sql`analyze frontier`.execute(admin.db)
  await sql`analyze frontier_hosts`.execute(admin.db)
  await sql`analyze url_patterns`.execute(admin.db)
  return { jobId: job.id, seconds, statements: st }
}

interface Row {
  name: string; workers: number; procs: number; pages: number; seconds: number; statements: number; leaseMs: number[]; emptyLeases: number
  pgCpuMs: number; bgCpuMs: number; walBytes: bigint; benchCpuMs: number; machineBusy: number; loadBefore: string; loadAfter: string
  baseline?: { updates: number; seconds: number; pgCpuMs: number; statements: number }
  byStatement: Record<string, number>; preloadSeconds: number; leasePlan?: string
  waits: Record<string, number>
}

/** EXPLAIN ANALYZE of the frontier's own lease statement, with its parameters, as it stands after the run (rolled back). */
async function explain(lease: { text: string; values: unknown[] }): Promise<string> {
  const client = new pg.Client({ connectionString: withOptions(dbUrl) })
  await client.connect()
  try {
    await client.query('begin')
    const { rows } = await client.query(`explain (analyze, buffers) ${lease.text}`, lease.values)
    await client.query('rollback')
    return rows.map((r) => String(r['QUERY PLAN'])).join('\n')
  } finally {
    await client.end()
  }
}
const rows: Row[] = []

async function level(procs: number, perProc: number): Promise<void> {
  const total = procs * perProc
  const name = procs === 1 ? `${total} worker${total > 1 ? 's' : ''}, 1 process` : `${total} workers, ${procs} processes x ${perProc}`
  const loadBefore = load()
  lastLease = undefined
  const { jobId, seconds: preloadSeconds } = await preload()
  const bg = await backgroundPids()
  let pids: number[] = []
  let edges: { pg: number; bg: number; wal: bigint; busy: { busy: number; total: number } }[] = []
  const snapshot = async () => {
    const pg = pids.reduce((a, p) => a + procCpuMs(p), 0)
    const bgc = bg.reduce((a, p) => a + procCpuMs(p), 0)
    const busy = machineBusy()
    edges.push({ pg, bg: bgc, wal: 0n, busy })
    const i = edges.length - 1
    edges[i]!.wal = await walLsn()
  }
  // What the workers' backends are doing during the window, sampled 10 times a second: on CPU
  // (active, no wait), waiting on a lock, an LWLock, IO, or the client (idle: the worker's own turn).
  const waits = new Map<string, number>()
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      await sleep(100)
      if (edges.length !== 1 || pids.length === 0) continue
      const { rows: sample } = await sql<{ k: string; n: number }>`
        select case when state = 'active' and wait_event_type is null then 'CPU' when state = 'active' then wait_event_type || ':' || wait_event else state end as k, count(*)::int as n
        from pg_stat_activity where pid = any(${pids}) group by 1`.execute(admin.db)
      for (const { k, n } of sample) waits.set(k, (waits.get(k) ?? 0) + n)
    }
  })()
  let window: Window
  let workers: Worker[] = []
  if (procs === 1) {
    workers = await Promise.all(Array.from({ length: total }, (_, i) => openWorker(dbUrl, jobId, `bench-${process.pid}-${i}`)))
    pids = workers.map((w) => w.pid)
    window = await runWorkers(workers, Promise.resolve(), (edge) => { void snapshot() })
  } else {
    const children = Array.from({ length: procs }, () => spawn(process.execPath, [...process.execArgv, self, '--child', '--url', dbUrl, '--job', String(jobId), '--workers', String(perProc),
      '--links', String(LINKS), '--pg-options', PG_OPTIONS, '--hosts', String(HOSTS), '--batch', String(BATCH), '--seconds', String(SECONDS), '--warmup', String(WARMUP), ...(PATTERNS ? [] : ['--no-patterns'])],
    { stdio: ['pipe', 'pipe', 'inherit'] }))
    const outputs = children.map((c) => {
      const rl = readline.createInterface({ input: c.stdout! })
      let ready!: (pids: number[]) => void
      let done!: (w: Window) => void
      const readyP = new Promise<number[]>((r) => { ready = r })
      const doneP = new Promise<Window>((r) => { done = r })
      rl.on('line', (line) => {
        if (line.startsWith('ready ')) ready(JSON.parse(line.slice(6)) as number[])
        else if (line.startsWith('result ')) done(JSON.parse(line.slice(7)) as Window)
      })
      return { readyP, doneP }
    })
    pids = (await Promise.all(outputs.map((o) => o.readyP))).flat()
    for (const c of children) c.stdin!.write('go\n')
    void (async () => { await sleep(WARMUP * 1000); await snapshot(); await sleep(SECONDS * 1000); await snapshot() })()
    const windows = await Promise.all(outputs.map((o) => o.doneP))
    await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.on('exit', r)))))
    const byStatementAll: Record<string, number> = {}
    for (const w of windows) for (const [k, n] of Object.entries(w.byStatement)) byStatementAll[k] = (byStatementAll[k] ?? 0) + n
    window = {
      pages: windows.reduce((a, w) => a + w.pages, 0), statements: windows.reduce((a, w) => a + w.statements, 0), leaseMs: windows.flatMap((w) => w.leaseMs),
      cpuMs: windows.reduce((a, w) => a + w.cpuMs, 0), emptyLeases: windows.reduce((a, w) => a + w.emptyLeases, 0), byStatement: byStatementAll,
    }
  }
  while (edges.length < 2) await sleep(50)
  sampling = false
  await sampler
  const [open, close] = edges as [typeof edges[0], typeof edges[0]]
  const row: Row = {
    name, workers: total, procs, pages: window.pages, seconds: SECONDS, statements: window.statements, leaseMs: window.leaseMs, emptyLeases: window.emptyLeases,
    pgCpuMs: close.pg - open.pg, bgCpuMs: close.bg - open.bg, walBytes: close.wal - open.wal, benchCpuMs: window.cpuMs,
    machineBusy: (close.busy.busy - open.busy.busy) / (close.busy.total - open.busy.total), loadBefore, loadAfter: load(), byStatement: window.byStatement, preloadSeconds,
    waits: Object.fromEntries([...waits].sort((a, b) => b[1] - a[1])),
  }
  // The baseline at the same concurrency, on the same connections (a process of its own for each worker is not needed for one statement).
  if (procs === 1) {
    const ids = (await admin.db.selectFrom('frontier').select('id').where('job_id', '=', jobId).limit(50_000).execute()).map((r) => r.id)
    for (let i = ids.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [ids[i], ids[j]] = [ids[j]!, ids[i]!] }
    const pg0 = pids.reduce((a, p) => a + procCpuMs(p), 0)
    const b = await runBaseline(workers, ids, window.pages)
    row.baseline = { updates: window.pages, seconds: b.seconds, pgCpuMs: pids.reduce((a, p) => a + procCpuMs(p), 0) - pg0, statements: b.statements }
  }
  await Promise.all(workers.map((w) => w.close()))
  if (lastLease) row.leasePlan = await explain(lastLease)
  rows.push(row)
  const pps = row.pages / row.seconds
  console.log(`${name}: ${row.pages} pages in ${SECONDS} s = ${pps.toFixed(0)} pages/s; lease p50 ${quantile(row.leaseMs, 0.5).toFixed(1)} ms p99 ${quantile(row.leaseMs, 0.99).toFixed(1)} ms; ` +
    `${(row.statements / row.pages).toFixed(1)} statements/page; Postgres ${(row.pgCpuMs / row.pages * 1000).toFixed(0)} ms CPU/1000 pages; machine ${(row.machineBusy * 100).toFixed(0)} % busy; ` +
    (row.baseline ? `baseline ${(row.baseline.updates / row.baseline.seconds).toFixed(0)} updates/s (${(row.baseline.pgCpuMs / row.baseline.updates * 1000).toFixed(0)} ms CPU/1000); ` : '') +
    `preload ${preloadSeconds.toFixed(1)} s; load ${loadBefore} -> ${row.loadAfter}`)
  if (KEEP) return
  await admin.db.deleteFrom('crawl_jobs').where('id', '=', jobId).execute()
  await sql`vacuum analyze frontier`.execute(admin.db)
  await sql`vacuum analyze frontier_hosts`.execute(admin.db)
  await sql`vacuum analyze url_patterns`.execute(admin.db)
}

for (const n of LEVELS) await level(1, n)
for (const [p, n] of PROCS) await level(p, n)

console.log('\n| run | pages/s | lease p50 ms | lease p99 ms | statements/page | Postgres CPU ms/1000 pages | WAL KiB/page | bench CPU ms/1000 pages | machine busy | baseline updates/s | x baseline | Postgres CPU x baseline | load before -> after |')
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
const baselineOf = (workers: number) => rows.find((r) => r.procs === 1 && r.workers === workers)?.baseline
for (const r of rows) {
  const b = baselineOf(r.workers)
  const pps = r.pages / r.seconds
  const bps = b ? b.updates / b.seconds : NaN
  const cpuPer = r.pgCpuMs / r.pages * 1000
  const bCpuPer = b ? b.pgCpuMs / b.updates * 1000 : NaN
  console.log(`| ${r.name} | ${pps.toFixed(0)} | ${quantile(r.leaseMs, 0.5).toFixed(1)} | ${quantile(r.leaseMs, 0.99).toFixed(1)} | ${(r.statements / r.pages).toFixed(1)} | ${cpuPer.toFixed(0)} | ` +
    `${(Number(r.walBytes) / r.pages / 1024).toFixed(1)} | ${(r.benchCpuMs / r.pages * 1000).toFixed(0)} | ${(r.machineBusy * 100).toFixed(0)} % | ${bps.toFixed(0)} | ${(pps / bps).toFixed(3)} | ${(cpuPer / bCpuPer).toFixed(1)} | ${r.loadBefore} -> ${r.loadAfter} |`)
}
console.log('\nbaseline (one `update frontier set status, lease_until where id = $1` per page, same workers and connections):')
for (const r of rows) if (r.baseline) {
  console.log(`  ${r.workers} workers: ${r.baseline.updates} updates in ${r.baseline.seconds.toFixed(2)} s = ${(r.baseline.updates / r.baseline.seconds).toFixed(0)}/s; ` +
    `Postgres ${(r.baseline.pgCpuMs / r.baseline.updates * 1000).toFixed(0)} ms CPU/1000; ${(r.baseline.statements / r.baseline.updates).toFixed(2)} statements each`)
}
const last = rows.find((r) => r.procs === 1 && r.workers === Math.max(...LEVELS)) ?? rows[rows.length - 1]!
console.log(`\nstatements per page at ${last.name} (counted in node-postgres; each lease is one transaction for ${BATCH} pages):`)
for (const [k, n] of Object.entries(last.byStatement).sort((a, b) => b[1] - a[1])) console.log(`  ${(n / last.pages).toFixed(2)}  ${k}`)
console.log(`\nempty leases in the window: ${rows.map((r) => `${r.name} ${r.emptyLeases}`).join('; ')}`)
console.log(`Postgres background (WAL writer, checkpointer, background writer; cluster-wide, shared with other users): ${rows.map((r) => `${r.name} ${(r.bgCpuMs / r.seconds / 10).toFixed(1)} % of a core`).join('; ')}`)
console.log('\nthe workers\' backends in the window (pg_stat_activity sampled every 0.1 s; share of samples):')
for (const r of rows) {
  const all = Object.values(r.waits).reduce((a, b) => a + b, 0)
  console.log(`  ${r.name}: ${Object.entries(r.waits).map(([k, n]) => `${k} ${(n / all * 100).toFixed(1)} %`).join(', ')}`)
}
for (const r of rows) if (r.leasePlan) console.log(`lease statement after ${r.name}: ${/Execution Time: [\d.]+ ms/.exec(r.leasePlan)?.[0] ?? '?'}`)
if (last.leasePlan) console.log(`\nplan of the lease statement after ${last.name}:\n${last.leasePlan}`)
console.log(`\nload average after: ${load()}; ${os.availableParallelism()} cores`)

if (KEEP) {
  console.log(`kept database ${dbName} (drop it yourself)`)
  process.exit(0)
}
await admin.close()
