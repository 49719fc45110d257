import { type ChildProcessByStdio, spawn } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'

/** Characters of stderr kept (the last ones): enough for ffmpeg's reason, never a flood. */
const STDERR_KEEP = 4096

/** Environment of ffmpeg and ffprobe: no proxy (the range server is on loopback), no locale surprises. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!/_proxy$/i.test(key)) env[key] = value
  env.LC_ALL = 'C'
  return env
}

/**
 * One ffmpeg/ffprobe run: fed `input` on stdin (or nothing), killed with SIGKILL when `deadline`
 * (epoch ms) passes or when `kill` is called with a reason. `exited` resolves with how it ended,
 * never rejects: the caller turns it into the right typed error. With `lateInput`, the child also
 * gets a pipe on fd 3 (`pipe:3` to ffmpeg) whose text is given later with `sendLate` (the
 * hasher's filter graph, known only once ffprobe has answered).
 */
export class BoundedProcess {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error; stderr: string; killedFor?: unknown }>
  #stderr = ''
  #killedFor: unknown
  readonly #timer: NodeJS.Timeout
  readonly #late: Writable | undefined

  constructor(path: string, args: readonly string[], input: Uint8Array | undefined, deadline: number, timeoutReason: () => unknown, options: { lateInput?: boolean } = {}) {
    const stdio = options.lateInput === true ? (['pipe', 'pipe', 'pipe', 'pipe'] as const) : (['pipe', 'pipe', 'pipe'] as const)
    this.child = spawn(path, args, { stdio: [...stdio], env: childEnv() }) as ChildProcessByStdio<Writable, Readable, Readable>
    if (options.lateInput === true) {
      this.#late = this.child.stdio[3] as Writable
      // A child that ended (or was killed) before reading it: EPIPE is expected.
      this.#late.on('error', () => {})
    }
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-STDERR_KEEP)
    })
    // ffmpeg may stop reading early (probe done, bound hit, bad input): EPIPE is expected.
    this.child.stdin.on('error', () => {})
    if (input !== undefined) this.child.stdin.end(input)
    else this.child.stdin.end()
    this.#timer = setTimeout(() => this.kill(timeoutReason()), Math.max(0, deadline - Date.now()))
    this.exited = new Promise((resolve) => {
      let spawnError: Error | undefined
      this.child.on('error', (error) => {
        spawnError = error
      })
      this.child.on('close', (code, signal) => {
        clearTimeout(this.#timer)
        resolve({ code, signal, stderr: this.#stderr, killedFor: this.#killedFor, ...(spawnError ? { spawnError } : {}) })
      })
    })
  }

  /** Writes `text` to fd 3 and closes it (once; the constructor must have been given `lateInput`). */
  sendLate(text: string): void {
    if (this.#late === undefined) throw new Error('sendLate: no late input pipe')
    this.#late.end(text)
  }

  /** Kills the process at once (SIGKILL); the first reason given is the one reported. */
  kill(reason: unknown): void {
    this.#killedFor ??= reason
    clearTimeout(this.#timer)
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
  }
}

/** ffmpeg's own lines, trimmed to what says why (its last error lines). */
export function ffmpegReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    // Neither the range server's one-time URL nor ffmpeg's object addresses mean anything to a reader.
    .map((l) => l.replace(/http:\/\/127\.0\.0\.1:\d+\/[\w-]+/g, 'input').replace(/ @ 0x[0-9a-f]+\]/g, ']').trim())
    .filter((l) => l !== '')
  return lines.slice(-3).join('; ').slice(0, 500) || 'no message'
}
