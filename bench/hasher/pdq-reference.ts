/**
 * PDQ against the C++ reference on identical pixels: the conformance scenes
 * (packages/hasher/test/support/pdq-scenes.ts) and the PDQ fixtures, decoded once here and fed
 * as raw RGB to a driver of ours built against facebook/ThreatExchange pdq/cpp outside the
 * repository (see README.md, "PDQ against the C++ reference"; neither is kept here).
 *
 *   pnpm tsx bench/hasher/pdq-reference.ts --driver /tmp/pdqref/driver --cli-driver /tmp/pdqref/driver-cimg [--write] [--commit SHA]
 *
 * --write regenerates test/fixtures/pdq/expected/cpp_reference_synthetic_scenes.csv from the drivers'
 * output. Without drivers it only times pdqHash on the scenes, in each mode.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hammingDistance, type Pixels } from '../../packages/hasher/src/index.js'
import { pdqHash, type PdqOptions } from '../../packages/hasher/src/pdq-hash.js'
import { PDQ_SCENES, pixelDigest, renderScene, storedPixels } from '../../packages/hasher/test/support/pdq-scenes.js'

const args = new Map(process.argv.slice(2).map((a, i, all) => [a, all[i + 1]]))
const driver = args.get('--driver') ?? process.env.PDQ_REFERENCE_DRIVER
const write = process.argv.includes('--write')
/** A driver built with -DWITH_CIMG, run with 'resize512': pdq-photo-hasher's CImg pre-shrink first. */
const cliDriver = args.get('--cli-driver')
const refCommit = args.get('--commit') ?? 'baefb4ed67b6cdc1d4c82dbaef858d50866ac424'
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/pdq/', import.meta.url))
const EXPECTED = join(FIXTURES, 'expected', 'cpp_reference_synthetic_scenes.csv')

interface Item {
  name: string
  pixels: Pixels
}

function listImages(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listImages(join(dir, e.name)) : /\.(jpe?g|png|webp|gif)$/i.test(e.name) ? [join(dir, e.name)] : [],
  )
}

/** The fixtures' stored pixels (EXIF orientation not applied, as the C++ tool reads them), RGB. */
async function fixtureItems(): Promise<Item[]> {
  const items: Item[] = []
  for (const path of listImages(FIXTURES).sort()) {
    try {
      items.push({ name: relative(FIXTURES, path), pixels: await storedPixels(path) })
    } catch {
      // an undecodable fixture (e.g. a float TIFF) is skipped
    }
  }
  return items
}

/** Runs the driver over all items: one "hash quality dihedral..." line per item. */
function reference(driver: string, mode: string[], items: Item[]): { hash: string; quality: number }[] {
  const chunks: Uint8Array[] = []
  for (const { pixels } of items) {
    const header = new Uint32Array([pixels.width, pixels.height])
    chunks.push(new Uint8Array(header.buffer))
    const rgb = new Uint8Array(pixels.width * pixels.height * 3)
    for (let i = 0, p = 0; i < rgb.length; i += 3, p += pixels.channels) {
      rgb[i] = pixels.data[p]!
      rgb[i + 1] = pixels.data[p + 1]!
      rgb[i + 2] = pixels.data[p + 2]!
    }
    chunks.push(rgb)
  }
  const input = join(tmpdir(), `pdq-reference-${process.pid}.raw`)
  writeFileSync(input, Buffer.concat(chunks))
  const run = spawnSync('sh', ['-c', `"$0" "$@" < "${input}"`, driver, ...mode], { encoding: 'utf8', maxBuffer: 1 << 28 })
  if (run.status !== 0) throw new Error(`driver failed: ${run.stderr}`)
  return run.stdout.trim().split('\n').map((line) => {
    const [hash = '', quality = ''] = line.split(' ')
    return { hash, quality: Number(quality) }
  })
}

function summary(distances: number[]): string {
  const sorted = [...distances].sort((a, b) => a - b)
  const histogram = new Map<number, number>()
  for (const d of sorted) histogram.set(d, (histogram.get(d) ?? 0) + 1)
  return `n=${sorted.length} median=${sorted[(sorted.length - 1) >> 1]} max=${sorted.at(-1)} >6: ${sorted.filter((d) => d > 6).length}` +
    ` >10: ${sorted.filter((d) => d > 10).length}  histogram {bits: count} ${JSON.stringify(Object.fromEntries(histogram))}`
}

