import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliEnvironment, openCliEnvironment } from '@arachnid/test'

/** The real CLI: an account created with the password on stdin, then `serve` answering a login with it. */
describe('arachnid analysts and serve', () => {
  let cli: CliEnvironment
  beforeAll(async () => { cli = await openCliEnvironment('pglite') })
  afterAll(async () => { await cli?.close() })

  it('creates an account from stdin, refuses a short password, and serves the review page that accepts it', async () => {
    const short = await cli.run(['analysts', 'add', 'alice', '--role', 'supervisor'], { input: 'too short\n' })
    expect(short.code).toBe(2)
    expect(short.errors).toMatch(/at least 12 characters/)
    const add = await cli.run(['analysts', 'add', 'alice', '--role', 'supervisor'], { input: 'a passphrase long enough\n' })
    expect(add.code, add.stderr).toBe(0)
    expect(add.stdout).toBe('created alice (supervisor)\n')
    const policy = await cli.json(['analysts', 'policy', '--auto-pdq', '10', '--reason', 'test', '--json'])
    expect(policy.policy).toMatchObject({ autoPdqDistance: 10, autoBlockhashDistance: 12, autoExact: true })

    const serve = cli.start(['serve', '--port', '0'])
    try {
      const base = (await serve.waitFor(/review server: (http:\/\/127\.0\.0\.1:\d+)\//))[1]!
      expect((await fetch(`${base}/healthz`)).status).toBe(200)
      expect((await fetch(`${base}/api/queue`)).status).toBe(401)
      const login = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'alice', password: 'a passphrase long enough' }) })
      expect(login.status).toBe(200)
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!
      const audit = await fetch(`${base}/api/audit`, { headers: { cookie } })
      const actions = ((await audit.json()) as { entries: { action: string; actor: string }[] }).entries.map((e) => e.action)
      expect(actions).toEqual(['login', 'policy-change', 'analyst-add'])
    } finally {
      // The whole group gets SIGTERM, as Ctrl-C would: pnpm ends by the signal, the server quietly.
      expect((await serve.stop()).errors).not.toMatch(/Error|\n\s+at /)
    }
  }, 180_000)
})
