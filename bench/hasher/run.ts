/**
 * Hasher throughput: a naive baseline against hashImage and the Hasher pool, in one run, on the
 * same in-memory images. Run from the repository root: pnpm tsx bench/hasher/run.ts [--rounds N]
 *
 * Images are benign and synthetic (shapes over low-frequency noise, so PDQ quality is 100), made
 * in memory; nothing is written to disk.
 *
 * --hasher DIR runs the hasher sources in DIR instead (a copy of an earlier packages/hasher/src,
 * with that package's node_modules beside it), to compare versions in alternation; --no-naive
 * skips the naive baseline and --sets jpeg keeps only the JPEG set; --in-flight N sets the inputs in
 * flight (default 4, as the Hasher's default concurrency).
 */
import { availableParallelism, loadavg } from 'node:os'
import { pathToFileURL } from 'node:url'
import * as current from '../../packages/hasher/src/index.js'
import { nativeDecodeInUse, nativeDecodeStatus, useNativeDecode } from '../../packages/hasher/src/native-decode.js'
import { startSyntheticSite } from '../../packages/synthetic/src/index.js'
import { naiveHash, sharpVersions } from '../../packages/hasher/test/support/naive-hash.js'
import { texturedImage, type SyntheticFormat } from '../../packages/hasher/test/support/textured-image.js'

const args = new Map(process.argv.slice(2).map((a, i, all) => [a, all[i + 1]]))
const ROUNDS = Number(args.get('--rounds') ?? 3)
const HASHER_DIR = args.get('--hasher')
const NAIVE = !args.has('--no-naive')
const SETS = (args.get('--sets') ?? 'jpeg,mix,site').split(',')
const { Hasher, hashImage } = (HASHER_DIR === undefined ? current : await import(pathToFileURL(`${HASHER_DIR}/index.ts`).href)) as typeof current
const JPEGS = 64
const CONCURRENCY = Number(args.get('--in-flight') ?? 4)

let peakRss = 0
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20)

/** Runs `work` over the inputs `rounds` times with at most CONCURRENCY in flight; returns images/s and CPU ms per image. */
async function measure(inputs: Buffer[], rounds: number, work: (bytes: Buffer) => Promise<unknown>): Promise<{ perSecond: number; cpuMs: number }> {
  // Warm-up, one whole pass as timed (JIT, thread pool, workers): with only a few images, the
  // method timed first paid for the JIT and measured 2-3 ms more CPU per image than the others.
  let warm = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (warm < inputs.length) await work(inputs[warm++]!)
  }))
  const cpu = process.cpuUsage()
  const start = performance.now()
  let next = 0
  const total = inputs.length * rounds
  const lane = async (): Promise<void> => {
    while (next < total) await work(inputs[next++ % inputs.length]!)
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, lane))
  const seconds = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  return { perSecond: total / seconds, cpuMs: (used.user + used.system) / 1000 / total }
}

async function makeSet(format: SyntheticFormat, count: number, width: number, height: number, seed: number): Promise<Buffer[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => texturedImage(width, height, seed + i, format)))
}