const scenes: Item[] = []
for (const scene of PDQ_SCENES) scenes.push({ name: scene.name, pixels: await renderScene(scene) })
const fixtures = await fixtureItems()
const totalPixels = scenes.reduce((n, s) => n + s.pixels.width * s.pixels.height, 0)

const MODES: Record<string, PdqOptions> = {
  folded: {},
  exact: { exact: true },
  'folded + cliPreShrink': { cliPreShrink: true },
  'exact + cliPreShrink': { exact: true, cliPreShrink: true },
}

// Time pdqHash over all scenes in each mode, in alternation (A B C D A B C D ...): the machine is shared.
const timings = new Map<string, number[]>()
for (let round = 0; round < 3; round++) {
  for (const [name, options] of Object.entries(MODES)) {
    const start = performance.now()
    for (const s of scenes) pdqHash(s.pixels, options)
    const ms = performance.now() - start
    if (round > 0) timings.set(name, [...(timings.get(name) ?? []), ms]) // round 0 warms the JIT
  }
}
console.log(`pdqHash on ${scenes.length} scenes (${(totalPixels / 1e6).toFixed(1)} Mpixel), ms per Mpixel per round:`)
for (const [name, runs] of timings) console.log(`  ${name.padEnd(22)} ${runs.map((ms) => ((ms / totalPixels) * 1e6).toFixed(2)).join(' ')}`)

function compare(label: string, items: Item[], ref: { hash: string; quality: number }[], options: PdqOptions, verbose = false): void {
  const ours = items.map((s) => pdqHash(s.pixels, options))
  const distances = items.map((_, i) => hammingDistance(ours[i]!.hash, ref[i]!.hash))
  const qualityGaps = items.map((_, i) => Math.abs(ours[i]!.quality - ref[i]!.quality))
  console.log(`${label}: ${summary(distances)}; quality differs on ${qualityGaps.filter((q) => q > 0).length} (max ${Math.max(...qualityGaps)})`)
  if (verbose) items.forEach((s, i) => distances[i]! > 6 && console.log(`    ${s.name}: ${distances[i]} bits (reference quality ${ref[i]!.quality})`))
}

const core = driver === undefined ? undefined : { scenes: reference(driver, [], scenes), fixtures: reference(driver, [], fixtures) }
if (core !== undefined) {
  console.log('-- against the reference hashing functions (pdqHash256FromFloatLuma) on the same pixels')
  for (const [name, options] of Object.entries(MODES).slice(0, 2)) {
    compare(`scenes, ${name}`, scenes, core.scenes, options)
    compare(`fixtures, ${name}`, fixtures, core.fixtures, options)
  }
}
const cli = cliDriver === undefined ? undefined : { scenes: reference(cliDriver, ['resize512'], scenes), fixtures: reference(cliDriver, ['resize512'], fixtures) }
if (cli !== undefined) {
  console.log('-- against the command-line tool\'s path (CImg nearest-neighbour shrink to 512x512 above 512, then the same functions)')
  for (const [name, options] of Object.entries(MODES)) {
    compare(`scenes, ${name}`, scenes, cli.scenes, options, name === 'folded')
    compare(`fixtures, ${name}`, fixtures, cli.fixtures, options, name === 'folded')
  }
}

if (write) {
  if (core === undefined || cli === undefined) throw new Error('--write needs --driver and --cli-driver')
  const lines = [
    `# C++ reference at ThreatExchange commit ${refCommit} (pdq/cpp, g++ -O3, x86-64) on scenes from packages/synthetic renderPixels with the seeds, sizes and noise of packages/hasher/test/support/pdq-scenes.ts, fed as raw RGB by a driver of ours built outside the repository; made by bench/hasher/pdq-reference.ts --write. pdq_hex, quality: fillFloatLumaFromRGB then pdqHash256FromFloatLuma on the pixels as rendered; cli_pdq_hex, cli_quality: the same after pdq-photo-hasher's CImg resize to 512x512 (nearest neighbour) of images over 512 on a side`,
    'scene,pixels_sha256_16,pdq_hex,quality,cli_pdq_hex,cli_quality',
    ...scenes.map((s, i) => `${s.name},${pixelDigest(s.pixels)},${core.scenes[i]!.hash},${core.scenes[i]!.quality},${cli.scenes[i]!.hash},${cli.scenes[i]!.quality}`),
  ]
  writeFileSync(EXPECTED, `${lines.join('\n')}\n`)
  console.log(`wrote ${EXPECTED}`)
}
