import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Prng, resolveSiteOptions, startSyntheticSite } from '../src/index.js'
import type { SyntheticSite } from '../src/index.js'
import { VIDEO_REFERENCE_KINDS } from '../src/site-manifest.js'
import type { SiteVideo, VideoReferenceKind } from '../src/site-manifest.js'
import { DEFAULT_SITE_OPTIONS, generatedVideos } from '../src/site-options.js'
import type { VideoSource } from '../src/site-options.js'
import { SITE_VIDEO_ALTERATIONS, planSite } from '../src/site-plan.js'
import { parseRange } from '../src/synthetic-site.js'
import { renderPage } from '../src/render-page.js'

/**
 * Stand-in video bytes: a container signature then seeded noise, distinct per seed (an altered
 * copy: the original reversed). The site does not look inside them; the last suite uses ffmpeg.
 */
function fakeSource(calls: number[] = []): VideoSource {
  return async (id, { seed, format, alteration, original }) => {
    calls.push(id)
    await new Promise((resolve) => setTimeout(resolve, 5))
    if (alteration !== undefined) return { bytes: (original as Uint8Array).slice().reverse(), contentType: `video/${format}` }
    const rng = new Prng(seed)
    const bytes = new Uint8Array(4000 + id * 37)
    for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255)
    bytes.set(format === 'mp4' ? [0, 0, 0, 0x18, 0x66, 0x74, 0x79, 0x70] : [0x1a, 0x45, 0xdf, 0xa3])
    return { bytes, contentType: format === 'mp4' ? 'video/mp4' : 'video/webm' }
  }
}

/** The videos a page references and how, read from its HTML as a crawler would. */
function videoRefs(html: string, pageUrl: string): { url: string; via: VideoReferenceKind }[] {
  const out: { url: string; via: VideoReferenceKind }[] = []
  const abs = (u: string): string => new URL(u.replace(/&amp;/g, '&'), pageUrl).href
  for (const m of html.matchAll(/<video\b[^>]*\bsrc="([^"]+)"/g)) out.push({ url: abs(m[1] as string), via: 'video-src' })
  for (const m of html.matchAll(/<source src="([^"]+)" type="video\//g)) out.push({ url: abs(m[1] as string), via: 'video-source' })
  for (const m of html.matchAll(/<meta property="og:video" content="([^"]+)"/g)) out.push({ url: abs(m[1] as string), via: 'og-video' })
  for (const m of html.matchAll(/<a href="([^"]+\.(?:mp4|webm))"/g)) out.push({ url: abs(m[1] as string), via: 'video-link' })
  return out
}

