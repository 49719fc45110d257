import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BINARIES, haveBinary, skippedSuite } from '@arachnid/test'
import { CHROMIUM_ARGS, COLLECT_IN_PAGE, settlePage, toDiscovery } from '../src/browser-discovery.js'

const CHROMIUM = BINARIES.chromium.path
const haveChromium = haveBinary('chromium')
if (!haveChromium) skippedSuite('video discovery in the browser', `${CHROMIUM} is missing (${BINARIES.chromium.install})`)

/** Pages that show their videos in the ways players do; every video request is answered 404 (no bytes needed). */
const PAGES: Record<string, string> = {
  '/videos.html': `<!doctype html><html><head>
    <meta property="og:video" content="/og.mp4"><meta property="og:video:secure_url" content="/og-secure.webm">
    <meta name="twitter:player:stream" content="/stream.mp4"><meta property="og:image" content="/og.jpg">
    </head><body>
    <video src="/direct.mp4" poster="/poster.jpg" preload="none"></video>
    <video preload="none"><source src="/source.webm" type="video/webm"><source src="/source.mp4" type="video/mp4"></video>
    <audio src="/sound.mp3"><source src="/sound.ogg"></audio>
    <a href="/clip.MOV?dl=1">clip</a><a href="/next.html">next</a>
    <video id="blob"></video><div id="player"></div><video id="chosen"></video><video id="late"></video>
    <script>
      // A MediaSource-like blob URL: nothing to fetch.
      document.getElementById('blob').src = URL.createObjectURL(new Blob([new Uint8Array(8)], { type: 'video/mp4' }))
      // A player that keeps its video in a shadow root.
      const shadow = document.getElementById('player').attachShadow({ mode: 'open' })
      const inner = document.createElement('video'); inner.preload = 'none'; inner.src = '/shadow.mp4'; shadow.appendChild(inner)
      // A player that removes its source element once the video has chosen it: only currentSrc still knows.
      const chosen = document.getElementById('chosen')
      const source = document.createElement('source'); source.src = '/chosen.mp4'
      chosen.addEventListener('loadstart', () => source.remove(), { once: true })
      chosen.appendChild(source)
      // A source set well after load.
      window.addEventListener('load', () => setTimeout(() => { document.getElementById('late').src = '/late.webm' }, 150))
    </script></body></html>`,
}

describe.skipIf(!haveChromium)('video discovery in the browser', () => {
  let server: http.Server
  let base: string
  let browser: import('playwright-core').Browser
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const page = PAGES[path]
      if (page) res.writeHead(200, { 'content-type': 'text/html' }).end(page)
      else res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS] })
  }, 300_000)
  afterAll(async () => {
    await browser?.close()
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
  })

  it('finds video src, video source, currentSrc (scripted, late, in shadow roots), og:video and video links; skips blob: and audio', async () => {
    const page = await browser.newPage()
    try {
      await page.goto(`${base}/videos.html`, { waitUntil: 'load' })
      await page.evaluate(settlePage(300, 3000))
      const found = toDiscovery(await page.evaluate(COLLECT_IN_PAGE))
      const byPath = Object.fromEntries(found.media.map((m) => [new URL(m.url).pathname, [m.via, m.kind]]))
      expect(byPath).toEqual({
        '/poster.jpg': ['video-poster', 'image'],
        '/direct.mp4': ['video-src', 'video'],
        '/source.webm': ['video-source', 'video'],
        '/source.mp4': ['video-source', 'video'],
        '/shadow.mp4': ['video-src', 'video'],
        '/chosen.mp4': ['media-current-src', 'video'],
        '/late.webm': ['video-src', 'video'],
        '/og.jpg': ['og-image', 'image'],
        '/og.mp4': ['og-video', 'video'],
        '/og-secure.webm': ['og-video', 'video'],
        '/stream.mp4': ['og-video', 'video'],
        '/clip.MOV': ['video-link', 'video'],
      })
      expect(found.media.filter((m) => m.url.includes('clip'))).toEqual([{ url: `${base}/clip.MOV?dl=1`, via: 'video-link', kind: 'video' }])
      expect(found.media.some((m) => /sound|blob/.test(m.url))).toBe(false)
      expect(found.links).toEqual([`${base}/next.html`])
    } finally {
      await page.close()
    }
  }, 30_000)

  it('checks what the page hands back: only http(s), known sources, each URL once with the first source', () => {
    const found = toDiscovery({
      media: [['blob:http://x.test/1', 'video-src'], ['mediastream:1', 'media-current-src'], ['http://x.test/a.mp4', 'video-src'],
        ['http://x.test/a.mp4', 'media-current-src'], ['http://x.test/b.mp4', 'made-up']],
      links: ['http://x.test/c.webm', 'http://x.test/a.mp4', 'data:video/mp4;base64,AA', 'http://x.test/page'],
    })
    expect(found.media).toEqual([
      { url: 'http://x.test/a.mp4', via: 'video-src', kind: 'video' },
      { url: 'http://x.test/c.webm', via: 'video-link', kind: 'video' },
    ])
    expect(found.links).toEqual(['http://x.test/page'])
  })
})
