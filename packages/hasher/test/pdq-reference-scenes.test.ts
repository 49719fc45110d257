import { afterAll, describe, expect, it } from 'vitest'
import { hammingDistance } from '../src/index.js'
import { pdqHash, type PdqOptions } from '../src/pdq-hash.js'
import { expectedCsv } from './support/fixtures.js'
import { PDQ_SCENES, pixelDigest, renderScene } from './support/pdq-scenes.js'

/**
 * PDQ against the C++ reference on identical pixels: 136 benign synthetic scenes regenerated here
 * from their seeds (packages/synthetic), with the hashes the C++ reference gave for the same
 * pixels (test/fixtures/pdq/expected/cpp_reference_synthetic_scenes.csv, made by
 * bench/hasher/pdq-reference.ts). The default mode and the folded-only one must stay within 6
 * bits (both measure 0); `exact` must be identical, hash and quality.
 */
const GOAL = 6

interface Expected {
  digest: string
  hash: string
  quality: number
  cliHash: string
  cliQuality: number
}
const expected = new Map<string, Expected>(
  expectedCsv('cpp_reference_synthetic_scenes.csv').map(([scene = '', digest = '', hash = '', quality = '', cliHash = '', cliQuality = '']) => [
    scene,
    { digest, hash, quality: Number(quality), cliHash, cliQuality: Number(cliQuality) },
  ]),
)

const distances = new Map<string, number[]>()
function record(mode: string, d: number): void {
  distances.set(mode, [...(distances.get(mode) ?? []), d])
}
afterAll(() => {
  const rows = [...distances].map(([mode, ds]) => {
    const sorted = [...ds].sort((a, b) => a - b)
    return { mode, scenes: ds.length, median: sorted[(sorted.length - 1) >> 1], max: sorted.at(-1), 'over 6': ds.filter((d) => d > GOAL).length }
  })
  console.log('PDQ bits from the C++ reference on the synthetic scenes')
  console.table(rows)
})

describe('PDQ against the C++ reference on synthetic scenes (same pixels)', () => {
  it('the expected file covers every scene', () => {
    expect(PDQ_SCENES.length).toBeGreaterThanOrEqual(120)
    expect(new Set(expected.keys())).toEqual(new Set(PDQ_SCENES.map((s) => s.name)))
  })

  it('every scene: default and folded within 6 bits, exact identical, on the full image and after the command-line tool\'s 512x512 shrink', async () => {
    const modes: [string, PdqOptions, 'core' | 'cli', number][] = [
      ['default', {}, 'core', GOAL],
      ['folded only', { exact: false }, 'core', GOAL],
      ['exact', { exact: true }, 'core', 0],
      ['default + cliPreShrink', { cliPreShrink: true }, 'cli', GOAL],
      ['exact + cliPreShrink', { exact: true, cliPreShrink: true }, 'cli', 0],
    ]
    for (const scene of PDQ_SCENES) {
      const want = expected.get(scene.name)!
      const pixels = await renderScene(scene)
      // The expected hashes hold for these exact pixels; a different sharp/libvips may render others.
      expect(pixelDigest(pixels), `${scene.name}: rendered pixels changed (sharp/libvips?); regenerate the expected file with bench/hasher/pdq-reference.ts --write`).toBe(want.digest)
      for (const [mode, options, against, bound] of modes) {
        const got = pdqHash(pixels, options)
        const [hash, quality] = against === 'core' ? [want.hash, want.quality] : [want.cliHash, want.cliQuality]
        const d = hammingDistance(got.hash, hash)
        record(mode, d)
        expect(d, `${scene.name} ${mode}`).toBeLessThanOrEqual(bound)
        expect(Math.abs(got.quality - quality), `${scene.name} ${mode} quality`).toBeLessThanOrEqual(bound === 0 ? 0 : 1)
      }
    }
  })
})
