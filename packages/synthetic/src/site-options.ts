import { VIDEO_FORMATS } from './site-manifest.js'
import type { VideoFormat } from './site-manifest.js'

/** What the site asks a {@link VideoSource} for: one distinct benign video, deterministic from `seed`. */
export interface VideoRequest {
  /** Seed of this video (follows from the site seed and the video id): the same request must give the same bytes. */
  readonly seed: number
  /** Container the site serves it as (its URL ends in `.${format}`). */
  readonly format: VideoFormat
}

/** The bytes of one video and the Content-Type to serve them with. */
export interface VideoBytes {
  readonly bytes: Uint8Array
  readonly contentType: string
}

/**
 * Makes the bytes of base video `id` (0 to `videos - 1`). The site calls it at most once per id
 * (mirrors share their original's bytes), on first request, and keeps the result in memory.
 */
export type VideoSource = (id: number, request: VideoRequest) => Promise<VideoBytes>

/** How the synthetic site is built and served. Every field is optional; see {@link DEFAULT_SITE_OPTIONS}. */
export interface SiteOptions {
  /** Seed of everything on the site: the same seed gives byte-identical pages and images (up to the base URL). Default 1. */
  readonly seed?: number
  /** HTML pages in the link tree, the index `/` included (the bad-input page comes on top). Default 200. */
  readonly pages?: number
  /** Distinct base images (known + unrelated); altered copies, mirrors and bad inputs come on top. Default 500. */
  readonly images?: number
  /** Share of the base images that are "known" (their originals are what {@link SyntheticSite.knownImages} yields). Default 0.1. */
  readonly knownFraction?: number
  /** Altered copies per known image (resize, recompress, crop in turn). Default 1. */
  readonly alteredPerKnown?: number
  /** Add `/bad.html` (linked from the index) with truncated, empty, non-image, oversized and pixel-flood media. Default true. */
  readonly badInputs?: boolean
  /** Nominal image size [width, height]; each base image varies it by up to ±15%. Default [320, 240]. */
  readonly imageSize?: readonly [number, number]
  /** Address to listen on. Default '127.0.0.1'. */
  readonly host?: string
  /** Port to listen on; 0 picks a free one. Default 0. */
  readonly port?: number
  /** Declared (and streamed) length of the oversized bad image, in bytes. Default 40 MiB. */
  readonly oversizedBytes?: number
  /** Memory budget of the cache of generated image bytes; images past it are regenerated on request. Default 64 MiB. */
  readonly cacheBytes?: number
  /** Delay before every response, in milliseconds, to make the site behave like a slow remote host. Default 0. */
  readonly latencyMs?: number
  /**
   * Distinct base videos; each known one also gets a mirror (same bytes, second URL). Default 0:
   * no video, and every page and image is exactly what it is without this option.
   */
  readonly videos?: number
  /** Share of the base videos that are "known" (rounded; 0.5 of 1 video is 1). Default 0.5. */
  readonly knownVideoFraction?: number
  /** Containers of the base videos, taken in turn. Default ['mp4', 'webm']. */
  readonly videoFormats?: readonly VideoFormat[]
  /** Makes the video bytes; required when `videos` > 0. */
  readonly videoSource?: VideoSource
}

export type ResolvedSiteOptions = Required<Omit<SiteOptions, 'videoSource'>> & Pick<SiteOptions, 'videoSource'>

export const DEFAULT_SITE_OPTIONS = {
  seed: 1,
  pages: 200,
  images: 500,
  knownFraction: 0.1,
  alteredPerKnown: 1,
  badInputs: true,
  imageSize: [320, 240],
  host: '127.0.0.1',
  port: 0,
  oversizedBytes: 40 * 1024 * 1024,
  cacheBytes: 64 * 1024 * 1024,
  latencyMs: 0,
  videos: 0,
  knownVideoFraction: 0.5,
  videoFormats: ['mp4', 'webm'],
} as const satisfies ResolvedSiteOptions

/** Fills in defaults and rejects values that cannot make a site. */
export function resolveSiteOptions(options: SiteOptions = {}): ResolvedSiteOptions {
  const o: ResolvedSiteOptions = { ...DEFAULT_SITE_OPTIONS, ...stripUndefined(options) }
  const integer = (name: keyof SiteOptions, value: number, min: number): void => {
    if (!Number.isInteger(value) || value < min) throw new RangeError(`SiteOptions.${name} must be an integer >= ${min}, got ${value}`)
  }
  integer('seed', o.seed, 0)
  integer('pages', o.pages, 1)
  integer('images', o.images, 0)
  integer('alteredPerKnown', o.alteredPerKnown, 0)
  integer('port', o.port, 0)
  integer('oversizedBytes', o.oversizedBytes, 1024)
  integer('cacheBytes', o.cacheBytes, 0)
  if (!(o.knownFraction >= 0 && o.knownFraction <= 1)) throw new RangeError(`SiteOptions.knownFraction must be in [0, 1], got ${o.knownFraction}`)
  if (!(o.latencyMs >= 0)) throw new RangeError(`SiteOptions.latencyMs must be >= 0, got ${o.latencyMs}`)
  integer('videos', o.videos, 0)
  if (!(o.knownVideoFraction >= 0 && o.knownVideoFraction <= 1)) throw new RangeError(`SiteOptions.knownVideoFraction must be in [0, 1], got ${o.knownVideoFraction}`)
  if (o.videoFormats.length === 0 || o.videoFormats.some((f) => !VIDEO_FORMATS.includes(f))) {
    throw new RangeError(`SiteOptions.videoFormats must be a non-empty list of ${VIDEO_FORMATS.join(', ')}, got ${o.videoFormats.join(', ')}`)
  }
  if (o.videos > 0 && o.videoSource === undefined) throw new RangeError('SiteOptions.videos needs a videoSource to make the video bytes')
  const [w, h] = o.imageSize
  integer('imageSize', w, 16)
  integer('imageSize', h, 16)
  return o
}

function stripUndefined(options: SiteOptions): SiteOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as SiteOptions
}
