import { ALTERATIONS } from './alter-image.js'
import type { VideoAlteration } from './generate-video.js'
import type { Alteration } from './alter-image.js'
import { IMAGE_EXTENSIONS, IMAGE_MIME_TYPES } from './image-format.js'
import type { ImageFormat } from './image-format.js'
import { Prng, mixSeed } from './prng.js'
import { VIDEO_MIME_TYPES, VIDEO_REFERENCE_KINDS } from './site-manifest.js'
import type { BadReason, ImageKind, ReferenceKind, SiteImage, SiteManifest, SiteVideo, VideoFormat, VideoKind, VideoReferenceKind } from './site-manifest.js'
import type { ResolvedSiteOptions } from './site-options.js'

/** Children per page in the link tree: 200 pages are 3 levels deep, 5,000 pages 5. */
export const PAGE_FANOUT = 8

/** Share of base images in each format (the rest JPEG). */
const FORMAT_WEIGHTS: readonly (readonly [ImageFormat, number])[] = [
  ['png', 0.1],
  ['webp', 0.12],
  ['gif', 0.08],
]

const MEDIA_DIRS = ['/media/', '/uploads/2024/', '/static/img/'] as const

/**
 * What altered copies of known videos get, in turn: generate-video's alterations made through
 * pipes only ('moov-at-end' needs a seekable file, and the site writes nothing to disk).
 */
export const SITE_VIDEO_ALTERATIONS = ['low-bitrate', 'half-scale', 'trim', 'letterbox', 'webm'] as const satisfies readonly VideoAlteration[]

/** Where a link or media reference points, written the way the page writes it. */
export const URL_STYLES = ['root', 'relative', 'absolute'] as const
export type UrlStyle = (typeof URL_STYLES)[number]

export type ImageSource =
  | { readonly type: 'base'; readonly seed: number; readonly width: number; readonly height: number }
  | { readonly type: 'altered'; readonly original: number; readonly alteration: Alteration; readonly seed: number }
  | { readonly type: 'mirror'; readonly of: number }
  | { readonly type: 'bad'; readonly reason: BadReason; readonly seed: number }

export interface PlannedImage {
  readonly path: string
  readonly kind: ImageKind
  readonly baseId: number
  readonly format: ImageFormat
  readonly source: ImageSource
  readonly alteration?: Alteration
  readonly badReason?: BadReason
  readonly duplicateOf?: number
  /** Page indices, filled while references are laid out. */
  readonly pages: Set<number>
  readonly referencedBy: Set<ReferenceKind>
}

export interface Ref {
  readonly style: UrlStyle
  readonly image: number
}

export interface PlannedVideo {
  readonly path: string
  readonly kind: VideoKind
  /** The base video's id (the known original's for a mirror or an altered copy): what the site asks its video source for. */
  readonly baseId: number
  readonly format: VideoFormat
  /** Seed the video source is given for this video. */
  readonly seed: number
  /** Only on an altered copy (whose original is `videos[baseId]`). */
  readonly alteration?: VideoAlteration
  /** Index into the plan's videos of the original, on a mirror. */
  readonly duplicateOf?: number
  readonly pages: Set<number>
  readonly referencedBy: Set<VideoReferenceKind>
}

export interface VideoRef {
  readonly style: UrlStyle
  /** Index into the plan's videos. */
  readonly video: number
}

export type MediaRef =
  | { readonly kind: 'img'; readonly src: Ref }
  | { readonly kind: 'srcset'; readonly src: Ref; readonly large: Ref; readonly widths: boolean }
  | { readonly kind: 'picture'; readonly webp: Ref; readonly fallback: Ref }
  | { readonly kind: 'link'; readonly href: Ref }
  | { readonly kind: 'poster'; readonly src: Ref }
  | { readonly kind: 'video'; readonly form: 'video-src' | 'video-source' | 'video-link'; readonly src: VideoRef }

export interface PageLink {
  readonly style: UrlStyle
  readonly page: number
}

export interface PlannedPage {
  readonly path: string
  readonly title: string
  readonly parent: number | undefined
  readonly children: number[]
  readonly crossLinks: PageLink[]
  readonly externalLinks: string[]
  readonly media: MediaRef[]
  ogImage: Ref | undefined
  ogVideo: VideoRef | undefined
  /** Seed of the filler text. */
  readonly textSeed: number
}

