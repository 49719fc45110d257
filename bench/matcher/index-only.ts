/**
 * The perceptual index alone at a given size, without a database (the full bench, run.ts, imports
 * the list into Postgres first, which takes minutes at 10M): random 256-bit hashes, threshold 31,
 * 99% random probes and 1% planted within 3 bits of an entry. Prints the per-probe search as the
 * baseline, then the batched search on this thread and on 2 worker threads, with ratios, and
 * checks that every path finds the same hits.
 *
 *   node --import tsx --max-old-space-size=8000 bench/matcher/index-only.ts [size] [probes]
 */
import { HammingIndex } from '../../packages/matcher/src/index.js'
import { HammingThreads } from '../../packages/matcher/src/hamming-threads.js'

const N = Number(process.argv[2] ?? 10_000_000)
const P = Number(process.argv[3] ?? 16_384)
let seed = 12345
const rnd = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0 }
const words = new Uint32Array(N * 8)
for (let i = 0; i < words.length; i++) words[i] = rnd()
let t = performance.now()
const index = await HammingIndex.build(words)
console.log(`size ${N}: build ${((performance.now() - t) / 1000).toFixed(1)} s, index ${(index.bytes / 2 ** 20).toFixed(0)} MiB, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`)
const probes = new Uint32Array(P * 8)
for (let i = 0; i < probes.length; i++) probes[i] = rnd()
const planted = Math.ceil(P / 100)
for (let i = 0; i < planted; i++) {
  const j = rnd() % N
  for (let w = 0; w < 8; w++) probes[i * 8 + w] = words[j * 8 + w]! ^ (w === 0 ? 0x7 : 0)
}

const report = (what: string, n: number, ms: number, hits: number, base?: number) => {
  const rate = n / (ms / 1000)
  console.log(`${what.padEnd(34)} ${Math.round(rate).toString().padStart(7)} probes/s  hits ${hits}${base ? `  x${(rate / base).toFixed(1)}` : ''}`)
  return rate
}

// Baseline: one search per probe (what Matcher did before the batched search), on a sample.
const sample = Math.min(P, 2000)
t = performance.now()
let baseHits = 0
for (let i = 0; i < sample; i++) index.search(probes, i * 8, 31, () => { baseHits++ })
const base = report(`per-probe search (${sample} probes)`, sample, performance.now() - t, baseHits)

let expected = -1
const check = (hits: number) => {
  if (expected < 0) expected = hits
  else if (hits !== expected) throw new Error(`hits differ between paths: ${hits} vs ${expected}`)
}
for (const batch of [4096, 16384]) {
  t = performance.now()
  let hits = 0
  for (let from = 0; from < P; from += batch) hits += index.searchBatch(probes.subarray(from * 8, Math.min(P, from + batch) * 8), Math.min(batch, P - from), 31).length
  report(`batched, this thread, batch ${batch}`, P, performance.now() - t, hits, base)
  check(hits)
}
const threads = new HammingThreads(2)
await threads.search(index.tables, probes.subarray(0, 8 * 64), 64, 31)
for (const batch of [4096, 16384]) {
  t = performance.now()
  let hits = 0
  for (let from = 0; from < P; from += batch) hits += (await threads.search(index.tables, probes.subarray(from * 8, Math.min(P, from + batch) * 8), Math.min(batch, P - from), 31)).length
  report(`batched, 2 workers, batch ${batch}`, P, performance.now() - t, hits, base)
  check(hits)
}
await threads.close()
