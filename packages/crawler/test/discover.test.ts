import { load } from 'cheerio'
import { describe, expect, it } from 'vitest'
import { discover, looksLikeImageUrl, parseSrcset } from '@arachnid/crawler'

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
      { url: 'http://site.test/a.jpg', via: 'img-src' },
      { url: 'http://site.test/a-2x.jpg', via: 'img-srcset' },
      { url: 'http://site.test/a-3x.jpg', via: 'img-srcset' },
      { url: 'http://site.test/p.jpg', via: 'img-src' },
      { url: 'http://site.test/p.webp', via: 'picture-source' },
      { url: 'http://site.test/poster.png', via: 'video-poster' },
      { url: 'http://site.test/og.jpg', via: 'og-image' },
      { url: 'http://site.test/gallery/full.PNG?size=big', via: 'link' },
    ])
    expect(found.links).toEqual(['http://site.test/next.html'])
  })

  it('knows image file names by extension only', () => {
    expect(looksLikeImageUrl('http://x.test/a.JPEG')).toBe(true)
    expect(looksLikeImageUrl('http://x.test/a.jpg.html')).toBe(false)
    expect(looksLikeImageUrl('http://x.test/image?id=3')).toBe(false)
  })
})
