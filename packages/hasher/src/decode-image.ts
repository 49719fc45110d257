import sharp from 'sharp'
import { CorruptImageError, HashError, HashTimeoutError, InputRejectedError } from './hash-error.js'
import type { HashOptions } from './hash-options.js'
import { type JpegFrame, jpegFrameSize } from './jpeg-header.js'
import { decodeNative } from './native-decode.js'
import type { Pixels } from './pixels.js'
import { assertSafeSvg, looksLikeMarkup } from './svg-guard.js'

/** Formats we hash, as sharp names them. Anything else sharp might open (PDF, FITS...) is refused. */
export const SUPPORTED_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'svg', 'tiff', 'heif', 'avif', 'jp2k'] as const

/** Decoded frames, 8-bit sRGB (RGBA when the input has alpha, else RGB), EXIF orientation applied. */
export interface DecodedImage {
  /** Format as sharp reports it from the header. */
  readonly format: string
  /** First frame (the whole image when not animated). */
  readonly first: Pixels
  /** Index and pixels of every decoded frame, the first included, when frames were asked for. */
  readonly frames: readonly { readonly index: number; readonly pixels: Pixels }[]
  /** Frames in the input according to its header (1 for still images). */
  readonly pageCount: number
}

/**
 * Why `failOn: 'error'`: libvips stops on decoder errors and on truncated data ('truncated' is
 * implied), so a cut-off download gives CORRUPT instead of a hash of half a grey image; it does
 * not stop on mere warnings ('warning', sharp's default), which many real-world JPEGs emit
 * (extraneous bytes before a marker, odd APP segments) while decoding perfectly well.
 */
const FAIL_ON = 'error' as const

/**
 * Decodes once, under hard bounds: byte length before anything, SVG policy before librsvg sees
 * the text, pixel count from the header before decoding, and a time limit (sharp's own, in whole
 * seconds, plus an outer timer because sharp's does not cover every stage).
 */
export async function decodeImage(bytes: Uint8Array, options: Required<HashOptions>): Promise<DecodedImage> {
  if (bytes.length === 0) throw new InputRejectedError('EMPTY', 'input is empty')
  if (bytes.length > options.maxBytes) {
    throw new InputRejectedError('TOO_LARGE', `input of ${bytes.length} bytes exceeds maxBytes ${options.maxBytes}`)
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    // librsvg would inflate gzip (svgz) before any check of ours could see the XML.
    throw new InputRejectedError('UNSUPPORTED_FORMAT', 'gzip-compressed input (svgz) is not accepted')
  }
  const markup = looksLikeMarkup(bytes)
  if (markup) {
    if (!options.allowSvg) throw new InputRejectedError('UNSUPPORTED_FORMAT', 'SVG input is disabled (allowSvg: false)')
    assertSafeSvg(bytes, options.maxSvgBytes)
  }
  return withTimeout(decodeBounded(bytes, options, markup), options.timeoutMs)
}

/** What the decode needs to know from the header. */
interface Header {
  readonly format: string
  readonly width: number
  readonly height: number
  readonly pages?: number | undefined
  readonly pageHeight?: number | undefined
  readonly hasAlpha: boolean
  /** Bands and sample format, as sharp's metadata() reports them (not for a JPEG read by its frame header). */
  readonly channels?: number | undefined
  readonly depth?: string | undefined
  /** A JPEG's frame header, when the size came from it. */
  readonly jpeg?: JpegFrame
}

/**
 * The header: a JPEG's from its frame marker (one still frame, no alpha), anything else from
 * sharp's metadata(). A height of 0 (the JPEG's DNL case) is left to sharp as well.
 */
async function readHeader(bytes: Uint8Array): Promise<Header> {
  const jpeg = jpegFrameSize(bytes)
  if (jpeg !== undefined && jpeg.width > 0 && jpeg.height > 0) return { format: 'jpeg', width: jpeg.width, height: jpeg.height, hasAlpha: false, jpeg }
  return run(() => sharp(bytes, { failOn: FAIL_ON, limitInputPixels: false }).metadata())
}

