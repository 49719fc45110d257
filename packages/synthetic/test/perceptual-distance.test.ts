import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSyntheticSite } from '../src/index.js'
import type { SiteImage, SyntheticSite } from '../src/index.js'
import { blockhash256, hamming } from './perceptual.js'

/** Thresholds the defaults must meet under blockhash-256 (the figures measured are in README.md). */
const MAX_ALTERED_BITS = 12
const MIN_UNRELATED_BITS = 40

describe('perceptual distances on the default site', () => {
  let site: SyntheticSite
  const hashes = new Map<string, bigint>()
  const byUrl = new Map<string, SiteImage>()

  beforeAll(async () => {
    site = await startSyntheticSite()
    const images = site.manifest.images.filter((i) => i.kind !== 'bad' && i.duplicateOf === undefined)
    for (const image of images) {
      byUrl.set(image.url, image)
      hashes.set(image.url, await blockhash256(await site.imageBytes(image.url)))
    }
  }, 120_000)

  afterAll(async () => {
    await site?.close()
  })

  it('keeps every altered copy close to its known original', () => {
    const knownUrl = new Map(site.manifest.images.filter((i) => i.kind === 'known' && i.duplicateOf === undefined).map((i) => [i.baseId, i.url]))
    const altered = [...byUrl.values()].filter((i) => i.kind === 'altered')
    expect(altered.length).toBe(50)
    const byAlteration = new Map<string, number>()
    let max = 0
    for (const copy of altered) {
      const d = hamming(hashes.get(copy.url) as bigint, hashes.get(knownUrl.get(copy.baseId) as string) as bigint)
      max = Math.max(max, d)
      const key = copy.alteration as string
      byAlteration.set(key, Math.max(byAlteration.get(key) ?? 0, d))
    }
    console.log(`blockhash-256: max altered-to-original distance ${max} bits`, Object.fromEntries(byAlteration))
    expect(max).toBeLessThanOrEqual(MAX_ALTERED_BITS)
  })

  it('keeps every unrelated image far from every known image', () => {
    const known = [...byUrl.values()].filter((i) => i.kind === 'known')
    const unrelated = [...byUrl.values()].filter((i) => i.kind === 'unrelated')
    expect([known.length, unrelated.length]).toEqual([50, 450])
    let min = 256
    let sum = 0
    for (const k of known) {
      for (const u of unrelated) {
        const d = hamming(hashes.get(k.url) as bigint, hashes.get(u.url) as bigint)
        min = Math.min(min, d)
        sum += d
      }
    }
    console.log(`blockhash-256: min unrelated-to-known distance ${min} bits (mean ${(sum / (known.length * unrelated.length)).toFixed(1)})`)
    expect(min).toBeGreaterThanOrEqual(MIN_UNRELATED_BITS)
  })

  it('serves mirrors byte for byte as their originals', async () => {
    const mirrors = site.manifest.images.filter((i) => i.duplicateOf !== undefined)
    expect(mirrors.some((m) => m.kind === 'known')).toBe(true)
    for (const mirror of mirrors) {
      const a = await site.imageBytes(mirror.url)
      const b = await site.imageBytes(mirror.duplicateOf as string)
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true)
    }
  })

  it('yields the known originals exactly as served', async () => {
    let n = 0
    for await (const known of site.knownImages()) {
      const entry = byUrl.get(known.url)
      expect(entry?.kind).toBe('known')
      expect(entry?.baseId).toBe(known.id)
      expect(Buffer.from(known.bytes).equals(Buffer.from(await site.imageBytes(known.url)))).toBe(true)
      n++
    }
    expect(n).toBe(50)
  })
})
