/**
 * What bench/api's scripts share: a Postgres database of their own, a PDQ list loaded into it fast
 * (COPY of generated rows), the matching service started as a user starts it (`arachnid api`) and
 * an API user made with its CLI, and measuring helpers. Everything is synthetic random bits.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type ArachnidDatabase, openDatabase, sql } from '../../packages/core/src/index.js'
import { importList } from '../../packages/matcher/src/index.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const PG_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const THRESHOLD = 31
const run = promisify(execFile)

/** Seeded xorshift32. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x }
}

function flipBits(next: () => number, words: Uint32Array, at: number, bits: number): void {
  const used = new Set<number>()
  while (used.size < bits) used.add(next() & 255)
  for (const b of used) words[at + (b >> 5)]! ^= 1 << (31 - (b & 31))
}

/** Families as in bench/matcher: a random root and 0..7 members 2..24 bits from it (re-encodes, crops, edits of one image). */
export function makeList(size: number, next: () => number): Uint32Array {
  const words = new Uint32Array(size * 8)
  let j = 0
  while (j < size) {
    const root = j
    for (let w = 0; w < 8; w++) words[j * 8 + w] = next()
    j++
    const members = next() % 8
    for (let m = 0; m < members && j < size; m++, j++) {
      words.copyWithin(j * 8, root * 8, root * 8 + 8)
      flipBits(next, words, j * 8, 2 + (next() % 23))
    }
  }
  return words
}

export const hexOf = (words: Uint32Array, at: number): string => {
  let s = ''
  for (let w = 0; w < 8; w++) s += words[at + w]!.toString(16).padStart(8, '0')
  return s
}

/** 99% uniform random probes, 1% planted 0..31 bits from a random list entry (as bench/matcher). */
export function makeProbes(list: Uint32Array, size: number, count: number, next: () => number): string[] {
  const words = new Uint32Array(8)
  return Array.from({ length: count }, (_, p) => {
    if (p % 100 === 0) {
      const j = next() % size
      words.set(list.subarray(j * 8, j * 8 + 8))
      flipBits(next, words, 0, next() % (THRESHOLD + 1))
    } else for (let w = 0; w < 8; w++) words[w] = next()
    return hexOf(words, 0)
  })
}

/** A fresh database on the test Postgres, migrated; dropped by `drop()`. */
export async function benchDatabase(tag: string): Promise<{ url: string; handle: ArachnidDatabase; drop(): Promise<void> }> {
  const name = `arachnid_bench_api_${tag}_${process.pid}`
  const admin = await openDatabase({ databaseUrl: PG_URL, migrate: false, poolSize: 1 })
  await sql.raw(`drop database if exists ${name} with (force)`).execute(admin.db)
  await sql.raw(`create database ${name}`).execute(admin.db)
  const url = new URL(PG_URL)
  url.pathname = `/${name}`
  const handle = await openDatabase({ databaseUrl: url.toString() })
  return {
    url: url.toString(), handle,
    async drop() {
      await handle.close().catch(() => {})
      await sql.raw(`drop database if exists ${name} with (force)`).execute(admin.db)
      await admin.close()
    },
  }
}

/**
 * The list as one active version of list `bench-pdq`: the list and its version are made by
 * `importList` (one row), the other rows go straight into that version with COPY (generated
 * here, 2,000 lines per chunk), and the version's id range and row count are set so a matcher's
 * initial load reads them all. Much faster than the importer's line parsing, which is not what
 * this bench measures.
 */
export async function loadList(handle: ArachnidDatabase, list: Uint32Array, size: number): Promise<number> {
  const t = performance.now()
  await importList(handle.db, { name: 'bench-pdq', format: 'pdq-csv', lines: [`${hexOf(list, 0)},100`], copyFrom: handle.copyFrom })
  const v = await handle.db.selectFrom('hash_list_versions as v').innerJoin('hash_lists as l', 'l.active_version_id', 'v.id')
    .where('l.name', '=', 'bench-pdq').select(['v.id', 'v.list_id']).executeTakeFirstOrThrow()
  function* rows(): Generator<string> {
    let chunk = ''
    for (let j = 1; j < size; j++) {
      chunk += `${v.list_id}\t${v.id}\tpdq\t\\\\x${hexOf(list, j * 8)}\t100\n`
      if (j % 2000 === 0) { yield chunk; chunk = '' }
    }
    if (chunk) yield chunk
  }
  await handle.copyFrom!('copy known_hashes (list_id, version_id, algorithm, hash, quality) from stdin', rows())
  await sql`update hash_list_versions set rows = ${size}, last_id = (select max(id) from known_hashes where version_id = ${v.id}) where id = ${v.id}`.execute(handle.db)
  await sql`analyze known_hashes`.execute(handle.db)
  return (performance.now() - t) / 1000
}

/** Runs `pnpm arachnid ...` (as node + tsx, what the script runs) with the database; returns stdout. */
export async function cli(databaseUrl: string, args: readonly string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', ...args], {
    cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', ...env }, maxBuffer: 1 << 24,
  })
  return stdout
}

/** An API user with a rate and quota that do not limit the bench (`api users add`). */
export async function apiUser(databaseUrl: string, name: string, rate = 1_000_000): Promise<{ user: string; password: string }> {
  const out = await cli(databaseUrl, ['api', 'users', 'add', name, '--rate', String(rate), '--quota', '1000000000000', '--json'])
  return JSON.parse(out.trim().split('\n').at(-1)!)
}

export interface Service {
  readonly child: ChildProcess
  readonly port: number
  readonly origin: string
  /** ms from spawn to the ready line, and to the first /healthz 200 (index loaded). */
  readonly listeningMs: number
  readonly readyMs: number
  rssMiB(): Promise<number>
  stop(): Promise<void>
}

/** `arachnid api --port 0` on the database, as a user starts it (node + tsx, no pnpm in between, so the pid is the service's). */
export async function startService(databaseUrl: string, env: Record<string, string> = {}): Promise<Service> {
  const started = performance.now()
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/main.ts', 'api', '--port', '0', '--host', '127.0.0.1'], {
    cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /http:\/\/[^\s:]+:(\d+)/.exec(stderr)
      if (m) { clearInterval(timer); resolve(Number(m[1])) }
      if (child.exitCode !== null) { clearInterval(timer); reject(new Error(`arachnid api exited: ${stderr}`)) }
    }, 20)
  })
  const listeningMs = performance.now() - started
  const origin = `http://127.0.0.1:${port}`
  for (;;) {
    const ok = await fetch(`${origin}/healthz`).then((r) => r.status === 200, () => false)
    if (ok) break
    if (child.exitCode !== null) throw new Error(`arachnid api exited: ${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const readyMs = performance.now() - started
  return {
    child, port, origin, listeningMs, readyMs,
    rssMiB: () => rssMiB(child.pid!),
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Resident memory of a process, from /proc. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

/** The q-quantile (0..1) of some numbers. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/** Runs `tasks` by `clients` lanes at once; returns the wall time in seconds and each task's latency in ms. */
export async function lanes<T>(tasks: readonly T[], clients: number, work: (task: T) => Promise<void>): Promise<{ seconds: number; latencies: number[] }> {
  const latencies: number[] = []
  let next = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < tasks.length) {
      const task = tasks[next++]!
      const t = performance.now()
      await work(task)
      latencies.push(performance.now() - t)
    }
  }))
  return { seconds: (performance.now() - start) / 1000, latencies }
}
