/**
 * The matching service against the in-process matcher, in one run, at each list size: the
 * in-process `Matcher` (the baseline: what each worker does without ARACHNID_MATCHER_URL), the
 * service's batch endpoint (`POST /api/v1/match`, through the workers' own RemoteMatcher) with 1
 * and 8 concurrent clients, Shield's `POST /v1/pdq/` with 1 and 8, and `POST /v1/media/` on
 * 1024x768 JPEGs; probes/s, p50/p99 per call, the service's RSS and its time from start to ready.
 * Run from the repository root:
 *   pnpm tsx bench/api/run.ts [--sizes 1000000,10000000] [--probes 20000] [--batch 1000] [--images 64]
 * Postgres: TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres); the bench
 * creates and drops its own database per size. PDQ data is synthetic random bits; the JPEGs are
 * synthetic benign pictures made in memory (nothing is written to disk).
 */
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { type KnownMatch, Matcher, type Probe, RemoteMatcher } from '../../packages/matcher/src/index.js'
import { generateImage } from '../../packages/synthetic/src/index.js'
import { THRESHOLD, apiUser, benchDatabase, lanes, loadList, makeList, makeProbes, quantile, rng, startService } from './service.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000,10000000' },
    probes: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '1000' },
    images: { type: 'string', default: '64' },
    'dihedral-probes': { type: 'string', default: '2000' },
  },
})
const SIZES = values.sizes.split(',').map(Number)
const PROBES = Number(values.probes)
const BATCH = Number(values.batch)
const IMAGES = Number(values.images)
const DIHEDRAL = Number(values['dihedral-probes'])
/** Worker-like probes per call: a crawl worker's batch of media, each PDQ with its 8 dihedral hashes. */
const DIHEDRAL_BATCH = 100

const rows: string[][] = []
const fmt = (n: number, digits = 0) => n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits })
function note(size: number, method: string, perSecond: number, unit: string, latencies: readonly number[], baseline: number | null | undefined, other = ''): void {
  // undefined: this row is the baseline; null: nothing in process to compare with.
  const ratio = baseline === undefined ? '1 (baseline)' : baseline === null ? '' : `${(perSecond / baseline).toFixed(2)}x`
  const row = [method, fmt(size), `${fmt(perSecond)} ${unit}`, ratio, `${fmt(quantile(latencies, 0.5), 1)} / ${fmt(quantile(latencies, 0.99), 1)}`, other]
  rows.push(row)
  console.log(`  ${row.join(' | ')}`)
}

/** A probe's matches as comparable text: list entry and distance (and dihedral transform), nearest first. */
const key = (found: readonly KnownMatch[]) => found.map((m) => `${m.knownHashId}:${m.distance}:${m.transform ?? ''}`).join(',')

