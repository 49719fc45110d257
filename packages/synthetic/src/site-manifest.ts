import type { Alteration } from './alter-image.js'
import type { VideoAlteration } from './generate-video.js'
import type { ImageFormat } from './image-format.js'

/** What an image on the site is, for a test to check what the crawler and matcher made of it. */
export const IMAGE_KINDS = ['known', 'altered', 'unrelated', 'bad'] as const

export type ImageKind = (typeof IMAGE_KINDS)[number]

/** Why a bad image is bad; each should be recorded by the crawler with a reason, never crash it. */
export const BAD_REASONS = ['truncated', 'empty', 'not-image', 'oversized', 'pixel-flood'] as const

export type BadReason = (typeof BAD_REASONS)[number]

/** How a page references an image; every way a crawler must discover media appears on the default site. */
export const REFERENCE_KINDS = ['img', 'srcset', 'picture', 'link', 'poster', 'og-image'] as const

export type ReferenceKind = (typeof REFERENCE_KINDS)[number]

export interface SiteImage {
  /** Absolute URL the image is served at. */
  readonly url: string
  readonly kind: ImageKind
  /**
   * Id of the base image: its own id for 'known' and 'unrelated', the known original's id for
   * 'altered' (the `id` that {@link SyntheticSite.knownImages} yields), -1 for 'bad'.
   */
  readonly baseId: number
  /** Only for 'altered'. */
  readonly alteration?: Alteration
  /** Only for 'bad'. */
  readonly badReason?: BadReason
  /** Format the bytes are in (for 'bad': the format the Content-Type claims). */
  readonly format: ImageFormat
  /** Content-Type served. */
  readonly contentType: string
  /** Set on a mirror: this URL serves byte for byte the same as the URL given. */
  readonly duplicateOf?: string
  /** Absolute URLs of the pages that reference it, in page order. */
  readonly pages: readonly string[]
  /** How those pages reference it (each kind once). */
  readonly referencedBy: readonly ReferenceKind[]
}

/** The video containers the synthetic site serves, with their MIME types (the file extension is the format's name). */
export const VIDEO_FORMATS = ['mp4', 'webm'] as const

export type VideoFormat = (typeof VIDEO_FORMATS)[number]

export const VIDEO_MIME_TYPES: Readonly<Record<VideoFormat, string>> = {
  mp4: 'video/mp4',
  webm: 'video/webm',
}

/**
 * What a video on the site is: 'known' (its original is on the known list; its mirror, a
 * byte-identical copy at another URL, is 'known' too, with `duplicateOf` set), 'altered' (a
 * re-encoded, scaled, trimmed or letterboxed copy of a known one, which should still match it the
 * vPDQ way) or 'unrelated' (distinct, matching nothing).
 */
export const VIDEO_KINDS = ['known', 'altered', 'unrelated'] as const

export type VideoKind = (typeof VIDEO_KINDS)[number]

/**
 * How a page references a video, named as the crawler's discovery sources are: `<video src>`,
 * `<video><source src>`, `<meta property="og:video">`, `<a href>` to the file. On a site with at
 * least one video every kind appears.
 */
export const VIDEO_REFERENCE_KINDS = ['video-src', 'video-source', 'og-video', 'video-link'] as const

export type VideoReferenceKind = (typeof VIDEO_REFERENCE_KINDS)[number]

export interface SiteVideo {
  /** Absolute URL the video is served at (its path ends in `.mp4` or `.webm`). */
  readonly url: string
  readonly kind: VideoKind
  /** Id of the base video: its own id, or the known original's for a mirror or an altered copy (the `id` that {@link SyntheticSite.knownVideos} yields). */
  readonly baseId: number
  /** Only for 'altered'. */
  readonly alteration?: VideoAlteration
  readonly format: VideoFormat
  /** Content-Type served (the video source is asked for this format). */
  readonly contentType: string
  /** Set on a mirror: this URL serves byte for byte the same as the URL given. */
  readonly duplicateOf?: string
  /** Absolute URLs of the pages that reference it, in page order. */
  readonly pages: readonly string[]
  /** How those pages reference it (each kind once). */
  readonly referencedBy: readonly VideoReferenceKind[]
}

export interface SiteManifest {
  /** `http://host:port`, without a trailing slash. */
  readonly baseUrl: string
  /** Absolute URLs of every HTML page, the index first (the bad-input page last, when present). */
  readonly pages: readonly string[]
  /** Every image URL served. */
  readonly images: readonly SiteImage[]
  /** Every video URL served (none unless {@link SiteOptions.videos} asks for some): the base videos in id order, then altered copies, then mirrors. */
  readonly videos: readonly SiteVideo[]
  /** Off-site links present on the pages (`*.invalid` pages, never resolvable, and images on 127.0.0.2); a same-site crawler must not follow the pages. */
  readonly externalLinks: readonly string[]
}
