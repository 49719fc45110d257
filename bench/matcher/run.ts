/**
 * Matcher at scale: a naive SQL scan, an in-memory brute force and the real matcher (on Postgres and
 * on PGlite), in one run, over a PDQ list that looks like a real collection (families of near
 * duplicates). Run from the repository root:
 *   pnpm tsx bench/matcher/run.ts [--size 1000000] [--probes 100000] [--pglite-size N] [--exact-size N]
 * Postgres: TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres); the bench
 * creates and drops its own database there. All data is synthetic random bits.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { type CopyFrom, type Database, type Kysely, openDatabase, sql } from '../../packages/core/src/index.js'
import { type BatchHits, HammingIndex, HammingThreads, Matcher, importList, hamming256 } from '../../packages/matcher/src/index.js'

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1000000' },
    probes: { type: 'string', default: '100000' },
    'pglite-size': { type: 'string' },
    'exact-size': { type: 'string' },
    'skip-pglite': { type: 'boolean', default: false },
  },
})
const SIZE = Number(values.size)
const PROBES = Number(values.probes)
const PGLITE_SIZE = Number(values['pglite-size'] ?? Math.min(SIZE, 1_000_000))
const EXACT_SIZE = Number(values['exact-size'] ?? Math.min(SIZE, 1_000_000))
const THRESHOLD = 31
const BATCH = 1000
const PG_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** Seeded xorshift32. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x }
}
const next = rng(20240611)

function flipBits(words: Uint32Array, at: number, bits: number): void {
  const used = new Set<number>()
  while (used.size < bits) used.add(next() & 255)
  for (const b of used) words[at + (b >> 5)]! ^= 1 << (31 - (b & 31))
}

/** Families: a root and 0..7 members 2..24 bits away from it (re-encodes, crops, edits of one image). */
function makeList(size: number): Uint32Array {
  const words = new Uint32Array(size * 8)
  let j = 0
  while (j < size) {
    const root = j
    for (let w = 0; w < 8; w++) words[j * 8 + w] = next()
    j++
    const members = next() % 8
    for (let m = 0; m < members && j < size; m++, j++) {
      words.copyWithin(j * 8, root * 8, root * 8 + 8)
      flipBits(words, j * 8, 2 + (next() % 23))
    }
  }
  return words
}

/** 99% uniform random probes, 1% planted 0..31 bits from a random list entry. */
function makeProbes(list: Uint32Array, size: number, count: number): { words: Uint32Array; planted: number[] } {
  const words = new Uint32Array(count * 8)
  const planted: number[] = []
  for (let p = 0; p < count; p++) {
    if (p % 100 === 0) {
      const j = next() % size
      words.set(list.subarray(j * 8, j * 8 + 8), p * 8)
      flipBits(words, p * 8, next() % (THRESHOLD + 1))
      planted.push(p)
    } else for (let w = 0; w < 8; w++) words[p * 8 + w] = next()
  }
  return { words, planted }
}

const hexOf = (words: Uint32Array, at: number) => {
  let s = ''
  for (let w = 0; w < 8; w++) s += words[at + w]!.toString(16).padStart(8, '0')
  return s
}

function* pdqCsv(list: Uint32Array, size: number): Generator<string> {
  for (let j = 0; j < size; j++) yield `${hexOf(list, j * 8)},100`
}