async function benchSize(size: number, jpegs: readonly Uint8Array[]): Promise<void> {
  const next = rng(20240611 + size)
  console.log(`\n${fmt(size)} PDQ hashes (families), ${fmt(PROBES)} probes (1% planted 0..${THRESHOLD} bits from an entry), calls of ${BATCH}`)
  let t = performance.now()
  const list = makeList(size, next)
  const probes = makeProbes(list, size, PROBES, next)
  console.log(`  generated in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  const db = await benchDatabase(String(size))
  try {
    const loadS = await loadList(db.handle, list, size)
    console.log(`  loaded into Postgres (COPY) in ${loadS.toFixed(1)} s (${fmt(size / loadS)} rows/s)`)
    const batches: string[][] = []
    for (let i = 0; i < probes.length; i += BATCH) batches.push(probes.slice(i, i + BATCH))
    const asProbes = (batch: readonly string[]) => batch.map((hash) => ({ algorithm: 'pdq' as const, hash, quality: 100 }))
    // As a crawl worker sends them: each image's PDQ with its 8 dihedral hashes (9 hashes a probe).
    const nine = makeProbes(list, size, DIHEDRAL * 9, next)
    const dihedralBatches: Probe[][] = []
    for (let i = 0; i < DIHEDRAL; i += DIHEDRAL_BATCH) {
      dihedralBatches.push(Array.from({ length: Math.min(DIHEDRAL_BATCH, DIHEDRAL - i) }, (_, k) => {
        const at = (i + k) * 9
        return { algorithm: 'pdq' as const, hash: nine[at]!, quality: 100, dihedral: nine.slice(at + 1, at + 9) }
      }))
    }

    // Baseline: the in-process matcher, as a worker without the service matches.
    const rssBefore = process.memoryUsage().rss
    let matcher: Matcher | undefined = new Matcher(db.handle.db, { pdqThreshold: THRESHOLD })
    t = performance.now()
    await matcher.refresh()
    const localLoadS = (performance.now() - t) / 1000
    const localRss = (process.memoryUsage().rss - rssBefore) / 2 ** 20
    const expected = new Map<number, string>()
    // Every configuration gets the same two untimed calls first (JIT, threads, connections).
    const warmUp = async (match: (batch: readonly string[]) => Promise<unknown>) => { for (const b of batches.slice(0, 2)) await match(b) }
    await warmUp((b) => matcher!.match(asProbes(b)))
    const local = await lanes(batches.map((b, i) => [b, i] as const), 1, async ([batch, i]) => {
      const found = await matcher!.match(asProbes(batch))
      found.forEach((f, k) => expected.set(i * BATCH + k, key(f)))
    })
    const baseline = probes.length / local.seconds
    const withMatches = [...expected.values()].filter((k) => k !== '').length
    note(size, 'in-process Matcher (1 caller)', baseline, 'probes/s', local.latencies, undefined, `load ${localLoadS.toFixed(1)} s, +${fmt(localRss)} MiB RSS in the caller; ${withMatches} probes matched`)
    const expectedDihedral = new Map<number, string>()
    const localDihedral = await lanes(dihedralBatches.map((b, i) => [b, i] as const), 1, async ([batch, i]) => {
      const found = await matcher!.match(batch)
      found.forEach((f, k) => expectedDihedral.set(i * DIHEDRAL_BATCH + k, key(f)))
    })
    const dihedralBaseline = DIHEDRAL / localDihedral.seconds
    note(size, `in-process Matcher, worker-like calls (${DIHEDRAL_BATCH} PDQ + 8 dihedral each)`, dihedralBaseline, 'images/s', localDihedral.latencies, undefined,
      `${fmt(dihedralBaseline * 9)} hashes/s; ${[...expectedDihedral.values()].filter((k) => k !== '').length} images matched`)
    matcher = undefined
    ;(globalThis as { gc?: () => void }).gc?.()

    // The service, started as a user starts it.
    const user = await apiUser(db.url, 'bench')
    const service = await startService(db.url)
    try {
      const readyRss = await service.rssMiB()
      console.log(`  service: ready line after ${(service.listeningMs / 1000).toFixed(1)} s, /healthz 200 after ${(service.readyMs / 1000).toFixed(1)} s, RSS ${fmt(readyRss)} MiB`)
      rows.push([`service start to ready (/healthz 200)`, fmt(size), '', '', '', `${(service.readyMs / 1000).toFixed(1)} s (ready line ${(service.listeningMs / 1000).toFixed(1)} s), RSS ${fmt(readyRss)} MiB`])
      const url = `http://${encodeURIComponent(user.user)}:${encodeURIComponent(user.password)}@127.0.0.1:${service.port}`

      for (const clients of [1, 8]) {
        const remote = new RemoteMatcher(url, { connections: clients, maxWaitMs: 60_000 })
        let differ = 0
        await warmUp((b) => remote.match(asProbes(b)))
        const r = await lanes(batches.map((b, i) => [b, i] as const), clients, async ([batch, i]) => {
          const found = await remote.match(asProbes(batch))
          found.forEach((f, k) => { if (key(f) !== expected.get(i * BATCH + k)) differ++ })
        })
        await remote.close()
        note(size, `batch endpoint /api/v1/match, ${clients} client${clients > 1 ? 's' : ''} (RemoteMatcher)`, probes.length / r.seconds, 'probes/s', r.latencies, baseline,
          `${differ} of ${fmt(probes.length)} answers differ from in-process; RSS ${fmt(await service.rssMiB())} MiB`)
      }

      {
        const remote = new RemoteMatcher(url, { connections: 8, maxWaitMs: 60_000 })
        let differ = 0
        const r = await lanes(dihedralBatches.map((b, i) => [b, i] as const), 8, async ([batch, i]) => {
          const found = await remote.match(batch)
          found.forEach((f, k) => { if (key(f) !== expectedDihedral.get(i * DIHEDRAL_BATCH + k)) differ++ })
        })
        await remote.close()
        note(size, `batch endpoint, worker-like calls (${DIHEDRAL_BATCH} PDQ + 8 dihedral each), 8 clients`, DIHEDRAL / r.seconds, 'images/s', r.latencies, dihedralBaseline,
          `${fmt((DIHEDRAL / r.seconds) * 9)} hashes/s; ${differ} of ${fmt(DIHEDRAL)} answers differ from in-process`)
      }

      const auth = `Basic ${Buffer.from(`${user.user}:${user.password}`).toString('base64')}`
      for (const clients of [1, 8]) {
        const pool = new Pool(service.origin, { connections: clients })
        let matched = 0
        let failed = 0
        const call = async (batch: readonly string[]) => {
          const hashes = batch.map((hex) => Buffer.from(hex, 'hex').toString('base64'))
          const response = await pool.request({ path: '/v1/pdq/', method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ hashes }) })
          const json = await response.body.json() as { scanned_hashes?: Record<string, { classification: string }> }
          return response.statusCode === 200 && json.scanned_hashes ? hashes.filter((h) => json.scanned_hashes![h]?.classification !== 'no-known-match').length : undefined
        }
        await warmUp(call)
        const r = await lanes(batches, clients, async (batch) => {
          const found = await call(batch)
          if (found === undefined) failed++
          else matched += found
        })
        await pool.close()
        note(size, `Shield /v1/pdq/, ${clients} client${clients > 1 ? 's' : ''}`, probes.length / r.seconds, 'probes/s', r.latencies, baseline,
          `${matched} matched (in-process: ${withMatches}), ${failed} calls failed`)
      }

      for (const clients of [1, 8]) {
        const pool = new Pool(service.origin, { connections: clients })
        let failed = 0
        let lastError = ''
        for (const jpeg of jpegs.slice(0, 2)) await (await pool.request({ path: '/v1/media/', method: 'POST', headers: { authorization: auth, 'content-type': 'image/jpeg' }, body: jpeg })).body.text()
        const r = await lanes(jpegs, clients, async (jpeg) => {
          const response = await pool.request({ path: '/v1/media/', method: 'POST', headers: { authorization: auth, 'content-type': 'image/jpeg' }, body: jpeg })
          const text = await response.body.text()
          if (response.statusCode !== 200) { failed++; lastError = `${response.statusCode} ${text.slice(0, 200)}` }
        })
        await pool.close()
        note(size, `Shield /v1/media/ 1024x768 JPEG, ${clients} client${clients > 1 ? 's' : ''}`, jpegs.length / r.seconds, 'images/s', r.latencies, null,
          `no in-process baseline (hashing, not matching, is the cost); ${failed} failed${lastError ? ` (${lastError})` : ''}; RSS ${fmt(await service.rssMiB())} MiB`)
      }
    } finally {
      await service.stop()
    }
  } finally {
    await db.drop()
  }
}

async function main(): Promise<void> {
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  const t = performance.now()
  const jpegs = await Promise.all(Array.from({ length: IMAGES }, (_, i) => generateImage({ seed: 9000 + i, width: 1024, height: 768, format: 'jpeg' })))
  console.log(`${IMAGES} synthetic 1024x768 JPEGs (${fmt(jpegs.reduce((n, j) => n + j.length, 0) / IMAGES / 1024)} KiB each) made in memory in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  for (const size of SIZES) await benchSize(size, jpegs)
  console.log(`\nload average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log('\n| method | list size | throughput | vs in-process | p50 / p99 ms per call | other |\n|---|---:|---:|---:|---:|---|')
  for (const r of rows) console.log(`| ${r.join(' | ')} |`)
  // The in-process matchers' search threads are unref'd, but nothing else should hold the run open either.
  process.exit(0)
}

await main()
