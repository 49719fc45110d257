import { describe, expect, it } from 'vitest'
import { startSyntheticSite } from '../src/index.js'
import type { SyntheticSite } from '../src/index.js'

const OPTIONS = { pages: 40, images: 80, oversizedBytes: 64 * 1024 } as const

/** Everything a site serves, keyed by path, with its own base URL blanked out. */
async function snapshot(site: SyntheticSite): Promise<{ manifest: string; bodies: Map<string, Buffer> }> {
  const base = site.manifest.baseUrl
  const bodies = new Map<string, Buffer>()
  const urls = [...site.manifest.pages, ...site.manifest.images.map((i) => i.url)]
  for (const url of urls) {
    const body = Buffer.from(await (await fetch(url)).arrayBuffer())
    const path = url.slice(base.length)
    bodies.set(path, url.endsWith('.html') || url.endsWith('/') ? Buffer.from(body.toString('utf8').replaceAll(base, 'BASE')) : body)
  }
  return { manifest: JSON.stringify(site.manifest).replaceAll(base, 'BASE'), bodies }
}

describe('determinism', () => {
  it('serves byte-identical sites for the same seed, and a different one for another seed', async () => {
    const [a, b, c] = await Promise.all([
      startSyntheticSite({ ...OPTIONS, seed: 42 }),
      startSyntheticSite({ ...OPTIONS, seed: 42 }),
      startSyntheticSite({ ...OPTIONS, seed: 43 }),
    ])
    try {
      expect(a.manifest.baseUrl).not.toBe(b.manifest.baseUrl)
      const sa = await snapshot(a)
      const sb = await snapshot(b)
      expect(sb.manifest).toBe(sa.manifest)
      expect(sb.bodies.size).toBe(sa.bodies.size)
      for (const [path, body] of sa.bodies) expect(sb.bodies.get(path)?.equals(body), path).toBe(true)

      const sc = await snapshot(c)
      expect(sc.manifest).not.toBe(sa.manifest)
      const first = a.manifest.images[0]?.url.slice(a.manifest.baseUrl.length) as string
      const other = c.manifest.images[0]?.url.slice(c.manifest.baseUrl.length) as string
      expect(sc.bodies.get(other)?.equals(sa.bodies.get(first) as Buffer)).toBe(false)
    } finally {
      await Promise.all([a.close(), b.close(), c.close()])
    }
  })

  it('regenerates identical bytes after the cache evicts them', async () => {
    const tiny = await startSyntheticSite({ ...OPTIONS, cacheBytes: 0 })
    const roomy = await startSyntheticSite(OPTIONS)
    try {
      for (const image of tiny.manifest.images.filter((i) => i.kind === 'altered')) {
        const path = image.url.slice(tiny.manifest.baseUrl.length)
        const a = await tiny.imageBytes(path)
        const again = await tiny.imageBytes(path)
        const b = await roomy.imageBytes(path)
        const cached = await roomy.imageBytes(path)
        expect(Buffer.from(a).equals(Buffer.from(b)), path).toBe(true)
        expect(Buffer.from(again).equals(Buffer.from(cached)), path).toBe(true)
      }
      // Without a cache every request draws again; with one, only the first.
      expect(tiny.stats.imagesGenerated).toBeGreaterThan(roomy.stats.imagesGenerated)
    } finally {
      await Promise.all([tiny.close(), roomy.close()])
    }
  })
})
