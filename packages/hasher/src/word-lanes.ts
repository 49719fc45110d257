/**
 * Sums of bytes read four at a time ("SIMD within a register"), shared by the one-pass scan
 * (folded-scan.ts) and blockhash's precise path: `w & EVEN` holds bytes 0 and 2 of a 32-bit word
 * and `(w >>> 8) & EVEN` bytes 1 and 3, each in a 16-bit lane, so one add sums two bytes. The sum
 * of a word's four bytes does not depend on their order, so this holds on any endianness.
 */
export const EVEN = 0x00ff00ff

/** Words one lane sum may take: 128 · 510 (two bytes per word in each 16-bit lane) stays below 2^16. */
export const LANE_WORDS = 128

/** The sum of every byte of words[from..to), to - from <= LANE_WORDS. */
export function wordBytesSum(words: Uint32Array, from: number, to: number): number {
  let lanes = 0
  for (let w = from; w < to; w++) {
    const x = words[w]!
    lanes = (lanes + (x & EVEN) + ((x >>> 8) & EVEN)) | 0
  }
  return (lanes & 0xffff) + (lanes >>> 16)
}
