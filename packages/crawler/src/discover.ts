/** Where a media URL was found on a page; kept with each sighting. */
export const DISCOVERY_SOURCES = ['img-src', 'img-srcset', 'picture-source', 'video-poster', 'og-image', 'link', 'lazy-src', 'css-background'] as const
export type DiscoverySource = (typeof DISCOVERY_SOURCES)[number]

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.jpe', '.png', '.gif', '.webp', '.bmp', '.tif', '.tiff', '.avif', '.heic', '.heif', '.svg', '.ico'] as const

export interface DiscoveredMedia {
  readonly url: string
  readonly via: DiscoverySource
}

export interface Discovery {
  readonly media: DiscoveredMedia[]
  readonly links: string[]
}

/** The minimal part of a cheerio document we read. */
export interface CheerioLike {
  (selector: string): { each(fn: (index: number, element: any) => void): unknown }
}

/**
 * URLs of a `srcset` attribute, following the HTML parsing algorithm: a URL runs to the next
 * whitespace (so it may contain commas); trailing commas end a candidate without descriptors;
 * otherwise descriptors run to the next comma outside parentheses.
 */
export function parseSrcset(srcset: string): string[] {
  const urls: string[] = []
  let i = 0
  const n = srcset.length
  const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f'
  while (i < n) {
    while (i < n && (isSpace(srcset[i]) || srcset[i] === ',')) i++
    if (i >= n) break
    const start = i
    while (i < n && !isSpace(srcset[i])) i++
    let url = srcset.slice(start, i)
    if (url.endsWith(',')) {
      url = url.replace(/,+$/, '')
    } else {
      let depth = 0
      while (i < n) {
        const c = srcset[i]
        if (c === '(') depth++
        else if (c === ')') depth = Math.max(0, depth - 1)
        else if (c === ',' && depth === 0) break
        i++
      }
    }
    if (url) urls.push(url)
  }
  return urls
}

function resolve(base: string, href: string | undefined): string | undefined {
  if (!href) return undefined
  const trimmed = href.trim()
  if (trimmed === '' || /^(data|javascript|mailto|tel|blob|about):/i.test(trimmed)) return undefined
  try {
    const url = new URL(trimmed, base)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
    url.hash = ''
    return url.toString()
  } catch {
    return undefined
  }
}

export function looksLikeImageUrl(url: string): boolean {
  const pathname = new URL(url).pathname.toLowerCase()
  return IMAGE_EXTENSIONS.some((ext) => pathname.endsWith(ext))
}

/**
 * Media and page links of an HTML page: `img` src and srcset, `picture source` srcset, `video`
 * posters, `og:image` (and twitter:image) meta tags, and links to image files; other `a href`
 * links are page candidates. Each URL is absolute and appears once.
 */
export function discover($: CheerioLike, baseUrl: string): Discovery {
  const media = new Map<string, DiscoverySource>()
  const links = new Set<string>()
  const addMedia = (href: string | undefined, via: DiscoverySource) => {
    const url = resolve(baseUrl, href)
    if (url !== undefined && !media.has(url)) media.set(url, via)
  }
  $('img').each((_, el) => {
    addMedia(el.attribs?.src, 'img-src')
    if (el.attribs?.srcset) for (const u of parseSrcset(el.attribs.srcset)) addMedia(u, 'img-srcset')
  })
  $('picture source').each((_, el) => {
    if (el.attribs?.srcset) for (const u of parseSrcset(el.attribs.srcset)) addMedia(u, 'picture-source')
  })
  $('video[poster]').each((_, el) => addMedia(el.attribs?.poster, 'video-poster'))
  $('meta[property="og:image"], meta[property="og:image:url"], meta[property="og:image:secure_url"], meta[name="twitter:image"]').each((_, el) => addMedia(el.attribs?.content, 'og-image'))
  $('a[href]').each((_, el) => {
    const url = resolve(baseUrl, el.attribs?.href)
    if (url === undefined) return
    if (looksLikeImageUrl(url)) addMedia(url, 'link')
    else links.add(url)
  })
  return { media: [...media].map(([url, via]) => ({ url, via })), links: [...links] }
}