console.log(`hasher bench: ${availableParallelism()} cores, node ${process.version}, sharp ${sharpVersions.sharp}, libvips ${sharpVersions.vips}`)
console.log(`hasher sources: ${HASHER_DIR ?? 'packages/hasher/src'}`)
console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other processes share this machine)`)
const jpegs = await makeSet('jpeg', JPEGS, 1024, 768, 1)
const mixed = !SETS.includes('mix') ? [] : [
  ...(await makeSet('png', 12, 1024, 768, 101)),
  ...(await makeSet('webp', 12, 1024, 768, 201)),
  ...(await makeSet('gif', 12, 1024, 768, 301)),
  ...(await makeSet('jpeg', 12, 1000, 750, 401)), // sizes not divisible by 16: blockhash's precise path
]
// The crawl bench's images (bench/crawl): 400 of its synthetic site's, about 300x230, mostly JPEG
// with PNG, WebP and GIF, sizes not divisible by 16. Small images are where a decode's fixed costs
// (two native calls, libvips' pipeline) weigh most.
const siteImages: Buffer[] = []
if (SETS.includes('site')) {
  const site = await startSyntheticSite({ seed: 5, pages: 300, images: 900, badInputs: false })
  try {
    for (const image of site.manifest.images.slice(0, 400)) siteImages.push(Buffer.from(await site.imageBytes(image.url)))
  } finally {
    await site.close()
  }
}
const kib = (set: Buffer[]): string => (set.reduce((n, b) => n + b.length, 0) / set.length / 1024).toFixed(0)
console.log(`inputs: ${jpegs.length} JPEG 1024x768 (mean ${kib(jpegs)} KiB)${mixed.length > 0 ? `; mix of ${mixed.length}: PNG, WebP, GIF 1024x768 and JPEG 1000x750 (mean ${kib(mixed)} KiB)` : ''}${siteImages.length > 0 ? `; site: ${siteImages.length} of bench/crawl's (mean ${kib(siteImages)} KiB)` : ''}`)
// The native decode against sharp's, same run: a row with it turned off in this thread.
const SHARP_ROW = HASHER_DIR === undefined && nativeDecodeInUse()
console.log(`native decode: ${HASHER_DIR === undefined ? nativeDecodeStatus : 'as the sources in --hasher have it'}`)

// Same answers first: the comparison is only fair if both compute the same hashes.
for (const bytes of [...jpegs.slice(0, 4), ...mixed.filter((_, i) => i % 12 === 0), ...siteImages.filter((_, i) => i % 40 === 0)]) {
  const [a, b] = await Promise.all([naiveHash(bytes), hashImage(bytes)])
  if (a.blockhash !== b.blockhash || a.pdq !== b.pdq || a.sha256 !== b.sha256) throw new Error('naive and hasher disagree')
}
console.log(`pdq quality of the JPEGs: ${(await hashImage(jpegs[0]!)).pdqQuality}`)

const rows: Record<string, string | number>[] = []
const poolTwo = new Hasher({ workers: 2, concurrency: CONCURRENCY })
const poolZero = new Hasher({ concurrency: CONCURRENCY })
// The workers load tsx and compile the sources as they start (1-2 s of CPU): done before any timing,
// which counts the CPU of every thread of this process.
await Promise.all(jpegs.slice(0, 4).map((b) => poolTwo.hash(b)))
const sets = [['jpeg', 'JPEG 1024x768', jpegs, ROUNDS], ['mix', 'mix', mixed, Math.max(1, ROUNDS - 1)], ['site', 'site (bench/crawl)', siteImages, ROUNDS]] as const
for (const [setKey, setName, set, rounds] of sets) {
  if (!SETS.includes(setKey)) continue
  const naive = NAIVE ? await measure(set, rounds, naiveHash) : { perSecond: Number.NaN, cpuMs: Number.NaN }
  const single = await measure(set, rounds, (b) => hashImage(b))
  const inProcess = await measure(set, rounds, (b) => poolZero.hash(b))
  const workers = await measure(set, rounds, (b) => poolTwo.hash(b))
  let viaSharp: { perSecond: number; cpuMs: number } | undefined
  if (SHARP_ROW) {
    useNativeDecode(false)
    viaSharp = await measure(set, rounds, (b) => poolZero.hash(b))
    useNativeDecode(true)
  }
  const methods = [
    ...(NAIVE ? [['naive baseline', naive] as const] : []),
    ...(viaSharp ? [['Hasher (workers: 0), sharp decodes all', viaSharp] as const] : []),
    ['hashImage', single],
    ['Hasher (workers: 0, default)', inProcess],
    ['Hasher (workers: 2)', workers],
  ] as const
  for (const [name, r] of methods) {
    rows.push({
      inputs: setName,
      method: name,
      'images/s': Math.round(r.perSecond),
      'x naive': NAIVE ? (r.perSecond / naive.perSecond).toFixed(2) : '-',
      'x sharp decode': viaSharp ? (r.perSecond / viaSharp.perSecond).toFixed(2) : '-',
      'process CPU ms/image': r.cpuMs.toFixed(1),
    })
  }
}
await Promise.all([poolTwo.close(), poolZero.close()])
clearInterval(rssTimer)
console.table(rows)
console.log('(process CPU ms/image: all threads of this process, i.e. main, worker and libuv decode threads; on 2 idle cores the ceiling is about 2000 / that figure images/s.)')
console.log(`peak RSS: ${(peakRss / 2 ** 20).toFixed(0)} MiB; load average at end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
