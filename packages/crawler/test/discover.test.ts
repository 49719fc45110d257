import { load } from 'cheerio'
import { describe, expect, it } from 'vitest'
import { Prng, startSyntheticSite } from '@arachnid/synthetic'
import { discover, looksLikeImageUrl, parseSrcset } from '@arachnid/crawler'
import { DISCOVERY_SOURCES, VIDEO_EXTENSIONS, kindOf, looksLikeVideoUrl } from '../src/discover.js'

describe('media discovery', () => {
  it('parses srcset candidates with and without descriptors', () => {
    expect(parseSrcset('a.jpg 1x, b.jpg 2x')).toEqual(['a.jpg', 'b.jpg'])
    expect(parseSrcset('/s/a.jpg 320w,/s/b.jpg 640w')).toEqual(['/s/a.jpg', '/s/b.jpg'])
    expect(parseSrcset('  only.png  ')).toEqual(['only.png'])
    expect(parseSrcset('https://x.test/a,b.jpg 1x, c.jpg 2x')).toEqual(['https://x.test/a,b.jpg', 'c.jpg'])
  })

  it('finds img, srcset, picture, poster, og:image and links to image files; other links are pages', () => {
    const html = `<html><head><meta property="og:image" content="/og.jpg"></head><body>
      <img src="/a.jpg" srcset="/a-2x.jpg 2x, /a-3x.jpg 3x">
      <picture><source srcset="/p.webp" type="image/webp"><img src="/p.jpg"></picture>
      <video poster="/poster.png"></video>
      <a href="/gallery/full.PNG?size=big">full</a>
      <a href="/next.html#top">next</a><a href="mailto:x@y.test">mail</a><a href="javascript:void(0)">js</a>
      <img src="data:image/png;base64,AAAA"><img src="/a.jpg">
    </body></html>`
    const found = discover(load(html) as never, 'http://site.test/dir/page.html')
    expect(found.media).toEqual([
      { url: 'http://site.test/a.jpg', via: 'img-src', kind: 'image' },
      { url: 'http://site.test/a-2x.jpg', via: 'img-srcset', kind: 'image' },
      { url: 'http://site.test/a-3x.jpg', via: 'img-srcset', kind: 'image' },
      { url: 'http://site.test/p.jpg', via: 'img-src', kind: 'image' },
      { url: 'http://site.test/p.webp', via: 'picture-source', kind: 'image' },
      { url: 'http://site.test/poster.png', via: 'video-poster', kind: 'image' },
      { url: 'http://site.test/og.jpg', via: 'og-image', kind: 'image' },
      { url: 'http://site.test/gallery/full.PNG?size=big', via: 'link', kind: 'image' },
    ])
    expect(found.links).toEqual(['http://site.test/next.html'])
  })

  it('knows image file names by extension only', () => {
    expect(looksLikeImageUrl('http://x.test/a.JPEG')).toBe(true)
    expect(looksLikeImageUrl('http://x.test/a.jpg.html')).toBe(false)
    expect(looksLikeImageUrl('http://x.test/image?id=3')).toBe(false)
  })

  it('finds videos: video src, video source, og:video and twitter:player:stream, links to video files; not audio', () => {
    const html = `<html><head>
      <meta property="og:video" content="/og.mp4">
      <meta property="og:video:url" content="/og-url.mp4">
      <meta property="og:video:secure_url" content="https://site.test/og-secure.webm">
      <meta property="og:video:type" content="video/mp4">
      <meta name="twitter:player" content="/player.html">
      <meta name="twitter:player:stream" content="/stream.mp4">
      </head><body>
      <video src="/direct.mp4" poster="/poster.jpg"></video>
      <video controls><source src="/source.webm" type="video/webm"><source src="/source.MP4#t=10" type="video/mp4"></video>
      <audio src="/sound.mp3"><source src="/sound.ogg"></audio>
      <video src="blob:http://site.test/9a1b"></video><video><source src="data:video/mp4;base64,AAAA"></video>
      <video src="mediastream:abc"></video><video src=""></video>
      <a href="/clips/A.MOV?download=1#frag">mov</a><a href="/clips/b.m4v">m4v</a><a href="/clips/c.mkv">mkv</a><a href="/clips/d.avi">avi</a>
      <a href="/watch?file=e.mp4">not a file name</a><a href="/direct.mp4">again</a><a href="/og.mp4">again</a>
    </body></html>`
    const found = discover(load(html) as never, 'http://site.test/page.html')
    expect(found.media).toEqual([
      { url: 'http://site.test/poster.jpg', via: 'video-poster', kind: 'image' },
      { url: 'http://site.test/direct.mp4', via: 'video-src', kind: 'video' },
      { url: 'http://site.test/source.webm', via: 'video-source', kind: 'video' },
      { url: 'http://site.test/source.MP4', via: 'video-source', kind: 'video' },
      { url: 'http://site.test/og.mp4', via: 'og-video', kind: 'video' },
      { url: 'http://site.test/og-url.mp4', via: 'og-video', kind: 'video' },
      { url: 'https://site.test/og-secure.webm', via: 'og-video', kind: 'video' },
      { url: 'http://site.test/stream.mp4', via: 'og-video', kind: 'video' },
      { url: 'http://site.test/clips/A.MOV?download=1', via: 'video-link', kind: 'video' },
      { url: 'http://site.test/clips/b.m4v', via: 'video-link', kind: 'video' },
      { url: 'http://site.test/clips/c.mkv', via: 'video-link', kind: 'video' },
      { url: 'http://site.test/clips/d.avi', via: 'video-link', kind: 'video' },
    ])
    expect(found.links).toEqual(['http://site.test/watch?file=e.mp4'])
  })

  it('knows video file names by extension, ignoring case, query and fragment', () => {
    expect(VIDEO_EXTENSIONS).toEqual(['.mp4', '.m4v', '.webm', '.mov', '.mkv', '.avi'])
    for (const ok of ['http://x.test/a.mp4', 'http://x.test/a.M4V', 'http://x.test/a.webm?x=1', 'http://x.test/a.MoV#t=3', 'http://x.test/a.mkv', 'http://x.test/a.avi', '/rel/a.mp4'])
      expect(looksLikeVideoUrl(ok), ok).toBe(true)
    for (const no of ['http://x.test/a.mp4.html', 'http://x.test/watch?v=a.mp4', 'http://x.test/a.mp3', 'http://x.test/mp4', 'http://x.test/a.jpg', 'http://[bad'])
      expect(looksLikeVideoUrl(no), no).toBe(false)
    expect(looksLikeImageUrl('http://x.test/a.mp4')).toBe(false)
  })

  it('gives every source a kind: video for the video sources, image for the rest (a poster is an image)', () => {
    const kinds = Object.fromEntries(DISCOVERY_SOURCES.map((via) => [via, kindOf(via)]))
    expect(kinds).toEqual({
      'img-src': 'image', 'img-srcset': 'image', 'picture-source': 'image', 'video-poster': 'image', 'og-image': 'image',
      link: 'image', 'lazy-src': 'image', 'css-background': 'image',
      'video-src': 'video', 'video-source': 'video', 'og-video': 'video', 'video-link': 'video', 'media-current-src': 'video',
    })
  })

  it('finds every video of the synthetic site, each as the kind of reference the manifest names', async () => {
    // The site does not look inside video bytes; seeded noise stands in (no ffmpeg needed here).
    const site = await startSyntheticSite({
      seed: 11, pages: 15, images: 12, videos: 5, oversizedBytes: 64 * 1024,
      videoSource: async (_id, { seed, format }) => {
        const rng = new Prng(seed)
        return { bytes: Uint8Array.from({ length: 256 }, () => rng.int(0, 255)), contentType: `video/${format}` }
      },
    })
    try {
      const found = new Map<string, Set<string>>()
      for (const page of site.manifest.pages) {
        for (const m of discover(load(await (await fetch(page)).text()) as never, page).media) {
          if (m.kind !== 'video') continue
          found.set(m.url, (found.get(m.url) ?? new Set()).add(m.via))
        }
      }
      expect([...found.keys()].sort()).toEqual(site.manifest.videos.map((v) => v.url).sort())
      for (const video of site.manifest.videos) expect([...(found.get(video.url) ?? [])].sort(), video.url).toEqual(video.referencedBy)
      const images = new Set(site.manifest.images.map((i) => i.url))
      expect([...found.keys()].some((url) => images.has(url))).toBe(false)
    } finally {
      await site.close()
    }
  })
})
