import { hexToBytes } from './hex.js'

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0
  for (let v = i; v !== 0; v >>= 1) n += v & 1
  return n
})

/**
 * Number of differing bits between two equal-length byte arrays.
 *
 * @example
 * hammingDistanceBytes(Uint8Array.of(0b1010), Uint8Array.of(0b0110)) // 2
 */
export function hammingDistanceBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError(`hash lengths differ: ${a.length} vs ${b.length} bytes`)
  let d = 0
  for (let i = 0; i < a.length; i++) d += POPCOUNT[(a[i] ?? 0) ^ (b[i] ?? 0)] ?? 0
  return d
}

/**
 * Number of differing bits between two equal-length hex hashes (case-insensitive).
 *
 * @example
 * hammingDistance('f0', '0f') // 8
 * hammingDistance(a.pdq, b.pdq) <= 31 // the default PDQ match threshold
 */
export function hammingDistance(aHex: string, bHex: string): number {
  if (aHex.length !== bHex.length) throw new RangeError(`hash lengths differ: ${aHex.length} vs ${bHex.length} hex chars`)
  return hammingDistanceBytes(hexToBytes(aHex), hexToBytes(bHex))
}
