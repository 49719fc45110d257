/**
 * Where a media URL was found on a page; kept with each sighting (`sightings.via`, a text column).
 * The first eight name images; the rest name videos: `video-src` (`<video src>`), `video-source`
 * (`<video><source src>`), `og-video` (og:video, og:video:url, og:video:secure_url,
 * twitter:player:stream), `video-link` (an `a href` to a video file) and `media-current-src` (what a
 * video element is playing in the browser, `HTMLMediaElement.currentSrc`, which scripts may set).
 */
export const DISCOVERY_SOURCES = [
  'img-src', 'img-srcset', 'picture-source', 'video-poster', 'og-image', 'link', 'lazy-src', 'css-background',
  'video-src', 'video-source', 'og-video', 'video-link', 'media-current-src',
] as const
export type DiscoverySource = (typeof DISCOVERY_SOURCES)[number]

/** The sources that point at a video rather than an image (a poster is an image). */
export const VIDEO_DISCOVERY_SOURCES: readonly DiscoverySource[] = ['video-src', 'video-source', 'og-video', 'video-link', 'media-current-src']

/** What a media URL is expected to be: a hint from where it was found, not from its bytes. */
export type MediaKind = 'image' | 'video'

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.jpe', '.png', '.gif', '.webp', '.bmp', '.tif', '.tiff', '.avif', '.heic', '.heif', '.svg', '.ico'] as const

/** File name endings of linked videos (compared lower-case, on the path only). */
export const VIDEO_EXTENSIONS = ['.mp4', '.m4v', '.webm', '.mov', '.mkv', '.avi'] as const

export interface DiscoveredMedia {
  readonly url: string
  readonly via: DiscoverySource
  /**
   * Image or video, as where it was found suggests; the media pipeline decides by sniffing the
   * bytes. Discovery always sets it; optional so media made elsewhere (seeds) need not say.
   */
  readonly kind?: MediaKind
}

/** The kind a discovery source suggests. */
export function kindOf(via: DiscoverySource): MediaKind {
  return VIDEO_DISCOVERY_SOURCES.includes(via) ? 'video' : 'image'
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
  if (trimmed === '' || /^(data|javascript|mailto|tel|blob|about|mediastream):/i.test(trimmed)) return undefined
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
 * Whether a URL names a video file by its extension (.mp4, .m4v, .webm, .mov, .mkv, .avi, any
 * case); the query and fragment do not count. A relative or unparsable URL is read as a path.
 *
 * @example
 * looksLikeVideoUrl('https://x.test/clip.MP4?t=3') // true
 * looksLikeVideoUrl('https://x.test/watch?v=clip.mp4') // false
 */
export function looksLikeVideoUrl(url: string): boolean {
  let pathname: string
  try {
    pathname = new URL(url, 'http://relative.invalid/').pathname.toLowerCase()
  } catch {
    return false
  }
  return VIDEO_EXTENSIONS.some((ext) => pathname.endsWith(ext))
}

const metaSelector = (names: readonly string[]): string => names.flatMap((n) => [`meta[property="${n}"]`, `meta[name="${n}"]`]).join(', ')
/** Meta tags naming a page's image (Open Graph uses property, Twitter name; both are seen for each). */
export const OG_IMAGE_SELECTOR = metaSelector(['og:image', 'og:image:url', 'og:image:secure_url', 'twitter:image'])
/** Meta tags naming a page's video file (twitter:player itself is an HTML page to embed, not a file). */
export const OG_VIDEO_SELECTOR = metaSelector(['og:video', 'og:video:url', 'og:video:secure_url', 'twitter:player:stream'])

/**
 * Media and page links of an HTML page: `img` src and srcset, `picture source` srcset, `video`
 * posters, `og:image` (and twitter:image) meta tags, links to image files; videos from `video`
 * src, `video source` src (not `audio`), og:video (and twitter:player:stream) and links to video
 * files; other `a href` links are page candidates. Each URL is absolute, appears once (the first
 * place it was found names its source), and has the kind that place suggests.
 *
 * @example
 * discover(load('<video src="/v.mp4"></video>'), 'http://x.test/').media
 * // [{ url: 'http://x.test/v.mp4', via: 'video-src', kind: 'video' }]
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
  $('video[src]').each((_, el) => addMedia(el.attribs?.src, 'video-src'))
  $('video source[src]').each((_, el) => addMedia(el.attribs?.src, 'video-source'))
  $(OG_IMAGE_SELECTOR).each((_, el) => addMedia(el.attribs?.content, 'og-image'))
  $(OG_VIDEO_SELECTOR).each((_, el) => addMedia(el.attribs?.content, 'og-video'))
  $('a[href]').each((_, el) => {
    const url = resolve(baseUrl, el.attribs?.href)
    if (url === undefined) return
    if (looksLikeImageUrl(url)) addMedia(url, 'link')
    else if (looksLikeVideoUrl(url)) addMedia(url, 'video-link')
    else links.add(url)
  })
  return { media: [...media].map(([url, via]) => ({ url, via, kind: kindOf(via) })), links: [...links] }
}
