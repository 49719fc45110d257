import { deflateSync } from 'node:zlib'
import { generateImage } from './generate-image.js'
import type { BadReason } from './site-manifest.js'

/** Width and height a pixel-flood PNG declares: 2.5 gigapixels, far past any sane decode limit. */
export const PIXEL_FLOOD_SIZE = 50_000

/** Zeros the oversized body is streamed from, shared by every response (never written to). */
const ZERO_CHUNK = new Uint8Array(64 * 1024)

/**
 * Bytes of a bad input other than 'oversized' (which is streamed, see {@link oversizedChunks}).
 * Each is small and deterministic.
 */
export async function badMedia(reason: Exclude<BadReason, 'oversized'>, seed: number): Promise<Uint8Array> {
  switch (reason) {
    case 'truncated': {
      // A real JPEG cut in half: the header parses, the scan data stops early.
      const whole = await generateImage({ seed, format: 'jpeg' })
      return whole.slice(0, Math.floor(whole.length / 2))
    }
    case 'empty':
      return new Uint8Array(0)
    case 'not-image':
      return new TextEncoder().encode('<!doctype html>\n<html><head><title>Not found</title></head><body><p>This is an HTML page served as image/jpeg.</p></body></html>\n')
    case 'pixel-flood':
      return pixelFloodPng()
  }
}

/**
 * The oversized body as a sequence of chunks totalling `total` bytes: the start of a real JPEG,
 * then zeros. Lazy, so a 40 MiB response never exists in memory at once.
 */
export async function* oversizedChunks(total: number, seed: number): AsyncGenerator<Uint8Array> {
  const head = (await generateImage({ seed, format: 'jpeg' })).slice(0, 1024)
  let left = total
  const first = head.subarray(0, Math.min(head.length, left))
  yield first
  left -= first.length
  while (left > 0) {
    const n = Math.min(ZERO_CHUNK.length, left)
    yield n === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n)
    left -= n
  }
}

/**
 * A PNG whose header declares {@link PIXEL_FLOOD_SIZE} squared RGB pixels, with a tiny IDAT (a
 * few zero rows) behind it: a decoder that checks the pixel count rejects it from the header,
 * one that does not would try to allocate gigabytes.
 */
function pixelFloodPng(): Uint8Array {
  const ihdr = new Uint8Array(13)
  const view = new DataView(ihdr.buffer)
  view.setUint32(0, PIXEL_FLOOD_SIZE)
  view.setUint32(4, PIXEL_FLOOD_SIZE)
  ihdr.set([8, 2, 0, 0, 0], 8) // 8-bit, RGB, deflate, adaptive filtering, no interlace
  const rows = deflateSync(new Uint8Array(4 * (1 + PIXEL_FLOOD_SIZE * 3)))
  return concat([
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', rows),
    pngChunk('IEND', new Uint8Array(0)),
  ])
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, data.length)
  out.set(new TextEncoder().encode(type), 4)
  out.set(data, 8)
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)))
  return out
}

let crcTable: Uint32Array | undefined

function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      crcTable[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (const b of bytes) crc = (crcTable[(crc ^ b) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