export interface SitePlan {
  readonly options: ResolvedSiteOptions
  readonly baseUrl: string
  readonly pages: readonly PlannedPage[]
  readonly images: readonly PlannedImage[]
  /** Base videos (index = id) first, then altered copies of the known ones, then mirrors of the known ones. */
  readonly videos: readonly PlannedVideo[]
  /** Ids of the known base videos, ascending; `videos[id]` is the original. */
  readonly knownVideoIds: readonly number[]
  /** Index into `pages` of `/bad.html`, when bad inputs are on. */
  readonly badPage: number | undefined
  /** Base image ids of the known images, ascending; `images[id]` is the original. */
  readonly knownIds: readonly number[]
  readonly manifest: SiteManifest
}

/**
 * Lays out the whole site from the options alone: pages, their links, which image each page
 * shows and how. Nothing is drawn here, so a 15,000-image site plans in milliseconds; image
 * bytes are made on request from each image's {@link ImageSource}.
 */
export function planSite(options: ResolvedSiteOptions, baseUrl: string): SitePlan {
  const rng = new Prng(mixSeed(options.seed, 0x517e))
  const pages = planPages(options, rng)
  const { images, knownIds } = planImages(options, rng)
  placeImages(pages, images, rng)
  // Videos draw from their own stream, so asking for some leaves every image and link as it was.
  const { videos, knownVideoIds } = planVideos(options, pages, new Prng(mixSeed(options.seed, 0x71de0)))
  let badPage: number | undefined
  if (options.badInputs) badPage = addBadInputs(options, pages, images)
  const manifest = buildManifest(baseUrl, pages, images, videos)
  return { options, baseUrl, pages, images, videos, knownVideoIds, badPage, knownIds, manifest }
}

function planPages(options: ResolvedSiteOptions, rng: Prng): PlannedPage[] {
  const pages: PlannedPage[] = []
  const section = (i: number): number => {
    let s = i
    while (s > PAGE_FANOUT) s = Math.floor((s - 1) / PAGE_FANOUT)
    return s
  }
  for (let i = 0; i < options.pages; i++) {
    const parent = i === 0 ? undefined : Math.floor((i - 1) / PAGE_FANOUT)
    const path = i === 0 ? '/' : parent === 0 ? `/section-${i}/` : `/section-${section(i)}/article-${i}.html`
    const title = i === 0 ? 'Synthetic site' : parent === 0 ? `Section ${i}` : `Article ${i}`
    const children: number[] = []
    for (let c = i * PAGE_FANOUT + 1; c <= i * PAGE_FANOUT + PAGE_FANOUT && c < options.pages; c++) children.push(c)
    pages.push({ path, title, parent, children, crossLinks: [], externalLinks: [], media: [], ogImage: undefined, ogVideo: undefined, textSeed: mixSeed(options.seed, 4, i) })
  }
  let external = 0
  for (const [i, page] of pages.entries()) {
    // A couple of links across the tree so the graph is not a tree (and some pages are reached twice).
    const cross = options.pages > 2 ? rng.int(1, 2) : 0
    for (let k = 0; k < cross; k++) {
      const target = rng.int(0, options.pages - 1)
      if (target !== i) page.crossLinks.push({ page: target, style: pickStyle(rng) })
    }
    if (i === 0 || rng.chance(0.08)) {
      page.externalLinks.push(
        // Off-site image links point at another loopback address, never at a name that needs DNS:
        // tests send no traffic beyond loopback, and the crawler's guard refuses 127.0.0.2 anyway.
        external % 2 === 0 ? `http://example.invalid/page-${external}.html` : `http://127.0.0.2:9/media/${external}.jpg`,
      )
      external++
    }
  }
  return pages
}

function pickStyle(rng: Prng): UrlStyle {
  const r = rng.next()
  return r < 0.6 ? 'root' : r < 0.85 ? 'relative' : 'absolute'
}

function pickFormat(rng: Prng): ImageFormat {
  let r = rng.next()
  for (const [format, weight] of FORMAT_WEIGHTS) {
    if (r < weight) return format
    r -= weight
  }
  return 'jpeg'
}

