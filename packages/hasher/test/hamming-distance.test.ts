import { describe, expect, it } from 'vitest'
import { bytesToHex, hammingDistance, hammingDistanceBytes, hexToBytes, HASH_ALGORITHMS } from '../src/index.js'

describe('hammingDistance', () => {
  it('counts differing bits in hex and bytes, case-insensitively', () => {
    expect(hammingDistance('f0', '0f')).toBe(8)
    expect(hammingDistance('00ff', '00FF')).toBe(0)
    expect(hammingDistance('0'.repeat(64), 'f'.repeat(64))).toBe(256)
    expect(hammingDistanceBytes(Uint8Array.of(0b1010), Uint8Array.of(0b0110))).toBe(2)
    // The two reference C++ values for bridge-1 differ by 8 bits (fixtures README).
    expect(hammingDistance('f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22', 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22')).toBe(8)
  })

  it('refuses different lengths and non-hex', () => {
    expect(() => hammingDistance('00', '0000')).toThrow(RangeError)
    expect(() => hammingDistance('zz', '00')).toThrow(TypeError)
  })

  it('hex round-trips', () => {
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 8)
    expect(hexToBytes(bytesToHex(bytes))).toEqual(bytes)
    expect(HASH_ALGORITHMS).toEqual(['sha256', 'md5', 'sha1', 'blockhash', 'pdq'])
  })
})
