import net from 'node:net'
import { describe, expect, it } from 'vitest'
import { ConfigError, createLogger } from '@arachnid/core'
import { createWebApp, listen } from '@arachnid/web'

const quiet = () => createWebApp({ logger: createLogger({ level: 'silent' }) })

/** Real sockets: what listening does, and the one line a user gets when it cannot. */
describe('listen', () => {
  it('serves on a free port, and says in one line when the port is in use', async () => {
    const app = await quiet()
    app.get('/healthz', async () => ({ ok: true }))
    const port = await listen(app, { port: 0, host: '127.0.0.1', portHint: '--port or ARACHNID_SERVE_PORT' })
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({ ok: true })
      const second = await quiet()
      const error = await listen(second, { port, host: '127.0.0.1', portHint: '--port or ARACHNID_SERVE_PORT' }).catch((e: unknown) => e)
      await second.close()
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as Error).message).toBe(`cannot listen on 127.0.0.1:${port}: the port is in use (choose another with --port or ARACHNID_SERVE_PORT; 0 picks a free one)`)
    } finally {
      await app.close()
    }
    // Closed means closed: the port is free again.
    const probe = net.createServer()
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve))
    await new Promise<void>((resolve) => probe.close(() => resolve()))
  })

  it('names an address that is not this machine\'s', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
    const app = await quiet()
    const notOurs = await listen(app, { port: 0, host: '192.0.2.1', portHint: '--port', hostHint: '--host' }).catch((e: unknown) => e)
    await app.close()
    expect(notOurs).toBeInstanceOf(ConfigError)
    expect((notOurs as Error).message).toBe('cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this machine (see --host)')
  })
})