describe('synthetic site videos', () => {
  let site: SyntheticSite
  const calls: number[] = []

  beforeAll(async () => {
    site = await startSyntheticSite({ seed: 5, pages: 12, images: 10, videos: 3, oversizedBytes: 64 * 1024, videoSource: fakeSource(calls) })
  })
  afterAll(async () => {
    await site?.close()
  })

  it('lists known videos with an altered copy and a mirror each, and distinct unrelated ones, in both containers', () => {
    const { videos, baseUrl } = site.manifest
    // 3 videos, half known (rounded up): 2 known + 1 unrelated, then 2 altered copies, then 2 mirrors.
    expect(videos).toHaveLength(7)
    expect(videos.slice(0, 3).map((v) => [v.baseId, v.format])).toEqual([[0, 'mp4'], [1, 'webm'], [2, 'mp4']])
    const knownIds = videos.slice(0, 3).filter((v) => v.kind === 'known').map((v) => v.baseId)
    expect(knownIds).toHaveLength(2)
    expect(videos.filter((v) => v.kind === 'unrelated')).toHaveLength(1)
    expect(videos.slice(3, 5).map((v) => [v.kind, v.baseId, v.alteration, v.format])).toEqual([
      ['altered', knownIds[0], 'low-bitrate', 'mp4'], ['altered', knownIds[1], 'half-scale', 'mp4'],
    ])
    for (const mirror of videos.slice(5)) {
      expect(mirror.kind).toBe('known')
      const original = videos[mirror.baseId] as SiteVideo
      expect(mirror.duplicateOf).toBe(original.url)
      expect(mirror.url).toBe(original.url.replace(baseUrl, `${baseUrl}/mirror`))
    }
    expect(videos.slice(5).map((v) => v.baseId)).toEqual(knownIds)
    for (const v of videos) {
      expect(v.url).toMatch(new RegExp(`^${baseUrl}/(mirror/)?video/\\d{5}\\.${v.format}$`))
      expect(v.contentType).toBe(`video/${v.format}`)
      expect(v.pages.length).toBeGreaterThan(0)
    }
    expect(new Set(videos.map((v) => v.url)).size).toBe(7)
  })

  it('references every video from its pages in the forms the manifest says, every form at least once', async () => {
    const seen = new Map<string, { pages: Set<string>; via: Set<VideoReferenceKind> }>()
    for (const page of site.manifest.pages) {
      for (const ref of videoRefs(await (await fetch(page)).text(), page)) {
        const entry = seen.get(ref.url) ?? { pages: new Set(), via: new Set() }
        entry.pages.add(page)
        entry.via.add(ref.via)
        seen.set(ref.url, entry)
      }
    }
    expect([...seen.keys()].sort()).toEqual(site.manifest.videos.map((v) => v.url).sort())
    for (const v of site.manifest.videos) {
      expect([...(seen.get(v.url)?.pages ?? [])].sort(), v.url).toEqual([...v.pages].sort())
      expect([...(seen.get(v.url)?.via ?? [])].sort(), v.url).toEqual(v.referencedBy)
    }
    expect([...new Set(site.manifest.videos.flatMap((v) => v.referencedBy))].sort()).toEqual([...VIDEO_REFERENCE_KINDS].sort())
  })

  it('serves each video whole with its type, length, ETag and Accept-Ranges; a mirror byte for byte; each made once', async () => {
    const bodies = await Promise.all(site.manifest.videos.map(async (v) => {
      const res = await fetch(v.url)
      expect(res.status, v.url).toBe(200)
      expect(res.headers.get('content-type')).toBe(v.contentType)
      expect(res.headers.get('accept-ranges')).toBe('bytes')
      const body = Buffer.from(await res.arrayBuffer())
      expect(Number(res.headers.get('content-length'))).toBe(body.length)
      const again = await fetch(v.url, { headers: { 'if-none-match': res.headers.get('etag') as string } })
      expect(again.status).toBe(304)
      return body
    }))
    for (const [i, v] of site.manifest.videos.entries()) {
      if (v.duplicateOf !== undefined) expect(bodies[i]?.equals(bodies[v.baseId] as Buffer)).toBe(true)
      if (v.alteration !== undefined) expect(bodies[i]?.equals(Buffer.from(bodies[v.baseId] as Buffer).reverse())).toBe(true)
      expect(Buffer.from(await site.videoBytes(v.url)).equals(bodies[i] as Buffer)).toBe(true)
    }
    expect(new Set(bodies.slice(0, 3).map((b) => b.toString('base64'))).size).toBe(3)
    // Each base video once, each altered copy once (asked under its original's id); mirrors never.
    const knownIds = site.manifest.videos.filter((v) => v.alteration !== undefined).map((v) => v.baseId)
    expect(calls.sort()).toEqual([0, 1, 2, ...knownIds].sort())
    expect(site.stats.videosGenerated).toBe(5)
    const known = []
    for await (const video of site.knownVideos()) known.push(video)
    expect(known.map((k) => k.url)).toEqual(site.manifest.videos.filter((v) => v.kind === 'known' && v.duplicateOf === undefined).map((v) => v.url))
    expect(known.every((k, i) => Buffer.from(k.bytes).equals(bodies[k.id] as Buffer) && k.contentType === site.manifest.videos[k.id]?.contentType && i >= 0)).toBe(true)
    expect(calls).toHaveLength(5)
    await expect(site.videoBytes('/media/nope.mp4')).rejects.toThrow(RangeError)
  })

  it('answers byte ranges with 206 and Content-Range, past the end with 416, and ignores what it may ignore', async () => {
    const video = site.manifest.videos[1] as SiteVideo
    const whole = Buffer.from(await site.videoBytes(video.url))
    const total = whole.length
    const get = async (headers: Record<string, string>, method = 'GET') => {
      const res = await fetch(video.url, { headers, method })
      return { status: res.status, range: res.headers.get('content-range'), length: Number(res.headers.get('content-length')), body: Buffer.from(await res.arrayBuffer()) }
    }
    const first = await get({ range: 'bytes=0-99' })
    expect(first).toMatchObject({ status: 206, range: `bytes 0-99/${total}`, length: 100 })
    expect(first.body.equals(whole.subarray(0, 100))).toBe(true)
    const open = await get({ range: 'bytes=1000-' })
    expect(open).toMatchObject({ status: 206, range: `bytes 1000-${total - 1}/${total}`, length: total - 1000 })
    expect(open.body.equals(whole.subarray(1000))).toBe(true)
    const suffix = await get({ range: 'bytes=-50' })
    expect(suffix).toMatchObject({ status: 206, range: `bytes ${total - 50}-${total - 1}/${total}` })
    expect(suffix.body.equals(whole.subarray(total - 50))).toBe(true)
    expect(await get({ range: `bytes=10-${total + 500}` })).toMatchObject({ status: 206, range: `bytes 10-${total - 1}/${total}`, length: total - 10 })
    expect(await get({ range: `bytes=${total}-` })).toMatchObject({ status: 416, range: `bytes */${total}` })
    expect(await get({ range: 'bytes=-0' })).toMatchObject({ status: 416 })
    expect(await get({ range: 'bytes=0-1, 5-9' })).toMatchObject({ status: 200, range: null, length: total })
    expect(await get({ range: 'bytes=9-5' })).toMatchObject({ status: 200, length: total })
    expect(await get({ range: 'items=0-5' })).toMatchObject({ status: 200, length: total })
    expect(await get({ range: 'bytes=0-9', 'if-range': '"stale"' })).toMatchObject({ status: 200, length: total })
    const etag = (await fetch(video.url, { method: 'HEAD' })).headers.get('etag') as string
    expect(await get({ range: 'bytes=0-9', 'if-range': etag })).toMatchObject({ status: 206, length: 10 })
    const head = await get({ range: 'bytes=0-9' }, 'HEAD')
    expect(head).toMatchObject({ status: 206, range: `bytes 0-9/${total}`, length: 10 })
    expect(head.body.length).toBe(0)
  })
})

