/**
 * Load on the matching service: `--connections` concurrent keep-alive connections (default 500)
 * calling it for `--seconds` (default 60), then stopping by themselves. Every 10th connection is a
 * user with a low rate (it must get 429s with Retry-After, which count as answers, not errors); the
 * others call the batch endpoint (100 probes of mixed algorithms), Shield's /v1/pdq/ (10 hashes)
 * and /healthz. Reports answers by status, every error other than 429 (must be 0), and the
 * service's RSS before, at its peak (sampled each second) and after. Loopback only.
 * Run from the repository root:
 *   pnpm tsx bench/api/load.ts [--connections 500] [--seconds 60] [--size 100000]
 * Postgres: TEST_POSTGRES_URL; the script creates and drops its own database.
 */
import { randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { apiUser, benchDatabase, loadList, makeList, makeProbes, rng, startService } from './service.js'

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '60' },
    size: { type: 'string', default: '100000' },
  },
})
const CONNECTIONS = Number(values.connections)
const SECONDS = Number(values.seconds)
const SIZE = Number(values.size)

async function main(): Promise<void> {
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  const next = rng(77)
  const list = makeList(SIZE, next)
  const pdq = makeProbes(list, SIZE, 10_000, next)
  const db = await benchDatabase('load')
  try {
    await loadList(db.handle, list, SIZE)
    const bulk = await apiUser(db.url, 'load-bulk')
    const limited = await apiUser(db.url, 'load-limited', 2)
    const service = await startService(db.url)
    const auth = (u: { user: string; password: string }) => `Basic ${Buffer.from(`${u.user}:${u.password}`).toString('base64')}`
    try {
      const rssBefore = await service.rssMiB()
      let rssPeak = rssBefore
      const sampler = setInterval(() => { void service.rssMiB().then((r) => { rssPeak = Math.max(rssPeak, r) }) }, 1000)
      const pool = new Pool(service.origin, { connections: CONNECTIONS, headersTimeout: 60_000, bodyTimeout: 60_000 })
      const statuses = new Map<string, number>()
      const errors = new Map<string, number>()
      const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1)
      let without429RetryAfter = 0
      /** Why the user without a low rate got 429s, if it did (its rate and quota are set far above the load). */
      const bulk429 = new Map<string, number>()
      const deadline = Date.now() + SECONDS * 1000
      let calls = 0
      await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
        const lowRate = c % 10 === 9
        const who = auth(lowRate ? limited : bulk)
        for (let i = 0; Date.now() < deadline; i++) {
          const kind = (c + i) % 10
          const [path, body] = kind === 0
            ? ['/healthz', undefined]
            : kind < 4
              ? ['/v1/pdq/', JSON.stringify({ hashes: Array.from({ length: 10 }, (_, k) => Buffer.from(pdq[(c * 31 + i * 10 + k) % pdq.length]!, 'hex').toString('base64')) })]
              : ['/api/v1/match', JSON.stringify({ probes: Array.from({ length: 100 }, (_, k) => (k % 4 === 0 ? `md5:${randomBytes(16).toString('hex')}` : { algorithm: 'pdq', hash: pdq[(c * 97 + i * 100 + k) % pdq.length]!, quality: 100 })) })]
          calls++
          try {
            const response = await pool.request({
              path, method: body ? 'POST' : 'GET', body,
              headers: body ? { authorization: who, 'content-type': 'application/json' } : {},
            })
            const text = await response.body.text()
            const label = `${response.statusCode} ${path}${response.statusCode === 429 ? (lowRate ? ' (low-rate user)' : ' (bulk user)') : ''}`
            count(statuses, label)
            if (response.statusCode === 429 && response.headers['retry-after'] === undefined) without429RetryAfter++
            if (response.statusCode === 429 && !lowRate) count(bulk429, text.slice(0, 160))
            if (response.statusCode !== 200 && response.statusCode !== 429) count(errors, `${label}: ${text.slice(0, 120)}`)
          } catch (error) {
            count(errors, `network: ${(error as { code?: string }).code ?? (error as Error).message}`)
          }
        }
      }))
      clearInterval(sampler)
      await pool.close()
      await new Promise((resolve) => setTimeout(resolve, 5000))
      const rssAfter = await service.rssMiB()
      const nonRateErrors = [...errors.values()].reduce((a, b) => a + b, 0)
      console.log(`\n${CONNECTIONS} connections for ${SECONDS} s against arachnid api (${SIZE.toLocaleString('en')} PDQ hashes): ${calls.toLocaleString('en')} calls, ${(calls / SECONDS).toFixed(0)}/s`)
      console.log('answers by status and endpoint:')
      for (const [k, v] of [...statuses].sort()) console.log(`  ${k}: ${v.toLocaleString('en')}`)
      console.log(`errors other than 429: ${nonRateErrors}${nonRateErrors ? '' : ' (none)'}`)
      for (const [k, v] of errors) console.log(`  ${v} x ${k}`)
      console.log(`429s without Retry-After: ${without429RetryAfter}`)
      for (const [k, v] of bulk429) console.log(`  bulk user's 429: ${v} x ${k}`)
      console.log(`service RSS: ${rssBefore.toFixed(0)} MiB before, ${rssPeak.toFixed(0)} MiB at peak, ${rssAfter.toFixed(0)} MiB 5 s after`)
      const health = await fetch(`${service.origin}/healthz`)
      console.log(`/healthz after the load: ${health.status}`)
      console.log(`load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
      if (nonRateErrors > 0 || health.status !== 200) process.exitCode = 1
    } finally {
      await service.stop()
    }
  } finally {
    await db.drop()
  }
}

await main()