function planImages(options: ResolvedSiteOptions, rng: Prng): { images: PlannedImage[]; knownIds: number[] } {
  const n = options.images
  const knownCount = Math.min(n, Math.round(n * options.knownFraction))
  const knownIds = rng
    .shuffle(Array.from({ length: n }, (_, i) => i))
    .slice(0, knownCount)
    .sort((a, b) => a - b)
  const known = new Set(knownIds)
  const [nominalW, nominalH] = options.imageSize

  // Served numbers are shuffled so that a URL says nothing about what the image is.
  const alteredCount = knownCount * options.alteredPerKnown
  const numbers = rng.shuffle(Array.from({ length: n + alteredCount }, (_, i) => i))
  const width = String(numbers.length).length
  const pathFor = (k: number, format: ImageFormat): string => {
    const number = numbers[k] as number
    const dir = MEDIA_DIRS[number % MEDIA_DIRS.length] as string
    return `${dir}${String(number).padStart(Math.max(5, width), '0')}.${IMAGE_EXTENSIONS[format]}`
  }

  const images: PlannedImage[] = []
  for (let id = 0; id < n; id++) {
    const format = pickFormat(rng)
    const w = Math.round(nominalW * rng.range(0.85, 1.15))
    const h = Math.round(nominalH * rng.range(0.85, 1.15))
    images.push({
      path: pathFor(id, format),
      kind: known.has(id) ? 'known' : 'unrelated',
      baseId: id,
      format,
      source: { type: 'base', seed: mixSeed(options.seed, 1, id), width: w, height: h },
      pages: new Set(),
      referencedBy: new Set(),
    })
  }
  for (const [k, id] of knownIds.entries()) {
    const original = images[id] as PlannedImage
    for (let j = 0; j < options.alteredPerKnown; j++) {
      const alteration = ALTERATIONS[(k + j) % ALTERATIONS.length] as Alteration
      const format = alteration === 'recompress' ? 'jpeg' : original.format
      images.push({
        path: pathFor(images.length, format),
        kind: 'altered',
        baseId: id,
        format,
        alteration,
        source: { type: 'altered', original: id, alteration, seed: mixSeed(options.seed, 2, id, j) },
        pages: new Set(),
        referencedBy: new Set(),
      })
    }
  }
  // Mirrors: the same bytes under a second URL (as CDNs and re-uploads do), known ones included.
  const mirrorIds = new Set<number>()
  if (knownIds.length > 0) mirrorIds.add(rng.pick(knownIds))
  const unrelatedIds = Array.from({ length: n }, (_, i) => i).filter((i) => !known.has(i))
  if (unrelatedIds.length > 0) mirrorIds.add(rng.pick(unrelatedIds))
  for (let id = 0; id < n; id++) if (rng.chance(0.02)) mirrorIds.add(id)
  for (const id of [...mirrorIds].sort((a, b) => a - b)) {
    const original = images[id] as PlannedImage
    images.push({
      path: `/mirror${original.path}`,
      kind: original.kind,
      baseId: id,
      format: original.format,
      source: { type: 'mirror', of: id },
      duplicateOf: id,
      pages: new Set(),
      referencedBy: new Set(),
    })
  }
  return { images, knownIds }
}

