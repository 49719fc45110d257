/**
 * Measures what README.md reports, for any seeds:
 *   pnpm tsx packages/synthetic/test/measure-distances.ts 1 2 3
 * Generation time of every image of the default site, then blockhash-256 distances: the largest
 * altered-to-original and the smallest unrelated-to-known.
 */
import { startSyntheticSite } from '../src/index.js'
import type { SiteOptions } from '../src/index.js'
import { blockhash256, hamming } from './perceptual.js'

const seeds = process.argv.slice(2).map(Number)
for (const seed of seeds.length > 0 ? seeds : [1]) {
  const options: SiteOptions = { seed }
  const started = performance.now()
  const site = await startSyntheticSite(options)
  const startup = performance.now() - started
  try {
    const images = site.manifest.images.filter((i) => i.kind !== 'bad' && i.duplicateOf === undefined)
    const t0 = performance.now()
    const bytes = await Promise.all(images.map((i) => site.imageBytes(i.url)))
    const generation = performance.now() - t0
    const hashes = await Promise.all(bytes.map((b) => blockhash256(b)))
    const hashOf = new Map(images.map((image, k) => [image.url, hashes[k] as bigint]))
    const known = images.filter((i) => i.kind === 'known')
    const knownHash = new Map(known.map((i) => [i.baseId, hashOf.get(i.url) as bigint]))
    const altered: Record<string, number> = {}
    for (const copy of images.filter((i) => i.kind === 'altered')) {
      const d = hamming(hashOf.get(copy.url) as bigint, knownHash.get(copy.baseId) as bigint)
      altered[copy.alteration as string] = Math.max(altered[copy.alteration as string] ?? 0, d)
    }
    let min = 256
    for (const u of images.filter((i) => i.kind === 'unrelated')) {
      for (const k of knownHash.values()) min = Math.min(min, hamming(hashOf.get(u.url) as bigint, k))
    }
    console.log(
      JSON.stringify({
        seed,
        startupMs: Math.round(startup),
        images: images.length,
        generationMs: Math.round(generation),
        maxAlteredBits: Math.max(...Object.values(altered)),
        maxAlteredBitsBy: altered,
        minUnrelatedBits: min,
      }),
    )
  } finally {
    await site.close()
  }
}
