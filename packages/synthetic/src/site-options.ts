import { alterVideo, generateVideo } from './generate-video.js'
import type { VideoAlteration, VideoSpec } from './generate-video.js'
import { VIDEO_FORMATS, VIDEO_MIME_TYPES } from './site-manifest.js'
import type { VideoFormat } from './site-manifest.js'

/**
 * What the site asks a {@link VideoSource} for: a distinct benign video, deterministic from
 * `seed`; or, with `alteration`, a changed copy of `original` (a known video's bytes as served).
 */
export interface VideoRequest {
  /** Seed of this video (follows from the site seed and the video id): the same request must give the same bytes. */
  readonly seed: number
  /** Container the site serves it as (its URL ends in `.${format}`). */
  readonly format: VideoFormat
  /** Set for an altered copy: what to change (an alteration of generate-video's {@link alterVideo}). */
  readonly alteration?: VideoAlteration
  /** Set for an altered copy: the original's bytes. */
  readonly original?: Uint8Array
}

/** The bytes of one video and the Content-Type to serve them with. */
export interface VideoBytes {
  readonly bytes: Uint8Array
  readonly contentType: string
}

/**
 * Makes the bytes of base video `id` (0 to `videos - 1`), or of an altered copy of known video
 * `id`. The site asks once per distinct video (mirrors share their original's bytes), on first
 * request, and keeps the result in memory for its lifetime.
 */
export type VideoSource = (id: number, request: VideoRequest) => Promise<VideoBytes>

/** Size and length of the site's generated videos: small, so a video is made in well under a second. */
export const DEFAULT_SITE_VIDEO = { width: 320, height: 180, seconds: 12 } as const satisfies Omit<VideoSpec, 'seed' | 'container'>

/**
 * A {@link VideoSource} that films benign synthetic videos with Debian's ffmpeg, in memory
 * (generate-video's {@link generateVideo}; MP4 is fragmented so nothing needs a seekable file), and
 * alters them with {@link alterVideo}. The site's default.
 *
 * @example
 * const site = await startSyntheticSite({ videos: 4, videoSource: generatedVideos({ width: 640, height: 360 }) })
 */
export function generatedVideos(spec: Omit<VideoSpec, 'seed' | 'container'> = DEFAULT_SITE_VIDEO): VideoSource {
  return async (_id, request) => {
    const bytes = request.alteration === undefined || request.original === undefined
      ? await generateVideo({ ...spec, seed: request.seed, container: request.format })
      : await alterVideo(request.original, request.alteration, spec.ffmpegPath)
    return { bytes, contentType: VIDEO_MIME_TYPES[request.format] }
  }
}

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
   * Distinct base videos; each known one also gets altered copies and a mirror (same bytes, second
   * URL). Default 0: no video, and every page and image is exactly what it is without this option.
   */
  readonly videos?: number
  /** Share of the base videos that are "known" (rounded; 0.5 of 1 video is 1). Default 0.5. */
  readonly knownVideoFraction?: number
  /** Altered copies per known video (low bitrate, half scale, trim, letterbox, WebM in turn). Default 1. */
  readonly alteredPerKnownVideo?: number
  /** Containers of the base videos, taken in turn. Default ['mp4', 'webm']. */
  readonly videoFormats?: readonly VideoFormat[]
  /** Makes the video bytes. Default {@link generatedVideos}() (ffmpeg, 320x180, 12 s). */
  readonly videoSource?: VideoSource
}

export type ResolvedSiteOptions = Required<SiteOptions>

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
  alteredPerKnownVideo: 1,
  videoFormats: ['mp4', 'webm'],
  videoSource: generatedVideos(),
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
  integer('alteredPerKnownVideo', o.alteredPerKnownVideo, 0)
  if (!(o.knownVideoFraction >= 0 && o.knownVideoFraction <= 1)) throw new RangeError(`SiteOptions.knownVideoFraction must be in [0, 1], got ${o.knownVideoFraction}`)
  if (o.videoFormats.length === 0 || o.videoFormats.some((f) => !VIDEO_FORMATS.includes(f))) {
    throw new RangeError(`SiteOptions.videoFormats must be a non-empty list of ${VIDEO_FORMATS.join(', ')}, got ${o.videoFormats.join(', ')}`)
  }
  if (typeof o.videoSource !== 'function') throw new TypeError('SiteOptions.videoSource must be a function')
  const [w, h] = o.imageSize
  integer('imageSize', w, 16)
  integer('imageSize', h, 16)
  return o
}

function stripUndefined(options: SiteOptions): SiteOptions {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as SiteOptions
}
