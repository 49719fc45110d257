/** Hand-made byte strings for robustness tests: headers that lie, and formats sharp cannot make fast. */

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const out = Buffer.alloc(body.length + 8)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(crc32(body), body.length + 4)
  return out
}

/** A PNG whose IHDR (with a correct CRC) claims width x height RGB pixels, followed by a token IDAT. */
export function pngClaiming(width: number, height: number, idat: Uint8Array = Uint8Array.of(0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1)): Buffer {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // colour type RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', new Uint8Array(0))])
}

/** A copy of a baseline or progressive JPEG whose SOF header claims other dimensions. */
export function jpegClaiming(jpeg: Uint8Array, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg)
  for (let i = 2; i + 9 < out.length; i++) {
    if (out[i] === 0xff && (out[i + 1] === 0xc0 || out[i + 1] === 0xc2)) {
      out.writeUInt16BE(height, i + 5)
      out.writeUInt16BE(width, i + 7)
      return out
    }
  }
  throw new Error('no SOF0/SOF2 marker found')
}

/** An animated GIF of `frames` 1x1 frames on a 32x32 canvas, each one black pixel. */
export function gifWithFrames(frames: number): Buffer {
  const parts: number[] = []
  parts.push(...Buffer.from('GIF89a', 'ascii'), 32, 0, 32, 0, 0xf1, 0, 0) // 32x32, global table of 4 colours
  parts.push(0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255)
  parts.push(0x21, 0xff, 11, ...Buffer.from('NETSCAPE2.0', 'ascii'), 3, 1, 0, 0, 0) // loop forever
  for (let f = 0; f < frames; f++) {
    const x = f % 32
    const y = Math.floor(f / 32) % 32
    parts.push(0x21, 0xf9, 4, 0, 2, 0, 0, 0) // graphic control: 20 ms delay
    parts.push(0x2c, x, 0, y, 0, 1, 0, 1, 0, 0) // image descriptor: 1x1 at (x, y)
    parts.push(2, 2, 0x44, 0x01, 0) // LZW (min code size 2): clear, index 0, end; one sub-block, terminator
  }
  parts.push(0x3b)
  return Buffer.from(parts)
}