function bruteForce(list: Uint32Array, size: number, probe: Uint32Array, at: number): number[] {
  const out: number[] = []
  for (let j = 0; j < size; j++) if (hamming256(probe, at, list, j * 8) <= THRESHOLD) out.push(j)
  return out
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`
const rows: string[][] = []
const note = (method: string, size: number, probesPerS: string, recall: string, memory: string, other = '') => {
  rows.push([method, size.toLocaleString('en'), probesPerS, recall, memory, other])
  console.log(`  ${method}: ${probesPerS} probes/s, recall ${recall}, ${memory} ${other}`)
}

async function benchDialect(name: 'postgres' | 'pglite', db: Kysely<Database>, copyFrom: CopyFrom | undefined, list: Uint32Array, size: number, probes: { words: Uint32Array; planted: number[] }, truth: Map<number, number[]>): Promise<void> {
  console.log(`${name}: importing ${size.toLocaleString('en')} PDQ hashes`)
  let t = performance.now()
  await importList(db, { name: 'bench-pdq', format: 'pdq-csv', lines: pdqCsv(list, size), copyFrom })
  const importS = (performance.now() - t) / 1000
  console.log(`  import ${(size / importS).toFixed(0)} hashes/s (${importS.toFixed(1)} s)`)

  // Naive SQL scan on a few probes: bit(256) xor + bit_count over every row.
  await sql`create table bench_naive as select id, ('x' || encode(hash, 'hex'))::bit(256) as h from known_hashes where algorithm = 'pdq'`.execute(db)
  const naiveProbes = probes.planted.slice(0, 3)
  t = performance.now()
  for (const p of naiveProbes) {
    await sql`select id from bench_naive where bit_count(h # ${`x${hexOf(probes.words, p * 8)}`}::bit(256)) <= ${THRESHOLD}`.execute(db)
  }
  const naiveMs = (performance.now() - t) / naiveProbes.length
  note(`naive SQL scan (${name}, bit(256) # and bit_count)`, size, (1000 / naiveMs).toFixed(1), 'n/a', '', `${naiveMs.toFixed(0)} ms/probe`)
  await sql`drop table bench_naive`.execute(db)

  const matcher = new Matcher(db, { pdqThreshold: THRESHOLD })
  const before = process.memoryUsage()
  t = performance.now()
  await matcher.refresh()
  const loadS = (performance.now() - t) / 1000
  const after = process.memoryUsage()
  const stats = matcher.stats()
  console.log(`  matcher load ${loadS.toFixed(1)} s, index ${mib(stats.indexBytes)}, RSS +${mib(after.rss - before.rss)}, heap ${mib(after.heapUsed)}`)

  const count = probes.words.length / 8
  const hexes = Array.from({ length: count }, (_, p) => hexOf(probes.words, p * 8))
  await matcher.match(hexes.slice(0, 10).map((hash) => ({ algorithm: 'pdq' as const, hash, quality: 100 }))) // start its threads outside the timing
  let recalled = 0
  let expected = 0
  let extra = 0
  t = performance.now()
  for (let i = 0; i < count; i += BATCH) {
    const batch = hexes.slice(i, i + BATCH)
    const results = await matcher.match(batch.map((hash) => ({ algorithm: 'pdq' as const, hash, quality: 100 })))
    results.forEach((found, k) => {
      const want = truth.get(i + k)
      if (want === undefined) return
      const got = new Set(found.map((m) => m.hash))
      const wantHex = new Set(want.map((j) => hexOf(list, j * 8)))
      expected += wantHex.size
      for (const h of wantHex) if (got.has(h)) recalled++
      for (const h of got) if (!wantHex.has(h)) extra++
    })
  }
  const matchS = (performance.now() - t) / 1000
  note(`Matcher PDQ (${name}, batched, 2 threads above 200k entries)`, size, (count / matchS).toFixed(0), `${(recalled / expected).toFixed(4)} (${recalled}/${expected}, ${extra} beyond)`,
    `index ${mib(stats.indexBytes)}, RSS ${mib(after.rss)}`, `load ${loadS.toFixed(1)} s, import ${(size / importS).toFixed(0)}/s`)

  // Exact: an MD5 list, probes 1% known.
  const md5s = Array.from({ length: EXACT_SIZE }, () => randomBytes(16).toString('hex'))
  t = performance.now()
  await importList(db, { name: 'bench-md5', format: 'md5-lines', lines: md5s, copyFrom })
  const exactImportS = (performance.now() - t) / 1000
  const exactProbes = Array.from({ length: Math.min(count, 100_000) }, (_, p) => (p % 100 === 0 ? md5s[next() % EXACT_SIZE]! : randomBytes(16).toString('hex')))
  let hits = 0
  t = performance.now()
  for (let i = 0; i < exactProbes.length; i += 5000) {
    const results = await matcher.match(exactProbes.slice(i, i + 5000).map((hash) => ({ algorithm: 'md5' as const, hash })))
    hits += results.filter((r) => r.length > 0).length
  }
  const exactS = (performance.now() - t) / 1000
  note(`Matcher exact md5 (${name}, batches of 5000)`, EXACT_SIZE, (exactProbes.length / exactS).toFixed(0), `${hits}/${exactProbes.length / 100} known found`, '', `import ${(EXACT_SIZE / exactImportS).toFixed(0)}/s`)

  // Time for a newly appended hash to be matchable, while matching goes on.
  const fresh = randomBytes(32).toString('hex')
  await matcher.refresh() // apply the md5 list's activation first, so only the append is timed
  const loadsBefore = matcher.stats().versionLoads
  await importList(db, { name: 'bench-pdq', format: 'pdq-csv', mode: 'append', lines: [`${fresh},100`] })
  t = performance.now()
  let polls = 0
  for (;;) {
    polls++
    const [found] = await matcher.match([{ algorithm: 'pdq', hash: fresh, quality: 100 }, ...hexes.slice(0, 63).map((hash) => ({ algorithm: 'pdq' as const, hash }))])
    if (found!.length > 0) break
  }
  const freshMs = performance.now() - t
  console.log(`  new hash matchable ${freshMs.toFixed(0)} ms after its append committed (${polls} match calls, whole-version loads during it: ${matcher.stats().versionLoads - loadsBefore})`)
  rows.push([`new hash matchable (${name})`, size.toLocaleString('en'), '', '', '', `${freshMs.toFixed(0)} ms after commit, no reload`])
  await matcher.close()
}