describe('video options', () => {
  it('default to no videos, and asking for some leaves every image and link where it was', () => {
    expect(resolveSiteOptions().videos).toBe(0)
    const without = planSite(resolveSiteOptions({ seed: 9, pages: 30, images: 40 }), 'http://127.0.0.1:1')
    const withVideos = planSite(resolveSiteOptions({ seed: 9, pages: 30, images: 40, videos: 6, videoSource: fakeSource() }), 'http://127.0.0.1:1')
    expect(without.manifest.videos).toEqual([])
    expect(withVideos.manifest.images).toEqual(without.manifest.images)
    expect(withVideos.manifest.pages).toEqual(without.manifest.pages)
    expect(withVideos.manifest.videos).toHaveLength(6 + 3 + 3)
    // A page without videos renders exactly as before.
    for (const [i] of without.pages.entries()) {
      const page = withVideos.pages[i]
      if (page?.ogVideo === undefined && !page?.media.some((m) => m.kind === 'video')) expect(renderPage(withVideos, i)).toBe(renderPage(without, i))
    }
  })

  it('plans the same videos and pages for the same seed, and others for another', () => {
    const plan = (seed: number) => planSite(resolveSiteOptions({ seed, pages: 20, images: 10, videos: 4, videoSource: fakeSource() }), 'http://127.0.0.1:1')
    const [a, b, c] = [plan(4), plan(4), plan(8)]
    expect(JSON.stringify(b.manifest)).toBe(JSON.stringify(a.manifest))
    expect(b.pages.map((_, i) => renderPage(b, i))).toEqual(a.pages.map((_, i) => renderPage(a, i)))
    expect(b.videos.map((v) => v.seed)).toEqual(a.videos.map((v) => v.seed))
    expect(c.videos.map((v) => v.seed)).not.toEqual(a.videos.map((v) => v.seed))
  })

  it('make videos with ffmpeg unless told otherwise, and refuse unknown containers', () => {
    expect(typeof DEFAULT_SITE_OPTIONS.videoSource).toBe('function')
    expect(() => resolveSiteOptions({ videos: 1, videoSource: 'ffmpeg' as never })).toThrow(/videoSource/)
    expect(() => resolveSiteOptions({ videos: 1, alteredPerKnownVideo: -1 })).toThrow(/alteredPerKnownVideo/)
    expect(() => resolveSiteOptions({ videos: -1, videoSource: fakeSource() })).toThrow(RangeError)
    expect(() => resolveSiteOptions({ videos: 1, videoSource: fakeSource(), videoFormats: [] })).toThrow(/videoFormats/)
    expect(() => resolveSiteOptions({ videos: 1, videoSource: fakeSource(), videoFormats: ['avi' as never] })).toThrow(/videoFormats/)
    expect(() => resolveSiteOptions({ knownVideoFraction: 2 })).toThrow(/knownVideoFraction/)
  })

  it('shows all four forms even with one video, and gives each page one og:video at most', () => {
    const plan = planSite(resolveSiteOptions({ pages: 2, images: 0, videos: 1, knownVideoFraction: 0, videoSource: fakeSource() }), 'http://127.0.0.1:1')
    expect(plan.manifest.videos).toHaveLength(1)
    expect(plan.manifest.videos[0]?.kind).toBe('unrelated')
    expect(plan.manifest.videos[0]?.referencedBy).toEqual([...VIDEO_REFERENCE_KINDS].sort())
    const altered = planSite(resolveSiteOptions({ pages: 3, images: 0, videos: 4, knownVideoFraction: 1, alteredPerKnownVideo: 2, videoSource: fakeSource() }), 'http://127.0.0.1:1')
    expect(altered.manifest.videos.filter((v) => v.kind === 'altered').map((v) => [v.alteration, v.format])).toEqual(
      [0, 1, 2, 3].flatMap((k) => [0, 1].map((j) => SITE_VIDEO_ALTERATIONS[(k + j) % SITE_VIDEO_ALTERATIONS.length]))
        .map((a) => [a, a === 'webm' ? 'webm' : 'mp4']),
    )
    expect(SITE_VIDEO_ALTERATIONS).not.toContain('moov-at-end')
    const crowded = planSite(resolveSiteOptions({ pages: 1, images: 0, badInputs: false, videos: 5, videoSource: fakeSource() }), 'http://127.0.0.1:1')
    const html = renderPage(crowded, 0)
    expect(html.match(/property="og:video"/g)).toHaveLength(1)
    expect(crowded.manifest.videos.flatMap((v) => v.referencedBy).filter((k) => k === 'og-video')).toHaveLength(1)
  })

  it('parses ranges as RFC 9110 reads them', () => {
    expect(parseRange(undefined, 10)).toBeUndefined()
    expect(parseRange('bytes=2-4', 10)).toEqual([2, 4])
    expect(parseRange('bytes=2-', 10)).toEqual([2, 9])
    expect(parseRange('bytes=-3', 10)).toEqual([7, 9])
    expect(parseRange('bytes=-30', 10)).toEqual([0, 9])
    expect(parseRange('bytes=5-50', 10)).toEqual([5, 9])
    expect(parseRange('bytes=10-', 10)).toBe('unsatisfiable')
    expect(parseRange('bytes=-0', 10)).toBe('unsatisfiable')
    for (const ignored of ['bytes=4-2', 'bytes=-', 'bytes=0-1,3-4', 'lines=1-2', 'bytes=a-b']) expect(parseRange(ignored, 10), ignored).toBeUndefined()
  })

  it('answers 500 when the source fails, and tries again on the next request', async () => {
    let fail = true
    const good = fakeSource()
    const site = await startSyntheticSite({ pages: 1, images: 0, badInputs: false, videos: 1, videoSource: async (id, spec) => {
      if (fail) throw new Error('encoder crashed')
      return good(id, spec)
    } })
    try {
      const url = site.manifest.videos[0]?.url as string
      const failed = await fetch(url)
      expect(failed.status).toBe(500)
      await failed.arrayBuffer()
      fail = false
      expect((await fetch(url)).status).toBe(200)
      expect(site.stats.videosGenerated).toBe(1)
    } finally {
      await site.close()
    }
  })
})

