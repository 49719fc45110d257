import type { DiscoveredMedia, Discovery, DiscoverySource } from './discover.js'
import { looksLikeImageUrl } from './discover.js'

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
 * stylesheets and inline styles both count), og:image / twitter:image, and links. Kept free of
 * closures: Playwright serialises it into the page.
 */
export function collectInPage(): PageFindings {
  const media: [string, string][] = []
  const abs = (u: string | null | undefined): string | undefined => {
    if (!u) return undefined
    try {
      const url = new URL(u.trim(), document.baseURI)
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href.split('#')[0] : undefined
    } catch {
      return undefined
    }
  }
  const add = (u: string | null | undefined, via: string) => {
    const url = abs(u)
    if (url) media.push([url, via])
  }
  const srcset = (value: string | null) => (value ?? '').split(/,\s+/).map((c) => c.trim().split(/\s+/)[0]).filter(Boolean)
  for (const img of Array.from(document.images)) {
    add(img.currentSrc || img.getAttribute('src'), 'img-src')
    for (const u of srcset(img.getAttribute('srcset'))) add(u, 'img-srcset')
    for (const name of ['data-src', 'data-lazy-src', 'data-original', 'data-lazy', 'data-url']) add(img.getAttribute(name), 'lazy-src')
    for (const u of srcset(img.getAttribute('data-srcset'))) add(u, 'lazy-src')
  }
  for (const source of Array.from(document.querySelectorAll('picture source'))) for (const u of srcset(source.getAttribute('srcset'))) add(u, 'picture-source')
  for (const video of Array.from(document.querySelectorAll('video[poster]'))) add(video.getAttribute('poster'), 'video-poster')
  for (const meta of Array.from(document.querySelectorAll('meta[property="og:image"], meta[property="og:image:url"], meta[name="twitter:image"]'))) add(meta.getAttribute('content'), 'og-image')
  const elements = Array.from(document.querySelectorAll('body *')).slice(0, 5000)
  for (const el of elements) {
    const bg = getComputedStyle(el).backgroundImage
    if (bg && bg !== 'none') for (const m of bg.matchAll(/url\(["']?([^"')]+)["']?\)/g)) add(m[1], 'css-background')
  }
  const links: string[] = []
  for (const a of Array.from(document.querySelectorAll('a[href]'))) {
    const url = abs(a.getAttribute('href'))
    if (url) links.push(url)
  }
  return { media: media as [string, DiscoverySource][], links }
}

/** Findings sorted into media (first source wins) and page links; links to image files are media. */
export function toDiscovery(findings: PageFindings): Discovery {
  const media = new Map<string, DiscoverySource>()
  for (const [url, via] of findings.media) if (!url.startsWith('data:') && !media.has(url)) media.set(url, via)
  const links = new Set<string>()
  for (const url of findings.links) {
    if (looksLikeImageUrl(url)) { if (!media.has(url)) media.set(url, 'link') }
    else links.add(url)
  }
  return { media: [...media].map(([url, via]): DiscoveredMedia => ({ url, via })), links: [...links] }
}
