import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ArachnidDatabase, type DialectName, openDatabase } from '@arachnid/core'
import { openTestDatabase, type TestDatabase } from './databases.js'

/** The repository root: where a user types `pnpm arachnid ...`. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** What one `pnpm arachnid ...` process did. */
export interface CliResult {
  /** Exit code (null when a signal ended it). */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  /** Everything on stderr, pnpm's own lines included. */
  readonly stderr: string
  /** stderr without pnpm's lines (its `$ tsx ...` echo and its ELIFECYCLE note): what arachnid itself wrote. */
  readonly errors: string
}

export interface CliOptions {
  /** Extra environment for this process (on top of the environment's own). */
  readonly env?: Readonly<Record<string, string>>
  /** Written to stdin, which is then closed. Without it stdin is closed at once. */
  readonly input?: string
  /**
   * The process group is killed (SIGKILL) after this long: a backstop for a process a failed test
   * left behind, not a test's deadline (its own timeout is). Default 15 minutes, the longest test's
   * timeout: a server started in beforeAll lives through every test of its file, and under CI's load
   * a shorter default killed one in the middle (the service of cli-list-sharing at 120 s).
   */
  readonly timeoutMs?: number
}

/** pnpm's own stderr lines around a script, which are not the command's output. */
const PNPM_LINE = /^(\$ node scripts\/arachnid\.mjs.*|\[?ELIFECYCLE\]?.*|\s*ERR_PNPM_\S+.*)$/

export function withoutPnpmLines(stderr: string): string {
  return stderr.split('\n').filter((line) => !PNPM_LINE.test(line)).join('\n')
}

/**
 * A running `pnpm arachnid ...` in its own process group, so a signal reaches pnpm and the node
 * process under it together, as Ctrl-C in a terminal does.
 */
export class CliProcess {
  readonly child: ChildProcess
  readonly exited: Promise<CliResult>
  #stdout = ''
  #stderr = ''

  constructor(child: ChildProcess, timeoutMs: number) {
    this.child = child
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { this.#stdout += chunk })
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.#stderr += chunk })
    const timer = setTimeout(() => this.signal('SIGKILL'), timeoutMs)
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        resolve({ code, signal, stdout: this.#stdout, stderr: this.#stderr, errors: withoutPnpmLines(this.#stderr) })
      })
    })
  }

  get stdout(): string {
    return this.#stdout
  }

  get stderr(): string {
    return this.#stderr
  }

  /** Sends a signal to the whole process group (pnpm, tsx and the command). */
  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, signal)
    } catch {
      // Already gone.
    }
  }

  /** Waits until stdout or stderr holds a match of `pattern`; returns the match. Fails if the process exits first. */
  async waitFor(pattern: RegExp, options: { readonly stream?: 'stdout' | 'stderr'; readonly timeoutMs?: number } = {}): Promise<RegExpExecArray> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000)
    let done = false
    void this.exited.then(() => { done = true })
    for (;;) {
      const text = options.stream === 'stdout' ? this.#stdout : options.stream === 'stderr' ? this.#stderr : `${this.#stdout}\n${this.#stderr}`
      const match = pattern.exec(text)
      if (match) return match
      if (done) throw new Error(`the process exited before printing ${pattern}:\nstdout: ${this.#stdout}\nstderr: ${this.#stderr}`)
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\nstdout: ${this.#stdout}\nstderr: ${this.#stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  /** Stops it (SIGTERM, then SIGKILL after `graceMs`) and returns what it did. */
  async stop(graceMs = 15_000): Promise<CliResult> {
    this.signal('SIGTERM')
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}

/**
 * One user's setup for the CLI on one dialect: an ARACHNID_HOME of its own and, for Postgres, a
 * fresh database of its own (DATABASE_URL). Commands run exactly as the README says, as
 * `pnpm arachnid ...` from the repository root, each a new process.
 */
export interface CliEnvironment {
  readonly dialect: DialectName
  /** ARACHNID_HOME of this environment. */
  readonly home: string
  /** DATABASE_URL ('' for the embedded database). */
  readonly databaseUrl: string
  /** The environment every command gets (ARACHNID_HOME, DATABASE_URL, SMTP_URL, LOG_LEVEL, and what was given). */
  readonly env: Readonly<Record<string, string>>
  /** Runs `pnpm arachnid ...args` to its end. */
  run(args: readonly string[], options?: CliOptions): Promise<CliResult>
  /** Starts `pnpm arachnid ...args` and returns at once (servers, workers, crawls to interrupt). */
  start(args: readonly string[], options?: CliOptions): CliProcess
  /** Runs a command that must succeed and prints one JSON value per line; returns the last line parsed. */
  json<T = any>(args: readonly string[], options?: CliOptions): Promise<T>
  /**
   * Opens the environment's database in this process for setup or checks (no CLI process may hold
   * the embedded database meanwhile), and closes it after `fn`.
   */
  withDatabase<T>(fn: (database: ArachnidDatabase) => Promise<T>): Promise<T>
  /** Drops the database and removes the home folder. */
  close(): Promise<void>
}

/** Settings of the machine running the tests that must not leak into the commands under test. */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue
    if (key.startsWith('ARACHNID_') || key === 'DATABASE_URL' || key === 'SMTP_URL' || key === 'LOG_LEVEL') continue
    // vitest's worker variables describe the test process, not a user's shell.
    if (key.startsWith('VITEST') || key === 'NODE_OPTIONS' || key === 'TINYPOOL_WORKER_ID') continue
    env[key] = value
  }
  return env
}

