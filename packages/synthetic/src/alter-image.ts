import sharp from 'sharp'
import { encodeWith, toUint8Array } from './generate-image.js'
import type { ImageFormat } from './image-format.js'
import { Prng } from './prng.js'

/** How an altered copy differs from its known original; each keeps it perceptually close. */
export const ALTERATIONS = ['resize', 'recompress', 'crop'] as const

export type Alteration = (typeof ALTERATIONS)[number]

export const ALTERATION_DEFAULTS = {
  /** Scale factor of 'resize'. */
  resizeFactor: 0.7,
  /** JPEG quality of 'recompress'. */
  recompressQuality: 40,
  /**
   * 'crop' removes between these shares of the width / height on each side (at least one
   * pixel), chosen per copy: 1-2 pixels per side at 320x240. Small on purpose: blockhash-256
   * thresholds each block against its band's median, so 1% per side already moves it ~4 bits on
   * average and up to 16 on unlucky pictures, and 4% per side 15-40 bits, past any sane match
   * threshold (PDQ fares little better: ~12 bits on average at 1%).
   */
  cropMin: 0.002,
  cropMax: 0.005,
  /** Quality used when an alteration re-encodes to a lossy format. */
  quality: 85,
} as const

export interface AlteredImage {
  readonly bytes: Uint8Array
  readonly format: ImageFormat
}

/**
 * Derives an altered copy from the encoded bytes of an original, as a re-uploader would:
 * decoded and re-encoded, so the copy matches perceptually but never byte for byte.
 */
export async function alterImage(
  original: Uint8Array,
  format: ImageFormat,
  alteration: Alteration,
  seed: number,
): Promise<AlteredImage> {
  const image = sharp(original)
  const { width, height } = await image.metadata()
  if (width === undefined || height === undefined) throw new Error('original image has no size')
  const d = ALTERATION_DEFAULTS
  switch (alteration) {
    case 'resize': {
      const w = Math.max(1, Math.round(width * d.resizeFactor))
      const h = Math.max(1, Math.round(height * d.resizeFactor))
      const out = encodeWith(image.resize(w, h, { fit: 'fill' }), format, d.quality)
      return { bytes: toUint8Array(await out.toBuffer()), format }
    }
    case 'recompress': {
      const out = image.jpeg({ quality: d.recompressQuality })
      return { bytes: toUint8Array(await out.toBuffer()), format: 'jpeg' }
    }
    case 'crop': {
      const rng = new Prng(seed)
      const side = (size: number): number => Math.max(1, Math.round(size * rng.range(d.cropMin, d.cropMax)))
      const left = side(width)
      const right = side(width)
      const top = side(height)
      const bottom = side(height)
      const region = { left, top, width: width - left - right, height: height - top - bottom }
      const out = encodeWith(image.extract(region), format, d.quality)
      return { bytes: toUint8Array(await out.toBuffer()), format }
    }
  }
}
