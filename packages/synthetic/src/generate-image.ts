import sharp from 'sharp'
import type { Sharp } from 'sharp'
import type { ImageFormat } from './image-format.js'
import { Prng } from './prng.js'

/** What to draw: everything follows from `seed`; the same spec always gives the same bytes. */
export interface ImageSpec {
  /** Seed of the picture's content (gradient, shapes, noise). */
  readonly seed: number
  /** Width in pixels. Default {@link DEFAULT_IMAGE_SPEC}.width. */
  readonly width?: number
  /** Height in pixels. Default {@link DEFAULT_IMAGE_SPEC}.height. */
  readonly height?: number
  /** Output format. Default 'jpeg'. */
  readonly format?: ImageFormat
  /** JPEG / WebP quality 1-100. Default 85. */
  readonly quality?: number
  /**
   * Amplitude (in 0-255 grey levels) of the low-frequency noise laid over the shapes. Default 48.
   * The noise is what makes every picture textured (PDQ quality 100, like a photo); with 0 only
   * the blurred shapes and gradient remain, PDQ quality 10-77, often under 50 (never matched).
   */
  readonly noise?: number
}

export const DEFAULT_IMAGE_SPEC = {
  width: 320,
  height: 240,
  format: 'jpeg',
  quality: 85,
  noise: 48,
} as const satisfies Required<Omit<ImageSpec, 'seed'>>

/** Decoded pixels: 8-bit RGB, row-major, no padding. */
export interface RawImage {
  readonly data: Uint8Array
  readonly width: number
  readonly height: number
  readonly channels: 3
}

type Rgb = readonly [number, number, number]

const SHAPE_KINDS = ['rect', 'ellipse', 'triangle', 'ring', 'stripe'] as const
/**
 * Noise octaves: grid cells across x / y, amplitude relative to `noise`, luma (same value on
 * R, G, B) or per-channel colour. Two hashes pull in opposite directions here. blockhash-256
 * compares 16x16 block means with their band's median, so detail at the block scale adds bits
 * that flip when a copy is cropped, while content coarser than ~4 blocks makes unrelated images
 * share hashes. PDQ keeps the signs of the 16x16 lowest DCT coefficients of a 64x64 thumbnail,
 * so it needs energy up to ~7 cycles per side (the 14x10 octave) or its bits near the median
 * flip under a resize; and it rates texture (quality), which the per-pixel grain provides.
 */
const NOISE_OCTAVES = [
  { cellsX: 4, cellsY: 3, amplitude: 0.7, luma: true },
  { cellsX: 7, cellsY: 5, amplitude: 0.7, luma: true },
  { cellsX: 14, cellsY: 10, amplitude: 0.6, luma: true },
  { cellsX: 3, cellsY: 3, amplitude: 0.3, luma: false },
] as const

/** Amplitude, relative to `noise`, of the grain: independent luma noise on every drawn pixel (4x4 output pixels). */
const GRAIN = 0.3

/** Shape edges are softened by a blur of this share of the smaller side (hard edges are crop-fragile). */
const SHAPE_BLUR = 0.05

/** The picture is drawn at 1/BASE_SCALE of the size, then scaled up (it has no fine detail). */
const BASE_SCALE = 4

/**
 * Draws the picture of `spec`: a gradient background, several shapes with softened edges, then
 * low-frequency value noise over everything, as a sharp pipeline still to be encoded. The noise
 * gives the picture texture (PDQ quality ~100, like a photo); the random gradient direction,
 * shape layout and noise field spread the perceptual hashes of different seeds apart.
 */
