import type { Alteration } from './alter-image.js'
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

export interface SiteManifest {
  /** `http://host:port`, without a trailing slash. */
  readonly baseUrl: string
  /** Absolute URLs of every HTML page, the index first (the bad-input page last, when present). */
  readonly pages: readonly string[]
  /** Every image URL served. */
  readonly images: readonly SiteImage[]
  /** Off-site links present on the pages (`*.invalid` pages, never resolvable, and images on 127.0.0.2); a same-site crawler must not follow the pages. */
  readonly externalLinks: readonly string[]
}
