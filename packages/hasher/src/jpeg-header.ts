/** What a JPEG's frame header says. */
export interface JpegFrame {
  readonly width: number
  readonly height: number
  /** The SOF marker's low nibble: 0 baseline, 1 extended sequential, 2 progressive, 9-15 arithmetic coding... */
  readonly process: number
  /** Colour components: 1 greyscale, 3 YCbCr (or RGB), 4 CMYK or YCCK. */
  readonly components: number
}

/**
 * A JPEG's frame size from its SOF marker, read in JavaScript so that a JPEG (most of what a crawl
 * hashes) needs one sharp pipeline instead of two: sharp's metadata() is a second native call,
 * with its own option parsing and a trip through libuv's pool (about 0.3 ms of CPU per image).
 *
 * Returns undefined when the bytes do not start like a JPEG or no frame header comes before the
 * scan data; the caller then asks sharp, so anything odd is judged by libvips as before.
 */
export function jpegFrameSize(bytes: Uint8Array): JpegFrame | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff) return undefined
  let at = 2
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined
    const marker = bytes[at + 1]!
    if (marker === 0xff) {
      at++ // fill byte before a marker
      continue
    }
    // Markers without a length: TEM and RSTn; SOS or EOI before a frame header: give up.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2
      continue
    }
    if (marker === 0xda || marker === 0xd9) return undefined
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!
    if (length < 2) return undefined
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): length, precision, height, width.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (at + 10 > bytes.length || length < 8) return undefined
      const height = (bytes[at + 5]! << 8) | bytes[at + 6]!
      const width = (bytes[at + 7]! << 8) | bytes[at + 8]!
      return { width, height, process: marker & 0x0f, components: bytes[at + 9]! }
    }
    at += 2 + length
  }
  return undefined
}