const FFMPEG = '/usr/bin/ffmpeg'

describe.skipIf(!existsSync(FFMPEG))('synthetic site videos made by ffmpeg', () => {
  it('serves real MP4 and WebM videos, an altered copy made from the original, once each, with ranges', async () => {
    const site = await startSyntheticSite({ seed: 2, pages: 3, images: 0, badInputs: false, videos: 2, videoSource: generatedVideos({ width: 160, height: 96, seconds: 4 }) })
    try {
      const { videos } = site.manifest
      expect(videos.map((v) => [v.kind, v.format, v.alteration ?? null, v.duplicateOf !== undefined])).toEqual([
        [videos[0]?.kind, 'mp4', null, false], [videos[1]?.kind, 'webm', null, false], ['altered', 'mp4', 'low-bitrate', false], ['known', videos[3]?.format, null, true],
      ])
      const bodies = await Promise.all(videos.map(async (v) => {
        const res = await fetch(v.url)
        expect(res.status, v.url).toBe(200)
        expect(res.headers.get('content-type')).toBe(v.contentType)
        return Buffer.from(await res.arrayBuffer())
      }))
      const isMp4 = (b: Buffer) => b.subarray(4, 8).toString('latin1') === 'ftyp'
      const isWebm = (b: Buffer) => b.readUInt32BE(0) === 0x1a45dfa3
      for (const [i, v] of videos.entries()) expect(v.format === 'mp4' ? isMp4(bodies[i] as Buffer) : isWebm(bodies[i] as Buffer), v.url).toBe(true)
      expect(bodies[2]?.equals(bodies[videos[2]?.baseId as number] as Buffer)).toBe(false)
      expect(bodies[3]?.equals(bodies[videos[3]?.baseId as number] as Buffer)).toBe(true)
      expect(site.stats.videosGenerated).toBe(3)
      const part = await fetch(videos[0]?.url as string, { headers: { range: 'bytes=0-1023' } })
      expect(part.status).toBe(206)
      expect(Buffer.from(await part.arrayBuffer()).equals((bodies[0] as Buffer).subarray(0, 1024))).toBe(true)
    } finally {
      await site.close()
    }
  }, 300_000)
})
