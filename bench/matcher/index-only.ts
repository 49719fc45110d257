/**
 * The perceptual index alone at a given size, without a database (the full bench, run.ts, imports
 * the list into Postgres first, which takes minutes at 10M): random 256-bit hashes, threshold 31,
 * 99% random probes and 1% planted within 3 bits of an entry. Prints the per-probe search as the
 * baseline, then the batched search on this thread and on 2 worker threads, with ratios, and
 * checks that every path finds the same hits (same probes, positions and distances).
 *
 * With the native kernel built (packages/matcher/native), each batched row is measured three
 * ways in the same process, in alternation over `rounds`: the TypeScript search on tables in
 * 4 KiB pages (the path without the kernel), the TypeScript search on the same tables in huge
 * pages, and the native kernel on those (what the index does with the kernel).
 *
 *   node --import tsx --max-old-space-size=8000 bench/matcher/index-only.ts [size] [probes] [rounds]
 */
import { HammingIndex } from '../../packages/matcher/src/index.js'
import { HammingThreads } from '../../packages/matcher/src/hamming-threads.js'
import { type BatchHits, type HammingTables, searchTablesNative, searchTablesTypeScript } from '../../packages/matcher/src/batched-search.js'
import { nativeKernel, nativeKernelStatus } from '../../packages/matcher/src/native/index.js'

const N = Number(process.argv[2] ?? 10_000_000)
const P = Number(process.argv[3] ?? 16_384)
const ROUNDS = Number(process.argv[4] ?? 2)
let seed = 12345
const rnd = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0 }
const words = new Uint32Array(N * 8)
for (let i = 0; i < words.length; i++) words[i] = rnd()
const mib = (n: number) => (n / 2 ** 20).toFixed(0)
console.log(`native kernel: ${nativeKernelStatus}`)

// The tables in 4 KiB pages: what the index had without the kernel (the kernel asks for huge pages).
let t = performance.now()
let plain: HammingIndex | undefined
if (nativeKernel !== undefined) {
  const advise = nativeKernel.adviseHugePages
  nativeKernel.adviseHugePages = () => false
  plain = await HammingIndex.build(words)
  nativeKernel.adviseHugePages = advise
  console.log(`size ${N}: build (4 KiB pages) ${((performance.now() - t) / 1000).toFixed(1)} s, rss ${mib(process.memoryUsage().rss)} MiB`)
  t = performance.now()
}
const index = await HammingIndex.build(words)
console.log(`size ${N}: build ${((performance.now() - t) / 1000).toFixed(1)} s, index ${mib(index.bytes)} MiB, rss ${mib(process.memoryUsage().rss)} MiB${plain ? ' (both indexes)' : ''}`)
const probes = new Uint32Array(P * 8)
for (let i = 0; i < probes.length; i++) probes[i] = rnd()
const planted = Math.ceil(P / 100)
for (let i = 0; i < planted; i++) {
  const j = rnd() % N
  for (let w = 0; w < 8; w++) probes[i * 8 + w] = words[j * 8 + w]! ^ (w === 0 ? 0x7 : 0)
}

const report = (what: string, n: number, ms: number, hits: number, base?: number) => {
  const rate = n / (ms / 1000)
  console.log(`${what.padEnd(48)} ${Math.round(rate).toString().padStart(7)} probes/s  hits ${hits}${base ? `  x${(rate / base).toFixed(1)}` : ''}`)
  return rate
}

// Baseline: one search per probe (what Matcher did before the batched search), on a sample.
const sample = Math.min(P, 2000)
t = performance.now()
let baseHits = 0
for (let i = 0; i < sample; i++) index.search(probes, i * 8, 31, () => { baseHits++ })
const base = report(`per-probe search (${sample} probes)`, sample, performance.now() - t, baseHits)