export async function openCliEnvironment(dialect: DialectName, options: { readonly env?: Readonly<Record<string, string>> } = {}): Promise<CliEnvironment> {
  const home = await mkdtemp(path.join(os.tmpdir(), `arachnid-cli-${dialect}-`))
  const pg: TestDatabase | undefined = dialect === 'postgres' ? await openTestDatabase('postgres') : undefined
  // The test's handle is only for creating the database; commands and checks open their own.
  const env: Record<string, string> = {
    ...cleanEnv(), ARACHNID_HOME: home, DATABASE_URL: pg?.url ?? '', SMTP_URL: '', LOG_LEVEL: 'warn', ...options.env,
  }
  /** What was started and has not exited: close() ends it before removing the home it writes to. */
  const live = new Set<CliProcess>()
  const start = (args: readonly string[], o: CliOptions = {}): CliProcess => {
    const child = spawn('pnpm', ['arachnid', ...args], {
      cwd: REPO_ROOT, env: { ...env, ...o.env }, detached: true, stdio: ['pipe', 'pipe', 'pipe'],
    })
    if (o.input !== undefined) child.stdin!.end(o.input)
    else child.stdin!.end()
    const started = new CliProcess(child, o.timeoutMs ?? 900_000)
    live.add(started)
    void started.exited.then(() => live.delete(started))
    return started
  }
  const run = (args: readonly string[], o: CliOptions = {}) => start(args, o).exited
  return {
    dialect, home, databaseUrl: env.DATABASE_URL!, env, start, run,
    async json(args, o) {
      const result = await run(args, o)
      if (result.code !== 0) throw new Error(`pnpm arachnid ${args.join(' ')} exited ${result.code}: ${result.errors}`)
      const lines = result.stdout.trim().split('\n')
      try {
        return JSON.parse(lines.at(-1)!)
      } catch {
        throw new Error(`pnpm arachnid ${args.join(' ')} printed no JSON: ${result.stdout}`)
      }
    },
    async withDatabase(fn) {
      const database = await openDatabase(pg ? { databaseUrl: pg.url!, poolSize: 2 } : { dataDir: path.join(home, 'db') })
      try {
        return await fn(database)
      } finally {
        await database.close()
      }
    },
    async close() {
      // A test that failed or timed out can leave a command running (a crawl writing to the embedded
      // database under home): killed first, else removing home races its writes (ENOTEMPTY).
      await Promise.all([...live].map((p) => p.stop(0)))
      await pg?.close().catch(() => {})
      await rm(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 })
    },
  }
}
