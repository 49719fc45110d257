import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_SITE_OPTIONS, REFERENCE_KINDS, resolveSiteOptions, startSyntheticSite } from '../src/index.js'
import type { SyntheticSite } from '../src/index.js'
import { planSite } from '../src/site-plan.js'
import { relativePath } from '../src/render-page.js'

/** Every URL a page references, resolved against the page URL, with the attribute it came from. */
function extractUrls(html: string, pageUrl: string): { url: string; attr: string }[] {
  const out: { url: string; attr: string }[] = []
  for (const m of html.matchAll(/\b(href|src|srcset|poster|content)="([^"]*)"/g)) {
    const attr = m[1] as string
    const value = (m[2] as string).replace(/&amp;/g, '&')
    const parts = attr === 'srcset' ? value.split(',').map((c) => c.trim().split(/\s+/)[0] as string) : [value]
    for (const part of parts) {
      if (part.startsWith('#') || part.startsWith('mailto:') || (attr === 'content' && !part.includes('/'))) continue
      out.push({ url: new URL(part, pageUrl).href, attr })
    }
  }
  return out
}

describe('synthetic site server', () => {
  let site: SyntheticSite

  beforeAll(async () => {
    site = await startSyntheticSite({ seed: 3, pages: 60, images: 120, oversizedBytes: 3 * 1024 * 1024 })
  })

  afterAll(async () => {
    await site?.close()
  })

  it('listens on loopback and serves robots.txt allowing all', async () => {
    expect(site.manifest.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const res = await fetch(`${site.manifest.baseUrl}/robots.txt`)
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('User-agent: *\nAllow: /\n')
  })

  it('serves every image of the manifest with its type, length and ETag', async () => {
    for (const image of site.manifest.images) {
      const res = await fetch(image.url)
      expect(res.status, image.url).toBe(200)
      expect(res.headers.get('content-type')).toBe(image.contentType)
      const body = new Uint8Array(await res.arrayBuffer())
      expect(Number(res.headers.get('content-length'))).toBe(body.length)
      const etag = res.headers.get('etag')
      expect(etag).toMatch(/^".+"$/)
      if (image.kind !== 'bad') {
        const meta = await sharp(body).metadata()
        expect(meta.format === 'jpeg' ? 'jpeg' : meta.format).toBe(image.format)
        const again = await fetch(image.url, { headers: { 'if-none-match': etag as string } })
        expect(again.status).toBe(304)
      }
    }
  })

  it('serves the bad inputs as described', async () => {
    const bad = new Map(site.manifest.images.filter((i) => i.kind === 'bad').map((i) => [i.badReason, i]))
    expect([...bad.keys()].sort()).toEqual(['empty', 'not-image', 'oversized', 'pixel-flood', 'truncated'])
    const bytes = async (reason: string): Promise<Uint8Array> => new Uint8Array(await (await fetch(bad.get(reason as never)?.url as string)).arrayBuffer())
    expect((await bytes('empty')).length).toBe(0)
    expect(new TextDecoder().decode(await bytes('not-image'))).toContain('<html>')
    await expect(sharp(await bytes('truncated')).raw().toBuffer()).rejects.toThrow()
    await expect(sharp(await bytes('pixel-flood')).raw().toBuffer()).rejects.toThrow()
    expect((await bytes('oversized')).length).toBe(3 * 1024 * 1024)
    for (const image of bad.values()) expect(image.pages).toEqual([`${site.manifest.baseUrl}/bad.html`])
  })

  it('declares 40 MiB for the default oversized input, and stops streaming when the client leaves', async () => {
    const big = await startSyntheticSite({ pages: 2, images: 2 })
    try {
      const url = big.manifest.images.find((i) => i.badReason === 'oversized')?.url as string
      const head = await fetch(url, { method: 'HEAD' })
      expect(head.headers.get('content-length')).toBe(String(DEFAULT_SITE_OPTIONS.oversizedBytes))
      const res = await fetch(url)
      const reader = (res.body as ReadableStream<Uint8Array>).getReader()
      const first = await reader.read()
      expect(first.value?.[0]).toBe(0xff) // JPEG SOI
      await reader.cancel()
    } finally {
      await big.close()
    }
  })

  it('answers 404 to unknown paths and 405 to other methods', async () => {
    for (const path of ['/nope', '/media/99999.jpg', '/section-1', '/bad']) {
      const res = await fetch(site.manifest.baseUrl + path)
      expect(res.status, path).toBe(404)
      await res.arrayBuffer()
    }
    const post = await fetch(`${site.manifest.baseUrl}/`, { method: 'POST' })
    expect(post.status).toBe(405)
  })

  it('links pages into one graph where every link and media reference resolves to the manifest', async () => {
    const { baseUrl, pages, images, externalLinks } = site.manifest
    const pageSet = new Set(pages)
    const imageSet = new Set(images.map((i) => i.url))
    const seenImages = new Map<string, Set<string>>()
    const depth = new Map<string, number>([[`${baseUrl}/`, 0]])
    const queue = [`${baseUrl}/`]
    while (queue.length > 0) {
      const page = queue.shift() as string
      const res = await fetch(page)
      expect(res.status, page).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      for (const { url, attr } of extractUrls(await res.text(), page)) {
        if (!url.startsWith(`${baseUrl}/`)) {
          expect(externalLinks, url).toContain(url)
          continue
        }
        if (imageSet.has(url)) {
          const on = seenImages.get(url) ?? new Set()
          on.add(page)
          seenImages.set(url, on)
        } else {
          expect(pageSet.has(url), `${attr} ${url} on ${page}`).toBe(true)
          expect(attr).toBe('href')
          if (!depth.has(url)) {
            depth.set(url, (depth.get(page) as number) + 1)
            queue.push(url)
          }
        }
      }
    }
    expect(depth.size).toBe(pages.length)
    expect(Math.max(...depth.values())).toBeLessThanOrEqual(5)
    for (const image of images) expect([...(seenImages.get(image.url) ?? [])].sort(), image.url).toEqual([...image.pages].sort())
  })
})

describe('site plan', () => {
  it('uses every media discovery path, relative and absolute URLs, and multi-page sightings by default', () => {
    const plan = planSite(resolveSiteOptions(), 'http://127.0.0.1:1')
    const kinds = new Set(plan.manifest.images.flatMap((i) => i.referencedBy))
    expect([...kinds].sort()).toEqual([...REFERENCE_KINDS].sort())
    expect(plan.manifest.images.filter((i) => i.pages.length > 1).length).toBeGreaterThan(10)
    expect(plan.manifest.images.every((i) => i.pages.length > 0)).toBe(true)
    const styles = new Set(plan.pages.flatMap((p) => p.media.flatMap((m) => Object.values(m).flatMap((v: unknown) => (typeof v === 'object' && v !== null && 'style' in v ? [v.style] : [])))))
    expect([...styles].sort()).toEqual(['absolute', 'relative', 'root'])
    expect(plan.manifest.pages.length).toBe(201)
  })

  it('plans a 5,000-page, 15,000-image benchmark site without drawing anything, at most 5 levels deep', () => {
    const plan = planSite(resolveSiteOptions({ pages: 5000, images: 15000 }), 'http://127.0.0.1:1')
    expect(plan.manifest.pages.length).toBe(5001)
    expect(plan.manifest.images.filter((i) => i.kind === 'altered').length).toBe(1500)
    let maxDepth = 0
    for (const [i, page] of plan.pages.entries()) {
      let d = 0
      for (let p = page.parent; p !== undefined; p = plan.pages[p]?.parent) d++
      if (i < 5000) maxDepth = Math.max(maxDepth, d)
    }
    expect(maxDepth).toBeLessThanOrEqual(5)
  })

  it('writes relative URLs that resolve back to the path', () => {
    const pages = ['/', '/section-3/', '/section-3/article-40.html', '/bad.html']
    const targets = ['/', '/section-3/', '/section-4/article-41.html', '/media/00001.jpg', '/mirror/static/img/00002.png', '/bad.html']
    for (const from of pages) {
      for (const to of targets) expect(new URL(relativePath(from, to), `http://h${from}`).pathname, `${from} -> ${to}`).toBe(to)
    }
  })
})
