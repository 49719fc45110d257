/**
 * Decoded pixels as every perceptual hash here reads them: 8-bit sRGB, row-major,
 * interleaved, 3 (RGB) or 4 (RGBA) channels, no padding between rows.
 */
export interface Pixels {
  readonly width: number
  readonly height: number
  readonly channels: 3 | 4
  readonly data: Uint8Array
}

export function assertPixels(pixels: Pixels): void {
  const { width, height, channels, data } = pixels
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`pixels: bad dimensions ${width}x${height}`)
  }
  if (channels !== 3 && channels !== 4) throw new RangeError(`pixels: channels must be 3 or 4, got ${String(channels)}`)
  if (data.length < width * height * channels) {
    throw new RangeError(`pixels: ${data.length} bytes is less than ${width}x${height}x${channels}`)
  }
}