/** Spreads images over pages (every image on at least one page, some on several) and picks how each is referenced. */
function placeImages(pages: PlannedPage[], images: PlannedImage[], rng: Prng): void {
  const perPage: number[][] = pages.map(() => [])
  const order = rng.shuffle(images.map((_, i) => i))
  for (const [k, image] of order.entries()) {
    const home = k % pages.length
    perPage[home]?.push(image)
    // Some images are seen on several pages: one media, many sightings.
    if (rng.chance(0.08)) {
      const extra = rng.int(1, 3)
      for (let e = 0; e < extra; e++) {
        const page = rng.int(0, pages.length - 1)
        const list = perPage[page] as number[]
        if (!list.includes(image)) list.push(image)
      }
    }
  }
  for (const [p, page] of pages.entries()) {
    const queue = rng.shuffle(perPage[p] as number[])
    const take = (predicate: (i: number) => boolean): number | undefined => {
      const at = queue.findIndex(predicate)
      return at < 0 ? undefined : queue.splice(at, 1)[0]
    }
    const ref = (image: number): Ref => {
      images[image]?.pages.add(p)
      return { image, style: pickStyle(rng) }
    }
    const mark = (image: number, kind: ReferenceKind): void => {
      images[image]?.referencedBy.add(kind)
    }
    while (queue.length > 0) {
      const first = queue.shift() as number
      const format = images[first]?.format
      const r = rng.next()
      if (format === 'webp') {
        const fallback = take((i) => images[i]?.format !== 'webp')
        if (fallback !== undefined) {
          page.media.push({ kind: 'picture', webp: ref(first), fallback: ref(fallback) })
          mark(first, 'picture')
          mark(fallback, 'picture')
          continue
        }
      }
      if (r < 0.14 && queue.length > 0) {
        const large = queue.shift() as number
        page.media.push({ kind: 'srcset', src: ref(first), large: ref(large), widths: rng.chance(0.5) })
        mark(first, 'srcset')
        mark(large, 'srcset')
      } else if (r < 0.24) {
        page.media.push({ kind: 'link', href: ref(first) })
        mark(first, 'link')
      } else if (r < 0.28) {
        page.media.push({ kind: 'poster', src: ref(first) })
        mark(first, 'poster')
      } else if (r < 0.32 && page.ogImage === undefined) {
        page.ogImage = ref(first)
        mark(first, 'og-image')
      } else {
        page.media.push({ kind: 'img', src: ref(first) })
        mark(first, 'img')
      }
    }
  }
}

/**
 * Plans the videos (known ones with altered copies and a mirror each) and places them on pages: references go round
 * the four forms in turn, and there are at least four, so a site with one video still shows every
 * form a crawler must find.
 */
function planVideos(options: ResolvedSiteOptions, pages: PlannedPage[], rng: Prng): { videos: PlannedVideo[]; knownVideoIds: number[] } {
  const n = options.videos
  if (n === 0) return { videos: [], knownVideoIds: [] }
  const knownCount = Math.min(n, Math.round(n * options.knownVideoFraction))
  const knownVideoIds = rng.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, knownCount).sort((a, b) => a - b)
  const known = new Set(knownVideoIds)
  // Served numbers are shuffled so that a URL says nothing about what the video is.
  const alteredCount = knownCount * options.alteredPerKnownVideo
  const numbers = rng.shuffle(Array.from({ length: n + alteredCount }, (_, i) => i))
  const width = Math.max(5, String(numbers.length).length)
  const pathFor = (k: number, format: VideoFormat): string => `/video/${String(numbers[k]).padStart(width, '0')}.${format}`
  const videos: PlannedVideo[] = []
  for (let id = 0; id < n; id++) {
    const format = options.videoFormats[id % options.videoFormats.length] as VideoFormat
    videos.push({
      path: pathFor(id, format),
      kind: known.has(id) ? 'known' : 'unrelated',
      baseId: id,
      format,
      seed: mixSeed(options.seed, 6, id),
      pages: new Set(),
      referencedBy: new Set(),
    })
  }
  for (const [k, id] of knownVideoIds.entries()) {
    for (let j = 0; j < options.alteredPerKnownVideo; j++) {
      const alteration = SITE_VIDEO_ALTERATIONS[(k + j) % SITE_VIDEO_ALTERATIONS.length] as VideoAlteration
      const format: VideoFormat = alteration === 'webm' ? 'webm' : 'mp4'
      videos.push({
        path: pathFor(videos.length, format),
        kind: 'altered',
        baseId: id,
        format,
        alteration,
        seed: mixSeed(options.seed, 7, id, j),
        pages: new Set(),
        referencedBy: new Set(),
      })
    }
  }
  for (const id of knownVideoIds) {
    const original = videos[id] as PlannedVideo
    videos.push({ ...original, path: `/mirror${original.path}`, duplicateOf: id, pages: new Set(), referencedBy: new Set() })
  }

  const order = rng.shuffle(videos.map((_, i) => i))
  const refs = Math.max(order.length, VIDEO_REFERENCE_KINDS.length)
  for (let k = 0; k < refs; k++) {
    const index = order[k % order.length] as number
    const video = videos[index] as PlannedVideo
    let form = VIDEO_REFERENCE_KINDS[k % VIDEO_REFERENCE_KINDS.length] as VideoReferenceKind
    let p = rng.int(0, pages.length - 1)
    if (form === 'og-video') {
      // One og:video per page: the next page without one, or an inline video if all have one.
      let free = -1
      for (let step = 0; step < pages.length && free < 0; step++) if ((pages[(p + step) % pages.length] as PlannedPage).ogVideo === undefined) free = (p + step) % pages.length
      if (free < 0) form = 'video-src'
      else p = free
    }
    const page = pages[p] as PlannedPage
    video.pages.add(p)
    video.referencedBy.add(form)
    if (form === 'og-video') page.ogVideo = { video: index, style: 'absolute' }
    else page.media.push({ kind: 'video', form, src: { video: index, style: pickStyle(rng) } })
  }
  return { videos, knownVideoIds }
}