/** The batched search, batches of 1000 and 4096 probes, on this thread and on 2 worker threads: probes/s, p50/p99 per batch, recall on the truth sample. */
async function benchBatched(index: HammingIndex, probes: { words: Uint32Array }, truth: Map<number, number[]>, baseline: number): Promise<void> {
  const count = probes.words.length / 8
  const threads = new HammingThreads(2)
  await threads.search(index.tables, probes.words, 1, THRESHOLD) // start the workers outside the timing
  for (const [how, search] of [
    ['this thread', (w: Uint32Array, n: number) => Promise.resolve(index.searchBatch(w, n, THRESHOLD))],
    ['2 worker threads', (w: Uint32Array, n: number) => threads.search(index.tables, w, n, THRESHOLD)],
  ] as const) {
    for (const batch of [1000, 4096]) {
      const times: number[] = []
      let recalled = 0
      let expected = 0
      let extra = 0
      const t0 = performance.now()
      for (let from = 0; from < count; from += batch) {
        const n = Math.min(batch, count - from)
        const t = performance.now()
        const hits: BatchHits = await search(probes.words.subarray(from * 8, (from + n) * 8), n)
        times.push(performance.now() - t)
        const got = new Map<number, Set<number>>()
        for (let x = 0; x < hits.length; x++) {
          const p = from + hits.probes[x]!
          if (!got.has(p)) got.set(p, new Set())
          got.get(p)!.add(hits.positions[x]!)
        }
        for (let p = from; p < from + n; p++) {
          const want = truth.get(p)
          if (want === undefined) continue
          const g = got.get(p) ?? new Set()
          expected += want.length
          for (const j of want) if (g.has(j)) recalled++
          extra += g.size - want.filter((j) => g.has(j)).length
        }
      }
      const s = (performance.now() - t0) / 1000
      times.sort((a, b) => a - b)
      const pct = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(0)
      note(`HammingIndex alone, batched (${how}, batches of ${batch})`, SIZE, (count / s).toFixed(0),
        `${(recalled / expected).toFixed(4)} (${recalled}/${expected}, ${extra} beyond)`, `${mib(index.bytes)}, RSS ${mib(process.memoryUsage().rss)}`,
        `${(count / s / baseline).toFixed(1)}x per-probe; p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms per batch`)
    }
  }
  await threads.close()
}

