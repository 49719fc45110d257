import type { DiscoveredMedia, Discovery, DiscoverySource } from './discover.js'
import { DISCOVERY_SOURCES, OG_IMAGE_SELECTOR, OG_VIDEO_SELECTOR, kindOf, looksLikeImageUrl, looksLikeVideoUrl } from './discover.js'

/** Flags for Debian's Chromium: headless, no sandbox (root in containers), nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run', '--disable-dev-shm-usage',
] as const

export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium'

/** Raw findings of the in-page script: [url, source] pairs and page links, all absolute. */
export interface PageFindings {
  media: [string, DiscoverySource][]
  links: string[]
}

/**
 * Runs inside the page after its scripts: media from img (currentSrc, src, srcset and the lazy
 * data-src family), picture sources, video posters, CSS background images (computed style, so
 * stylesheets and inline styles both count), og:image / twitter:image, videos (video src, video
 * source src, each video's currentSrc, which a script may have set after load, also inside open
 * shadow roots; og:video / twitter:player:stream), and links; evaluates to {@link PageFindings}. `blob:`, `data:` and
 * `mediastream:` sources (MediaSource, inline, camera streams) have no URL to fetch and are left out.
 *
 * Plain JavaScript source, not a function: Playwright sends a function's `toString()` to the
 * page, and what that text holds depends on how this file was compiled (tsx/esbuild adds calls
 * to its `__name` helper, which the page does not have). Text is the same under any compiler.
 */
export const COLLECT_IN_PAGE = String.raw`(() => {
  const media = []
  const abs = (u) => {
    if (!u) return undefined
    try {
      const url = new URL(String(u).trim(), document.baseURI)
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href.split('#')[0] : undefined
    } catch {
      return undefined
    }
  }
  const add = (u, via) => {
    const url = abs(u)
    if (url) media.push([url, via])
  }
  const srcset = (value) => (value || '').split(/,\s+/).map((c) => c.trim().split(/\s+/)[0]).filter(Boolean)
  for (const img of Array.from(document.images)) {
    add(img.currentSrc || img.getAttribute('src'), 'img-src')
    for (const u of srcset(img.getAttribute('srcset'))) add(u, 'img-srcset')
    for (const name of ['data-src', 'data-lazy-src', 'data-original', 'data-lazy', 'data-url']) add(img.getAttribute(name), 'lazy-src')
    for (const u of srcset(img.getAttribute('data-srcset'))) add(u, 'lazy-src')
  }
  for (const source of Array.from(document.querySelectorAll('picture source'))) for (const u of srcset(source.getAttribute('srcset'))) add(u, 'picture-source')
  for (const video of Array.from(document.querySelectorAll('video[poster]'))) add(video.getAttribute('poster'), 'video-poster')
  // Players often keep their video in an open shadow root, where document-wide queries do not look.
  const videos = []
  const findVideos = (root, depth) => {
    videos.push(...Array.from(root.querySelectorAll('video')))
    if (depth < 4) for (const el of Array.from(root.querySelectorAll('*')).slice(0, 5000)) if (el.shadowRoot) findVideos(el.shadowRoot, depth + 1)
  }
  findVideos(document, 0)
  for (const video of videos.slice(0, 1000)) {
    add(video.getAttribute('src'), 'video-src')
    for (const source of Array.from(video.querySelectorAll('source[src]'))) add(source.getAttribute('src'), 'video-source')
    // What the element chose to play, even if a script has since removed or changed its source.
    add(video.currentSrc, 'media-current-src')
  }
  for (const meta of Array.from(document.querySelectorAll(${JSON.stringify(OG_IMAGE_SELECTOR)}))) add(meta.getAttribute('content'), 'og-image')
  for (const meta of Array.from(document.querySelectorAll(${JSON.stringify(OG_VIDEO_SELECTOR)}))) add(meta.getAttribute('content'), 'og-video')
  const elements = Array.from(document.querySelectorAll('body *')).slice(0, 5000)
  for (const el of elements) {
    const bg = getComputedStyle(el).backgroundImage
    if (bg && bg !== 'none') for (const m of bg.matchAll(/url\(["']?([^"')]+)["']?\)/g)) add(m[1], 'css-background')
  }
  const links = []
  for (const a of Array.from(document.querySelectorAll('a[href]'))) {
    const url = abs(a.getAttribute('href'))
    if (url) links.push(url)
  }
  return { media, links }
})()`

/**
 * Runs inside the page: scrolls it top to bottom (at most 50,000 px) so lazy loaders see their
 * images in view. Plain JavaScript source for the same reason as {@link COLLECT_IN_PAGE}.
 */
export const SCROLL_THROUGH_PAGE = String.raw`(async () => {
  for (let y = 0; y < document.body.scrollHeight && y < 50000; y += window.innerHeight) {
    window.scrollTo(0, y)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
})()`

/**
 * Waits until the page's DOM has had no change for `quietMs` (scripts that add images a moment
 * after load, lazy loaders reacting to a scroll), or `maxMs` at most. Source text, like the others.
 */
export function settlePage(quietMs: number, maxMs: number): string {
  return String.raw`new Promise((resolve) => {
  const quiet = ${Math.max(0, Math.floor(quietMs))}, started = Date.now(), max = ${Math.max(0, Math.floor(maxMs))}
  let last = Date.now()
  const observer = new MutationObserver(() => { last = Date.now() })
  // src covers img, video and source elements alike (a script pointing a video at a file).
  observer.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['src', 'srcset', 'style', 'class', 'href', 'poster', 'data-src'] })
  const check = () => {
    const now = Date.now()
    if (now - last >= quiet || now - started >= max) { observer.disconnect(); resolve(true) }
    else setTimeout(check, Math.min(quiet, 50))
  }
  setTimeout(check, quiet)
})`
}

/** Quiet time and cap of settlePage: a page whose DOM has not changed for 300 ms is taken as rendered, 3 s at most. */
export const PAGE_SETTLE = { quietMs: 300, maxMs: 3000 } as const

/**
 * Findings sorted into media (first source wins, its kind from that source) and page links; links
 * to image and video files are media.
 * The page's own scripts run before ours and may have replaced any global it uses, so what comes
 * back is checked again here: only http(s) URLs, only known sources.
 */
export function toDiscovery(findings: unknown): Discovery {
  const raw = (findings ?? {}) as { media?: unknown; links?: unknown }
  const http = (value: unknown): string | undefined => {
    if (typeof value !== 'string') return undefined
    try {
      const url = new URL(value)
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined
    } catch {
      return undefined
    }
  }
  const media = new Map<string, DiscoverySource>()
  for (const entry of Array.isArray(raw.media) ? raw.media : []) {
    if (!Array.isArray(entry)) continue
    const url = http(entry[0])
    const via = entry[1] as DiscoverySource
    if (url && DISCOVERY_SOURCES.includes(via) && !media.has(url)) media.set(url, via)
  }
  const links = new Set<string>()
  for (const value of Array.isArray(raw.links) ? raw.links : []) {
    const url = http(value)
    if (url === undefined) continue
    if (looksLikeImageUrl(url)) { if (!media.has(url)) media.set(url, 'link') }
    else if (looksLikeVideoUrl(url)) { if (!media.has(url)) media.set(url, 'video-link') }
    else links.add(url)
  }
  return { media: [...media].map(([url, via]): DiscoveredMedia => ({ url, via, kind: kindOf(via) })), links: [...links] }
}