function drawPipeline(spec: ImageSpec): Sharp {
  const width = spec.width ?? DEFAULT_IMAGE_SPEC.width
  const height = spec.height ?? DEFAULT_IMAGE_SPEC.height
  const noise = spec.noise ?? DEFAULT_IMAGE_SPEC.noise
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`)
  }
  const rng = new Prng(spec.seed)

  // Everything drawn is low-frequency (blurred shapes, coarse noise), so it is drawn at a quarter
  // of the size and scaled up: 16 times less work for the same picture.
  const lw = Math.max(1, Math.ceil(width / BASE_SCALE))
  const lh = Math.max(1, Math.ceil(height / BASE_SCALE))
  const base = new Float32Array(lw * lh * 3)
  drawBackground(base, lw, lh, rng)
  const shapes = rng.int(9, 14)
  for (let s = 0; s < shapes; s++) drawShape(base, lw, lh, rng)
  boxBlur(base, lw, lh, Math.max(1, Math.round((SHAPE_BLUR * Math.min(width, height)) / BASE_SCALE)))
  if (noise > 0) {
    // Added before the upscale: the noise cells span dozens of pixels, and the grain is meant to be 4 pixels wide.
    for (const o of NOISE_OCTAVES) addValueNoise(base, lw, lh, rng, o.cellsX, o.cellsY, noise * o.amplitude, o.luma)
    for (let i = 0; i < base.length; i += 3) {
      const n = rng.range(-1, 1) * noise * GRAIN
      base[i] = (base[i] as number) + n
      base[i + 1] = (base[i + 1] as number) + n
      base[i + 2] = (base[i + 2] as number) + n
    }
  }
  // The upscale runs in libvips, off the main thread: most of the pixels are made there.
  const small = Uint8ClampedArray.from(base)
  return sharp(small, { raw: { width: lw, height: lh, channels: 3 } }).resize(width, height, { fit: 'fill', kernel: 'cubic' })
}

/**
 * Generates a deterministic, benign synthetic image, encoded in memory.
 *
 * @example
 * const jpeg = await generateImage({ seed: 42, width: 320, height: 240, format: 'jpeg' })
 */
export async function generateImage(spec: ImageSpec): Promise<Uint8Array> {
  const image = encodeWith(drawPipeline(spec), spec.format ?? DEFAULT_IMAGE_SPEC.format, spec.quality ?? DEFAULT_IMAGE_SPEC.quality)
  return toUint8Array(await image.toBuffer())
}

/** The picture of `spec` as raw RGB pixels, before any encoding. */
export async function renderPixels(spec: ImageSpec): Promise<RawImage> {
  const { data, info } = await drawPipeline(spec).raw().toBuffer({ resolveWithObject: true })
  return { data: toUint8Array(data), width: info.width, height: info.height, channels: 3 }
}

/** Encodes raw RGB pixels; sharp strips metadata by default, so the bytes depend on the pixels only. */
export async function encodeImage(raw: RawImage, format: ImageFormat, quality: number = DEFAULT_IMAGE_SPEC.quality): Promise<Uint8Array> {
  const image = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } })
  return toUint8Array(await encodeWith(image, format, quality).toBuffer())
}

/** Applies the output format to a sharp pipeline (shared by the generator and the alterations). */
export function encodeWith(image: Sharp, format: ImageFormat, quality: number): Sharp {
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality, chromaSubsampling: '4:2:0' })
    case 'png':
      return image.png({ compressionLevel: 6 })
    case 'webp':
      return image.webp({ quality })
    case 'gif':
      // Without dithering and at low effort GIF encodes ~10x faster, and dithering adds only
      // high-frequency detail that perceptual hashes ignore.
      return image.gif({ effort: 1, dither: 0 })
  }
}

export function toUint8Array(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

function randomColour(rng: Prng): Rgb {
  return [rng.int(10, 245), rng.int(10, 245), rng.int(10, 245)]
}

function drawBackground(px: Float32Array, width: number, height: number, rng: Prng): void {
  const a = randomColour(rng)
  const far = randomColour(rng)
  // Half-way to a random colour: a strong image-wide gradient sets most blockhash bits by itself,
  // so two pictures whose gradients point the same way would hash alike.
  const b: Rgb = [(a[0] + far[0]) / 2, (a[1] + far[1]) / 2, (a[2] + far[2]) / 2]
  const radial = rng.chance(0.3)
  const angle = rng.range(0, Math.PI * 2)
  const cos = Math.cos(angle)
  const sin = Math.sin(angle)
  const cx = rng.range(0.2, 0.8)
  const cy = rng.range(0.2, 0.8)
  for (let y = 0; y < height; y++) {
    const v = (y + 0.5) / height
    for (let x = 0; x < width; x++) {
      const u = (x + 0.5) / width
      // t in [0, 1]: projection on the gradient axis, or distance from the radial centre.
      const t = radial
        ? Math.min(1, Math.hypot(u - cx, v - cy) / 0.75)
        : ((u - 0.5) * cos + (v - 0.5) * sin) / 1.42 + 0.5
      const i = (y * width + x) * 3
      px[i] = a[0] + (b[0] - a[0]) * t
      px[i + 1] = a[1] + (b[1] - a[1]) * t
      px[i + 2] = a[2] + (b[2] - a[2]) * t
    }
  }
}

function drawShape(px: Float32Array, width: number, height: number, rng: Prng): void {
  const kind = rng.pick(SHAPE_KINDS)
  const colour = randomColour(rng)
  const alpha = rng.range(0.65, 1)
  // Shape geometry in pixels, from normalised positions so the layout scales with the canvas.
  const cx = rng.range(0.05, 0.95) * width
  const cy = rng.range(0.05, 0.95) * height
  const scale = Math.min(width, height)
  const rx = rng.range(0.08, 0.32) * scale
  const ry = rng.range(0.08, 0.32) * scale
  const angle = rng.range(0, Math.PI)
  const cos = Math.cos(angle)
  const sin = Math.sin(angle)
  let inside: (x: number, y: number) => boolean
  let reach = Math.hypot(rx, ry)
  switch (kind) {
    case 'rect':
      inside = (x, y) => {
        const dx = x - cx
        const dy = y - cy
        return Math.abs(dx * cos + dy * sin) <= rx && Math.abs(-dx * sin + dy * cos) <= ry
      }
      break
    case 'ellipse':
    case 'ring': {
      const inner = kind === 'ring' ? rng.range(0.45, 0.75) : 0
      const inner2 = inner * inner
      inside = (x, y) => {
        const dx = x - cx
        const dy = y - cy
        const a = (dx * cos + dy * sin) / rx
        const b = (-dx * sin + dy * cos) / ry
        const d = a * a + b * b
        return d <= 1 && d >= inner2
      }
      break
    }
    case 'triangle': {
      const pts: [number, number][] = []
      for (let k = 0; k < 3; k++) {
        const theta = angle * 2 + (k * Math.PI * 2) / 3 + rng.range(-0.5, 0.5)
        pts.push([cx + Math.cos(theta) * rx * 1.3, cy + Math.sin(theta) * ry * 1.3])
      }
      const [p0, p1, p2] = pts as [[number, number], [number, number], [number, number]]
      const edge = (a: [number, number], b: [number, number], x: number, y: number): number =>
        (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])
      inside = (x, y) => {
        const e0 = edge(p0, p1, x, y)
        const e1 = edge(p1, p2, x, y)
        const e2 = edge(p2, p0, x, y)
        return (e0 >= 0 && e1 >= 0 && e2 >= 0) || (e0 <= 0 && e1 <= 0 && e2 <= 0)
      }
      reach = Math.max(rx, ry) * 1.3
      break
    }
    case 'stripe': {
      // A band across the whole canvas through (cx, cy).
      const half = rx * 0.35
      inside = (x, y) => Math.abs(-(x - cx) * sin + (y - cy) * cos) <= half
      reach = Math.hypot(width, height)
      break
    }
  }
  const x0 = Math.max(0, Math.floor(cx - reach))
  const x1 = Math.min(width - 1, Math.ceil(cx + reach))
  const y0 = Math.max(0, Math.floor(cy - reach))
  const y1 = Math.min(height - 1, Math.ceil(cy + reach))
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!inside(x + 0.5, y + 0.5)) continue
      const i = (y * width + x) * 3
      px[i] = (px[i] as number) * (1 - alpha) + colour[0] * alpha
      px[i + 1] = (px[i + 1] as number) * (1 - alpha) + colour[1] * alpha
      px[i + 2] = (px[i + 2] as number) * (1 - alpha) + colour[2] * alpha
    }
  }
}

/**
 * Adds smooth value noise: a (cellsX+1) x (cellsY+1) grid of random values, interpolated with
 * smoothstep. Luma noise adds the same value to R, G and B; otherwise each channel gets its own.
 */
function addValueNoise(
  px: Float32Array,
  width: number,
  height: number,
  rng: Prng,
  cellsX: number,
  cellsY: number,
  amplitude: number,
  luma: boolean,
): void {
  const planes = luma ? 1 : 3
  const gw = cellsX + 1
  const grid = new Float32Array(gw * (cellsY + 1) * planes)
  for (let i = 0; i < grid.length; i++) grid[i] = rng.range(-1, 1) * amplitude
  const colIndex = new Int32Array(width)
  const colT = new Float32Array(width)
  for (let x = 0; x < width; x++) {
    const f = ((x + 0.5) / width) * cellsX
    const i = Math.min(cellsX - 1, Math.floor(f))
    colIndex[x] = i
    colT[x] = smoothstep(f - i)
  }
  for (let y = 0; y < height; y++) {
    const f = ((y + 0.5) / height) * cellsY
    const j = Math.min(cellsY - 1, Math.floor(f))
    const ty = smoothstep(f - j)
    for (let x = 0; x < width; x++) {
      const i = colIndex[x] as number
      const tx = colT[x] as number
      const o = (y * width + x) * 3
      for (let p = 0; p < planes; p++) {
        const g00 = grid[(j * gw + i) * planes + p] as number
        const g10 = grid[(j * gw + i + 1) * planes + p] as number
        const g01 = grid[((j + 1) * gw + i) * planes + p] as number
        const g11 = grid[((j + 1) * gw + i + 1) * planes + p] as number
        const top = g00 + (g10 - g00) * tx
        const bottom = g01 + (g11 - g01) * tx
        const n = top + (bottom - top) * ty
        if (luma) {
          px[o] = (px[o] as number) + n
          px[o + 1] = (px[o + 1] as number) + n
          px[o + 2] = (px[o + 2] as number) + n
        } else {
          px[o + p] = (px[o + p] as number) + n
        }
      }
    }
  }
}

function smoothstep(t: number): number {
  return t * t * (3 - 2 * t)
}

/** Separable box blur (two passes, close to a Gaussian) of an RGB float buffer, edges clamped. */
function boxBlur(px: Float32Array, width: number, height: number, radius: number): void {
  const tmp = new Float32Array(px.length)
  const pass = (src: Float32Array, dst: Float32Array, n: number, lines: number, stride: number, lineStride: number): void => {
    const norm = 1 / (2 * radius + 1)
    for (let l = 0; l < lines; l++) {
      const base = l * lineStride
      for (let c = 0; c < 3; c++) {
        let sum = 0
        for (let k = -radius; k <= radius; k++) sum += src[base + Math.min(n - 1, Math.max(0, k)) * stride + c] as number
        for (let i = 0; i < n; i++) {
          dst[base + i * stride + c] = sum * norm
          const add = Math.min(n - 1, i + radius + 1)
          const sub = Math.max(0, i - radius)
          sum += (src[base + add * stride + c] as number) - (src[base + sub * stride + c] as number)
        }
      }
    }
  }
  for (let r = 0; r < 2; r++) {
    pass(px, tmp, width, height, 3, width * 3)
    pass(tmp, px, height, width, width * 3, 3)
  }
}