async function decodeBounded(bytes: Uint8Array, options: Required<HashOptions>, markup: boolean): Promise<DecodedImage> {
  const header = await readHeader(bytes)
  const format = header.format
  if (!(SUPPORTED_FORMATS as readonly string[]).includes(format)) {
    throw new InputRejectedError('UNSUPPORTED_FORMAT', `unsupported image format: ${format}`)
  }
  if (format === 'svg' && !markup) throw new InputRejectedError('UNSAFE_SVG', 'SVG not recognised as plain text markup')
  const pageCount = Math.max(1, header.pages ?? 1)
  const frameHeight = header.pageHeight ?? header.height
  const framePixels = header.width * frameHeight
  if (!(framePixels > 0)) throw new CorruptImageError(`header gives no usable size (${header.width}x${frameHeight})`)
  if (framePixels > options.maxPixels) {
    throw new InputRejectedError('TOO_LARGE', `image of ${header.width}x${frameHeight} pixels exceeds maxPixels ${options.maxPixels}`)
  }

  // Frames to decode in one go (sequential formats decode every earlier frame anyway).
  let pages = 1
  if (options.frameStep > 0 && pageCount > 1) {
    const wanted = Math.min(pageCount, (options.maxFrames - 1) * options.frameStep + 1)
    pages = Math.max(1, Math.min(wanted, Math.floor(options.maxPixels / framePixels)))
  }

  // A plain image (a Huffman-coded sequential JPEG with 3 components; a PNG or WebP of one frame,
  // 3 bands of 8 bits, no alpha: most of what a crawl hashes) goes through the native decode when
  // it is built: the same libvips, the same pixels, a fraction of a sharp decode's CPU
  // (native-decode.ts). Progressive JPEGs stay with sharp and its time limit, since their decode
  // time is not bounded by their pixel count.
  const jpeg = header.jpeg
  const plain =
    jpeg !== undefined
      ? jpeg.components === 3 && (jpeg.process === 0 || jpeg.process === 1)
      : (format === 'png' || format === 'webp') && !header.hasAlpha && header.channels === 3 && header.depth === 'uchar' && pageCount === 1
  if (plain) {
    const data = await decodeNative(bytes, format as 'jpeg' | 'png' | 'webp', header.width, header.height)
    if (data !== undefined) return { format, first: { width: header.width, height: header.height, channels: 3, data }, frames: [], pageCount: 1 }
  }

  let pipeline = sharp(bytes, {
    failOn: FAIL_ON,
    limitInputPixels: options.maxPixels * pages,
    ignoreIcc: true,
    autoOrient: true,
    page: 0,
    pages,
    sequentialRead: true,
  }).timeout({ seconds: Math.max(1, Math.ceil(options.timeoutMs / 1000)) })
  // RGB unless there is alpha to keep: a fourth channel costs decode time and memory bandwidth.
  const keepAlpha = header.hasAlpha && !options.flattenAlpha
  if (options.flattenAlpha) pipeline = pipeline.flatten({ background: '#ffffff' })
  pipeline = pipeline.toColourspace('srgb')
  pipeline = keepAlpha ? pipeline.ensureAlpha() : pipeline.removeAlpha()
  const { data, info } = await run(() => pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }))
  const channels = info.channels
  if (channels !== 3 && channels !== 4) throw new CorruptImageError(`decoder produced ${channels} channels, expected 3 or 4`)
  const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  const height = pages > 1 ? Math.floor(info.height / pages) : info.height
  const frameBytes = info.width * height * channels
  const first: Pixels = { width: info.width, height, channels, data: pages > 1 ? pixels.subarray(0, frameBytes) : pixels }
  const frames: { index: number; pixels: Pixels }[] = []
  if (pages > 1) {
    for (let index = 0; index < pages; index += options.frameStep) {
      frames.push({ index, pixels: { width: info.width, height, channels, data: pixels.subarray(index * frameBytes, (index + 1) * frameBytes) } })
    }
  }
  return { format, first, frames, pageCount }
}

/** Runs a sharp call and turns its errors into `HashError`s with the original as `cause`. */
async function run<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    throw classifySharpError(error)
  }
}

/** libvips reports everything as `Error` with a message; these are the messages that mean something else than CORRUPT. */
export function classifySharpError(error: unknown): HashError {
  if (error instanceof HashError) return error
  const message = error instanceof Error ? error.message : String(error)
  const short = message.split('\n')[0]?.slice(0, 300) ?? ''
  if (/unsupported image format/i.test(message)) return new InputRejectedError('UNSUPPORTED_FORMAT', short, { cause: error })
  if (/exceeds pixel limit|image too large|too many pixels/i.test(message)) {
    return new InputRejectedError('TOO_LARGE', short, { cause: error })
  }
  if (/timeout|timed out/i.test(message)) return new HashTimeoutError(short, { cause: error })
  return new CorruptImageError(short === '' ? 'decoder failed' : short, { cause: error })
}

/** The outer guard: sharp's timeout is per pipeline and in whole seconds. The abandoned work still ends under sharp's own timeout. */
async function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HashTimeoutError(`decoding took longer than ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    return await Promise.race([work, guard])
  } finally {
    clearTimeout(timer)
    // The losing promise may still reject later; it has already been handled by the race.
    work.catch(() => undefined)
  }
}
