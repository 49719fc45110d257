import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
let home: string

function start(args: string[], stdin?: string) {
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'packages/cli/src/main.ts'), ...args], {
    cwd: home, env: { ...process.env, ARACHNID_HOME: path.join(home, '.arachnid'), DATABASE_URL: '', SMTP_URL: '', LOG_LEVEL: 'warn' },
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  if (stdin !== undefined) child.stdin.end(stdin)
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)))
  return { child, exited, out: () => stdout, err: () => stderr }
}

beforeAll(async () => { home = await mkdtemp(path.join(os.tmpdir(), 'arachnid-review-cli-')) })
afterAll(async () => { await rm(home, { recursive: true, force: true }) })

/** The real CLI: an account created with the password on stdin, then `serve` answering a login with it. */
describe('arachnid analysts and serve', () => {
  it('creates an account from stdin, refuses a short password, and serves the review page that accepts it', async () => {
    const short = start(['analysts', 'add', 'alice', '--role', 'supervisor'], 'too short\n')
    expect(await short.exited).toBe(2)
    expect(short.err()).toMatch(/at least 12 characters/)
    const add = start(['analysts', 'add', 'alice', '--role', 'supervisor'], 'a passphrase long enough\n')
    expect(await add.exited).toBe(0)
    expect(add.out()).toBe('created alice (supervisor)\n')
    const policy = start(['analysts', 'policy', '--auto-pdq', '10', '--reason', 'test', '--json'])
    expect(await policy.exited).toBe(0)
    expect(JSON.parse(policy.out()).policy).toMatchObject({ autoPdqDistance: 10, autoBlockhashDistance: 12, autoExact: true })

    const serve = start(['serve', '--port', '0'])
    try {
      await expect.poll(() => serve.err(), { timeout: 30_000 }).toMatch(/review server: http:\/\/127\.0\.0\.1:\d+\//)
      const base = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(serve.err())![1]!
      expect((await fetch(`${base}/healthz`)).status).toBe(200)
      expect((await fetch(`${base}/api/queue`)).status).toBe(401)
      const login = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'alice', password: 'a passphrase long enough' }) })
      expect(login.status).toBe(200)
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!
      const audit = await fetch(`${base}/api/audit`, { headers: { cookie } })
      const actions = ((await audit.json()) as { entries: { action: string; actor: string }[] }).entries.map((e) => e.action)
      expect(actions).toEqual(['login', 'policy-change', 'analyst-add'])
    } finally {
      serve.child.kill('SIGTERM')
      expect(await serve.exited).toBe(0)
    }
  })
})
