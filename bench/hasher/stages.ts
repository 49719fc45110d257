/**
 * Where the CPU of one 1024x768 JPEG goes, stage by stage, each stage run alone over the same
 * inputs (one at a time, so process CPU is the stage's own): pnpm tsx bench/hasher/stages.ts [--rounds N]
 */
import { createHash } from 'node:crypto'
import { loadavg } from 'node:os'
import { createRequire } from 'node:module'
import { blockhash256 } from '../../packages/hasher/src/blockhash.js'
import { decodeImage } from '../../packages/hasher/src/decode-image.js'
import { resolveHashOptions } from '../../packages/hasher/src/hash-options.js'
import { hashImage } from '../../packages/hasher/src/hash-image.js'
import { pdqHash } from '../../packages/hasher/src/pdq-hash.js'
import type { Pixels } from '../../packages/hasher/src/pixels.js'
import { texturedImage } from '../../packages/hasher/test/support/textured-image.js'

// sharp as the hasher package resolves it (the repository root has no dependency on it).
const sharp = createRequire(new URL('../../packages/hasher/package.json', import.meta.url))('sharp') as typeof import('../../packages/hasher/node_modules/sharp/dist/index.mjs').default
const args = new Map(process.argv.slice(2).map((a, i, all) => [a, all[i + 1]]))
const ROUNDS = Number(args.get('--rounds') ?? 3)
const options = resolveHashOptions({})
const jpegs = await Promise.all(Array.from({ length: 32 }, (_, i) => texturedImage(1024, 768, 1 + i, 'jpeg')))
const decoded: Pixels[] = []
for (const b of jpegs) decoded.push((await decodeImage(b, options)).first)

async function stage(name: string, work: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < 8; i++) await work(i % jpegs.length)
  const samples: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const cpu = process.cpuUsage()
    for (let i = 0; i < jpegs.length; i++) await work(i)
    const used = process.cpuUsage(cpu)
    samples.push((used.user + used.system) / 1000 / jpegs.length)
  }
  console.log(`${name.padEnd(34)} ${samples.map((s) => s.toFixed(2)).join(' / ')} ms CPU per image`)
}

console.log(`load average: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
if (!args.has('--decode-variants') && !args.has('--kernels')) {
await stage('digests (sha256+md5+sha1)', (i) => {
  const b = jpegs[i]!
  return [createHash('sha256').update(b).digest('hex'), createHash('md5').update(b).digest('hex'), createHash('sha1').update(b).digest('hex')]
})
await stage('sharp metadata()', (i) => sharp(jpegs[i]!).metadata())
await stage('decodeImage (metadata + raw RGB)', (i) => decodeImage(jpegs[i]!, options))
await stage('sharp raw RGB alone', (i) => sharp(jpegs[i]!, { sequentialRead: true }).raw().toBuffer())
await stage('pdqHash (default)', (i) => pdqHash(decoded[i]!))
await stage('pdqHash (exact: false)', (i) => pdqHash(decoded[i]!, { exact: false }))
await stage('blockhash256', (i) => blockhash256(decoded[i]!, 2))
await stage('hashImage (all, one at a time)', (i) => hashImage(jpegs[i]!))
}

if (args.has('--decode-variants')) {
  const raw = (i: number) => sharp(jpegs[i]!, { failOn: 'error', ignoreIcc: true, autoOrient: true, sequentialRead: true }).toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer()
  const plain = (i: number) => sharp(jpegs[i]!).raw().toBuffer()
  console.log(`sharp.concurrency() = ${sharp.concurrency()}, cache ${JSON.stringify(sharp.cache())}`)
  for (let round = 0; round < 2; round++) {
    await stage('decode as decodeImage pipeline', raw)
    await stage('decode plain raw', plain)
    const before = sharp.concurrency()
    sharp.concurrency(1)
    await stage('decode pipeline, concurrency 1', raw)
    sharp.concurrency(before)
    sharp.cache(false)
    await stage('decode pipeline, cache off', raw)
    sharp.cache(true)
  }
}

if (args.has('--kernels')) {
  const { foldedScan } = await import('../../packages/hasher/src/folded-scan.js')
  const { foldedSums } = await import('../../packages/hasher/src/pdq-hash.js')
  for (let round = 0; round < 2; round++) {
    await stage('foldedSums (float, per byte)', (i) => foldedSums(decoded[i]!))
    await stage('foldedScan (PDQ only)', (i) => foldedScan(decoded[i]!, false))
    await stage('foldedScan (PDQ + blockhash sums)', (i) => foldedScan(decoded[i]!, true))
    await stage('blockhash256', (i) => blockhash256(decoded[i]!, 2))
  }
}
