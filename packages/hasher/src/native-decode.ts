import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
// sharp first: it loads and initialises the libvips the addon links against.
import 'sharp'

/** Formats the native decode takes (their plain cases), as sharp names them. */
export type NativeFormat = 'jpeg' | 'png' | 'webp'

/** The optional native decode (packages/hasher/native), when it was built at install. */
interface NativeDecoder {
  /** Decodes into `out` (width x height x 3): 0 done, 1 not the plain case (sharp decodes it); rejects when libvips fails. */
  decode(bytes: Uint8Array, out: Uint8Array, width: number, height: number, format: NativeFormat): Promise<0 | 1>
  vipsVersion(): string
}

const ADDON = fileURLToPath(new URL('../native/build/Release/arachnid_decode.node', import.meta.url))

function load(): { addon: NativeDecoder | undefined; status: string } {
  if (process.env.ARACHNID_NATIVE === '0') return { addon: undefined, status: 'disabled (ARACHNID_NATIVE=0)' }
  if (process.env.ARACHNID_NATIVE_DECODE === '0') return { addon: undefined, status: 'disabled (ARACHNID_NATIVE_DECODE=0)' }
  if (!existsSync(ADDON)) return { addon: undefined, status: `not built (no ${ADDON}; pnpm install builds it with node-gyp)` }
  try {
    const addon = createRequire(import.meta.url)(ADDON) as NativeDecoder
    return { addon, status: `loaded (libvips ${addon.vipsVersion()})` }
  } catch (error) {
    return { addon: undefined, status: `not loaded: ${(error as Error).message}` }
  }
}

const loaded = load()
let enabled = loaded.addon !== undefined

/** Why the native decode is or is not in use, for logs and tests. */
export const nativeDecodeStatus: string = loaded.status

/** Turns the native decode off (or back on, when it is loaded) in this thread: for tests and benchmarks comparing both paths. */
export function useNativeDecode(on: boolean): void {
  enabled = on && loaded.addon !== undefined
}

/** Whether plain JPEG, PNG and WebP images in this thread go through the native decode. */
export function nativeDecodeInUse(): boolean {
  return enabled
}

/**
 * Decodes a plain image (3-band 8-bit sRGB, one frame, EXIF orientation 1) into a pooled buffer,
 * or returns undefined when sharp must: the addon is not in use, the image is not the plain case,
 * or libvips reported an error (sharp then reports it as it always did).
 */
export async function decodeNative(bytes: Uint8Array, format: NativeFormat, width: number, height: number): Promise<Uint8Array | undefined> {
  const addon = loaded.addon
  if (!enabled || addon === undefined) return undefined
  const out = takePixels(width * height * 3)
  let status: number
  try {
    status = await addon.decode(bytes, out, width, height, format)
  } catch {
    status = -1
  }
  if (status === 0) return out
  releasePixels(out)
  return undefined
}

// Decoded pixels are large (2.4 MB for 1024x768) and short-lived. A fresh buffer for every image
// is fresh memory from the kernel each time (a page fault per 4 KiB, which cost more than the
// decode itself on a virtual machine); these are kept and reused instead. Bounded: a few buffers,
// none over 48 MiB, 128 MiB in all.
const POOL_BUFFERS = 8
const POOL_MAX_BUFFER = 48 * 1024 * 1024
const POOL_MAX_TOTAL = 128 * 1024 * 1024
const pool: ArrayBuffer[] = []
let pooledBytes = 0
const lent = new WeakSet<ArrayBuffer>()

/** A zero-offset Uint8Array of `size` bytes, from the pool when a buffer there is large enough. */
function takePixels(size: number): Uint8Array {
  let best = -1
  for (let i = 0; i < pool.length; i++) {
    const capacity = pool[i]!.byteLength
    if (capacity >= size && (best < 0 || capacity < pool[best]!.byteLength)) best = i
  }
  let buffer: ArrayBuffer
  if (best >= 0) {
    buffer = pool.splice(best, 1)[0]!
    pooledBytes -= buffer.byteLength
  } else {
    buffer = new ArrayBuffer(size)
  }
  lent.add(buffer)
  return new Uint8Array(buffer, 0, size)
}

/** Gives a buffer from the native decode back once nothing reads it any more; anything else is ignored. */
export function releasePixels(pixels: Uint8Array): void {
  const buffer = pixels.buffer as ArrayBuffer
  if (!lent.has(buffer)) return
  lent.delete(buffer)
  if (buffer.byteLength > POOL_MAX_BUFFER) return
  pool.push(buffer)
  pooledBytes += buffer.byteLength
  // Over the bounds: drop the smallest buffers first (the large ones are the costly ones to fault in).
  while (pool.length > POOL_BUFFERS || pooledBytes > POOL_MAX_TOTAL) {
    let smallest = 0
    for (let i = 1; i < pool.length; i++) if (pool[i]!.byteLength < pool[smallest]!.byteLength) smallest = i
    pooledBytes -= pool.splice(smallest, 1)[0]!.byteLength
  }
}