let expected: string | undefined
/** Every hit as "probe:position:distance" with the probe numbered in the whole run, in order. */
const check = (what: string, all: { from: number; hits: BatchHits }[]) => {
  const key = all.flatMap(({ from, hits }) => Array.from({ length: hits.length }, (_, x) => `${from + hits.probes[x]!}:${hits.positions[x]}:${hits.distances[x]}`)).join()
  if (expected === undefined) expected = key
  else if (key !== expected) throw new Error(`${what}: hits differ from the first path's`)
}
type Search = (tables: HammingTables, probes: Uint32Array, count: number) => BatchHits | Promise<BatchHits>
const paths: { name: string; tables: HammingTables; search: Search; threads?: HammingThreads }[] = []
const tsThreads = (() => {
  // Workers read ARACHNID_NATIVE when they start: this pool's never load the kernel.
  const saved = process.env.ARACHNID_NATIVE
  process.env.ARACHNID_NATIVE = '0'
  const threads = new HammingThreads(2)
  return { threads, start: async () => { await threads.search(index.tables, probes.subarray(0, 8 * 4096), 4096, 31); if (saved === undefined) delete process.env.ARACHNID_NATIVE; else process.env.ARACHNID_NATIVE = saved } }
})()
await tsThreads.start()
const nativeThreads = new HammingThreads(2)
await nativeThreads.search(index.tables, probes.subarray(0, 8 * 4096), 4096, 31)
const ts: Search = (tb, p, n) => searchTablesTypeScript(tb, p, n, 31)
const nat: Search = (tb, p, n) => searchTablesNative(tb, p, n, 31)
const inTs: Search = (tb, p, n) => tsThreads.threads.search(tb, p, n, 31)
const inNative: Search = (tb, p, n) => nativeThreads.search(tb, p, n, 31)
for (const batch of [4096, 16384]) {
  if (plain) paths.push({ name: `TS, this thread, 4K pages, batch ${batch}`, tables: plain.tables, search: ts })
  paths.push({ name: `TS, this thread${plain ? ', huge pages' : ''}, batch ${batch}`, tables: index.tables, search: ts })
  if (nativeKernel) paths.push({ name: `native, this thread, batch ${batch}`, tables: index.tables, search: nat })
}
for (const batch of [4096, 16384]) {
  if (plain) paths.push({ name: `TS, 2 workers, 4K pages, batch ${batch}`, tables: plain.tables, search: inTs })
  paths.push({ name: `TS, 2 workers${plain ? ', huge pages' : ''}, batch ${batch}`, tables: index.tables, search: inTs })
  if (nativeKernel) paths.push({ name: `native, 2 workers, batch ${batch}`, tables: index.tables, search: inNative })
}
const batchOf = (name: string) => Number(name.slice(name.lastIndexOf(' ') + 1))
const rates = new Map<string, number[]>()
for (let round = 1; round <= ROUNDS; round++) {
  console.log(`round ${round} (load ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')})`)
  for (const path of paths) {
    const batch = batchOf(path.name)
    const all: { from: number; hits: BatchHits }[] = []
    t = performance.now()
    for (let from = 0; from < P; from += batch) all.push({ from, hits: await path.search(path.tables, probes.subarray(from * 8, Math.min(P, from + batch) * 8), Math.min(batch, P - from)) })
    const rate = report(path.name, P, performance.now() - t, all.reduce((n, h) => n + h.hits.length, 0), base)
    check(path.name, all)
    rates.set(path.name, [...(rates.get(path.name) ?? []), rate])
  }
}
console.log(`rss ${mib(process.memoryUsage().rss)} MiB`)
console.log('mean over rounds, and ratio to the first path of the same batch and thread count:')
for (const path of paths) {
  const mean = (name: string) => rates.get(name)!.reduce((a, b) => a + b, 0) / ROUNDS
  const first = paths.find((p) => batchOf(p.name) === batchOf(path.name) && p.name.includes('workers') === path.name.includes('workers'))!
  console.log(`  ${path.name.padEnd(48)} ${Math.round(mean(path.name)).toString().padStart(7)} probes/s  x${(mean(path.name) / mean(first.name)).toFixed(2)}`)
}
await tsThreads.threads.close()
await nativeThreads.close()
