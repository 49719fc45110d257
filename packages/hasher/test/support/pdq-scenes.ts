import { createHash } from 'node:crypto'
import sharp from 'sharp'
import { renderPixels } from '../../../synthetic/src/generate-image.js'
import type { Pixels } from '../../src/pixels.js'

/**
 * The synthetic scenes of the PDQ conformance test: benign pictures from packages/synthetic
 * (gradient, soft shapes, low-frequency value noise), rendered losslessly as raw RGB, so the
 * C++ reference and this package hash the very same pixels. Everything follows from the list
 * below; bench/hasher/pdq-reference.ts hashes the same scenes with a built C++ reference to make
 * test/fixtures/pdq/expected/cpp_reference_synthetic_scenes.csv.
 */
export interface PdqScene {
  readonly name: string
  readonly seed: number
  readonly width: number
  readonly height: number
  /** Noise amplitude of packages/synthetic: 0 leaves smooth low-quality pictures, the hardest case for the median. */
  readonly noise: number
}

/** Sizes cycled through: small, odd, exactly 64, portrait, photo and screen sizes. */
const SIZES: readonly (readonly [number, number])[] = [
  [320, 240], [1920, 1080], [641, 479], [1024, 768], [97, 131], [1280, 720], [800, 600], [333, 777],
  [1600, 1004], [127, 129], [64, 64], [2048, 1536], [500, 500], [1023, 767], [150, 1200], [3001, 2000],
]
/** Noise amplitudes cycled through, coprime with the sizes' cycle so every size meets every noise. */
const NOISES = [48, 0, 12, 96, 24] as const
/** A few very large and very thin pictures on top of the cycle. */
const EXTRA: readonly (readonly [number, number, number])[] = [
  [4000, 3000, 48], [3000, 4000, 0], [4000, 3000, 12], [5, 5, 48], [6, 1000, 48], [1000, 7, 24], [129, 4097, 48], [65, 63, 0],
]

export const PDQ_SCENES: readonly PdqScene[] = [
  ...Array.from({ length: 128 }, (_, i) => {
    const [width, height] = SIZES[i % SIZES.length]!
    return { seed: 7000 + i, width, height, noise: NOISES[i % NOISES.length]! }
  }),
  ...EXTRA.map(([width, height, noise], k) => ({ seed: 9000 + k, width, height, noise })),
].map((s) => ({ ...s, name: `seed${s.seed}-${s.width}x${s.height}-noise${s.noise}` }))

export async function renderScene(scene: PdqScene): Promise<Pixels> {
  const raw = await renderPixels({ seed: scene.seed, width: scene.width, height: scene.height, noise: scene.noise })
  return { width: raw.width, height: raw.height, channels: 3, data: raw.data }
}

/** First 16 hex digits of the SHA-256 of the pixels: the expected hashes hold only for these exact pixels. */
export function pixelDigest(pixels: Pixels): string {
  return createHash('sha256').update(pixels.data.subarray(0, pixels.width * pixels.height * pixels.channels)).digest('hex').slice(0, 16)
}

/** A file's stored pixels as RGB, EXIF orientation not applied and no colour management: what the C++ tool hashes. */
export async function storedPixels(input: string | Buffer): Promise<Pixels> {
  const { data, info } = await sharp(input, { ignoreIcc: true, autoOrient: false }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true })
  return { width: info.width, height: info.height, channels: 3, data }
}
