import { SETTINGS } from '@arachnid/core/config'
import { withDefaults } from '@arachnid/core/with-defaults'

/** Bounds and choices for hashing one image. Every field is optional; defaults are in `DEFAULT_HASH_OPTIONS`. */
export interface HashOptions {
  /** Inputs longer than this are refused (`TOO_LARGE`) before anything else is done. Default: the ARACHNID_MAX_MEDIA_BYTES default (32 MiB). */
  readonly maxBytes?: number
  /**
   * Images whose header claims more pixels (width x height of one frame) are refused (`TOO_LARGE`)
   * before decoding. Animated images are also bounded by this in total across decoded frames.
   * Default: the ARACHNID_MAX_PIXELS default (50e6).
   */
  readonly maxPixels?: number
  /** Decoding taking longer is abandoned (`TIMEOUT`). Default 10000 ms. */
  readonly timeoutMs?: number
  /** Also return the 8 PDQ dihedral hashes (rotations and flips) in `pdqDihedral`. Default false. */
  readonly dihedral?: boolean
  /**
   * Animated images: 0 hashes only the first frame (the default); N > 0 also hashes frames
   * 0, N, 2N, ... into `frames` (at most `maxFrames` of them).
   */
  readonly frameStep?: number
  /** Upper bound on frames hashed when `frameStep` > 0. Default 32. */
  readonly maxFrames?: number
  /** Rasterise SVG (librsvg, no external access; entity declarations refused). Default true. */
  readonly allowSvg?: boolean
  /** SVG documents longer than this are refused (`UNSAFE_SVG`). Default 1 MiB. */
  readonly maxSvgBytes?: number
  /**
   * Composite transparent pixels onto white before the perceptual hashes. Default false, because the
   * reference implementations that produce known-hash lists do not: PDQ reads the stored RGB and
   * ignores alpha, blockhash counts only fully transparent pixels as white. Flattening moves
   * blockhash by 16 bits on one fixture and PDQ by 60 bits on another; see README.
   */
  readonly flattenAlpha?: boolean
}

/**
 * The defaults, in one place: the bounds that are settings come from the configuration's
 * `SETTINGS` (the CLI passes the configured values); the rest are the hasher's own.
 */
export const DEFAULT_HASH_OPTIONS: Required<HashOptions> = {
  maxBytes: SETTINGS.maxMediaBytes.default,
  maxPixels: SETTINGS.maxPixels.default,
  timeoutMs: 10_000,
  dihedral: false,
  frameStep: 0,
  maxFrames: 32,
  allowSvg: true,
  maxSvgBytes: 1024 * 1024,
  flattenAlpha: false,
}

/** Defaults filled in, and nonsense (negative bounds, fractions) refused early with a `RangeError`. */
export function resolveHashOptions(options: HashOptions = {}): Required<HashOptions> {
  const resolved: Required<HashOptions> = withDefaults(DEFAULT_HASH_OPTIONS, options)
  for (const key of ['maxBytes', 'maxPixels', 'timeoutMs', 'maxSvgBytes', 'maxFrames'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) throw new RangeError(`${key} must be a positive integer, got ${resolved[key]}`)
  }
  if (!Number.isInteger(resolved.frameStep) || resolved.frameStep < 0) {
    throw new RangeError(`frameStep must be a non-negative integer, got ${resolved.frameStep}`)
  }
  return resolved
}
