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