function addBadInputs(options: ResolvedSiteOptions, pages: PlannedPage[], images: PlannedImage[]): number {
  const index = pages.length
  const page: PlannedPage = {
    path: '/bad.html',
    title: 'Broken media',
    parent: 0,
    children: [],
    crossLinks: [],
    externalLinks: [],
    media: [],
    ogImage: undefined,
    ogVideo: undefined,
    textSeed: mixSeed(options.seed, 5),
  }
  pages.push(page)
  const bad: readonly (readonly [BadReason, string, ImageFormat])[] = [
    ['truncated', '/bad/truncated.jpg', 'jpeg'],
    ['empty', '/bad/empty.png', 'png'],
    ['not-image', '/bad/not-an-image.jpg', 'jpeg'],
    ['oversized', '/bad/huge.jpg', 'jpeg'],
    ['pixel-flood', '/bad/pixel-flood.png', 'png'],
  ]
  for (const [reason, path, format] of bad) {
    const image = images.length
    images.push({
      path,
      kind: 'bad',
      baseId: -1,
      format,
      badReason: reason,
      source: { type: 'bad', reason, seed: mixSeed(options.seed, 3) },
      pages: new Set([index]),
      referencedBy: new Set([reason === 'oversized' ? 'link' : 'img']),
    })
    page.media.push(reason === 'oversized' ? { kind: 'link', href: { image, style: 'root' } } : { kind: 'img', src: { image, style: 'root' } })
  }
  return index
}

function buildManifest(baseUrl: string, pages: readonly PlannedPage[], images: readonly PlannedImage[], videos: readonly PlannedVideo[]): SiteManifest {
  const pageUrls = pages.map((p) => baseUrl + p.path)
  return {
    baseUrl,
    pages: pageUrls,
    images: images.map((image): SiteImage => {
      const entry: SiteImage = {
        url: baseUrl + image.path,
        kind: image.kind,
        baseId: image.baseId,
        format: image.format,
        contentType: IMAGE_MIME_TYPES[image.format],
        pages: [...image.pages].sort((a, b) => a - b).map((p) => pageUrls[p] as string),
        referencedBy: [...image.referencedBy].sort(),
        ...(image.alteration === undefined ? {} : { alteration: image.alteration }),
        ...(image.badReason === undefined ? {} : { badReason: image.badReason }),
        ...(image.duplicateOf === undefined ? {} : { duplicateOf: baseUrl + (images[image.duplicateOf] as PlannedImage).path }),
      }
      return entry
    }),
    videos: videos.map((video): SiteVideo => ({
      url: baseUrl + video.path,
      kind: video.kind,
      baseId: video.baseId,
      format: video.format,
      contentType: VIDEO_MIME_TYPES[video.format],
      ...(video.alteration === undefined ? {} : { alteration: video.alteration }),
      ...(video.duplicateOf === undefined ? {} : { duplicateOf: baseUrl + (videos[video.duplicateOf] as PlannedVideo).path }),
      pages: [...video.pages].sort((a, b) => a - b).map((p) => pageUrls[p] as string),
      referencedBy: [...video.referencedBy].sort(),
    })),
    externalLinks: pages.flatMap((p) => p.externalLinks),
  }
}