async function main(): Promise<void> {
  console.log(`uptime: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log(`generating ${SIZE.toLocaleString('en')} PDQ hashes in families, ${PROBES.toLocaleString('en')} probes (1% planted 0..${THRESHOLD})`)
  const list = makeList(SIZE)
  const probes = makeProbes(list, SIZE, PROBES)

  // Ground truth by brute force: every planted probe and a sample of random ones.
  const truthIds = [...probes.planted, ...Array.from({ length: Math.min(200, PROBES) }, (_, i) => i * 100 + 1).filter((p) => p < PROBES)]
  const truth = new Map<number, number[]>()
  let t = performance.now()
  for (const p of truthIds) truth.set(p, bruteForce(list, SIZE, probes.words, p * 8))
  const bruteS = (performance.now() - t) / 1000
  note('in-memory brute force (Uint32Array, SWAR popcount)', SIZE, (truthIds.length / bruteS).toFixed(1), '1 (the reference)', mib(list.byteLength))

  // The index alone, no database: how the chunk width behaves at this size, then the batched search
  // (this thread, and worker threads) against the per-probe search as the baseline.
  let baseline = 0
  for (const chunkBits of [16, undefined]) {
    t = performance.now()
    const index = await HammingIndex.build(list, chunkBits ? { chunkBits } : {})
    const buildS = (performance.now() - t) / 1000
    t = performance.now()
    const n = Math.min(PROBES, 20_000)
    let found = 0
    for (let p = 0; p < n; p++) index.search(probes.words, p * 8, THRESHOLD, () => found++)
    const s = (performance.now() - t) / 1000
    if (chunkBits === undefined) baseline = n / s
    note(`HammingIndex alone, per-probe search, ${chunkBits ? `${chunkBits}-bit chunks` : 'default chunks'}`, SIZE, (n / s).toFixed(0), '', mib(index.bytes),
      `build ${buildS.toFixed(1)} s, RSS ${mib(process.memoryUsage().rss)}`)
    if (chunkBits === undefined) await benchBatched(index, probes, truth, baseline)
  }

  if (PG_URL) {
    const name = `arachnid_bench_${process.pid}`
    const admin = await openDatabase({ databaseUrl: PG_URL, migrate: false, poolSize: 1 })
    await sql.raw(`create database ${name}`).execute(admin.db)
    const url = new URL(PG_URL)
    url.pathname = `/${name}`
    const handle = await openDatabase({ databaseUrl: url.toString() })
    try {
      await benchDialect('postgres', handle.db, handle.copyFrom, list, SIZE, probes, truth)
    } finally {
      await handle.close()
      await sql.raw(`drop database if exists ${name} with (force)`).execute(admin.db)
      await admin.close()
    }
  }
  if (!values['skip-pglite']) {
    const handle = await openDatabase({})
    const truthSmall = new Map([...truth].map(([p, js]) => [p, js.filter((j) => j < PGLITE_SIZE)]))
    // Planted probes point at entries of the whole list; keep the ones PGlite's (smaller) list holds.
    try {
      await benchDialect('pglite', handle.db, handle.copyFrom, list, PGLITE_SIZE, probes, truthSmall)
    } finally {
      await handle.close()
    }
  }
  console.log(`uptime: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`)
  console.log('\n| method | list size | probes/s | recall vs brute force | memory | other |\n|---|---:|---:|---|---|---|')
  for (const r of rows) console.log(`| ${r.join(' | ')} |`)
}

await main()
