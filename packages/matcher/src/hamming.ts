/** Bits set in a 32-bit word (SWAR popcount). */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  x = (x + (x >>> 4)) & 0x0f0f0f0f
  return Math.imul(x, 0x01010101) >>> 24
}

/** 256-bit hash (64 hex chars) as 8 big-endian 32-bit words. */
export function hexToWords(hex: string, out = new Uint32Array(8), offset = 0): Uint32Array {
  for (let i = 0; i < 8; i++) out[offset + i] = Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16) >>> 0
  return out
}

/** Hamming distance between the 256-bit hash at `a[ai..ai+8]` and `b[bi..bi+8]`. */
export function hamming256(a: Uint32Array, ai: number, b: Uint32Array, bi: number): number {
  let d = 0
  for (let i = 0; i < 8; i++) d += popcount32((a[ai + i]! ^ b[bi + i]!) >>> 0)
  return d
}

/** Concatenated 32-byte hashes as 8 big-endian words each. */
export function bytesToWords(chunks: readonly Uint8Array[], count: number): Uint32Array {
  const words = new Uint32Array(count * 8)
  let w = 0
  for (const chunk of chunks) {
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    for (let o = 0; o + 4 <= chunk.byteLength; o += 4) words[w++] = view.getUint32(o)
  }
  return words
}
