export const EXACT_ALGORITHMS = ['sha256', 'md5', 'sha1'] as const
export const PERCEPTUAL_ALGORITHMS = ['blockhash', 'pdq'] as const
/**
 * A video entry or probe: the PDQ of one frame per second (vPDQ). A list entry's `hash` is the
 * SHA-256 of its frames (its identity); a probe carries its frames.
 */
export const VIDEO_ALGORITHMS = ['vpdq'] as const
export const ALGORITHMS = [...EXACT_ALGORITHMS, ...PERCEPTUAL_ALGORITHMS, ...VIDEO_ALGORITHMS] as const

export type ExactAlgorithm = (typeof EXACT_ALGORITHMS)[number]
export type PerceptualAlgorithm = (typeof PERCEPTUAL_ALGORITHMS)[number]
export type VideoAlgorithm = (typeof VIDEO_ALGORITHMS)[number]
export type Algorithm = (typeof ALGORITHMS)[number]
/** What the in-memory index holds apart: PDQ and blockhash entries, and the frames of video entries. */
export type IndexKey = PerceptualAlgorithm | VideoAlgorithm
export const INDEX_KEYS: readonly IndexKey[] = [...PERCEPTUAL_ALGORITHMS, ...VIDEO_ALGORITHMS]

/** Hash length in bytes, by algorithm. */
export const HASH_BYTES: Readonly<Record<Algorithm, number>> = { sha256: 32, md5: 16, sha1: 20, blockhash: 32, pdq: 32, vpdq: 32 }

export function isAlgorithm(value: string): value is Algorithm {
  return (ALGORITHMS as readonly string[]).includes(value)
}

export function isPerceptual(algorithm: Algorithm): algorithm is PerceptualAlgorithm {
  return (PERCEPTUAL_ALGORITHMS as readonly string[]).includes(algorithm)
}

/** Checks and normalises a hex hash for an algorithm; returns a reason when it is not one. */
export function normaliseHash(algorithm: Algorithm, hex: string): { hex: string } | { error: string } {
  const clean = hex.trim().toLowerCase()
  const want = HASH_BYTES[algorithm] * 2
  if (!/^[0-9a-f]*$/.test(clean)) return { error: `${algorithm} hash is not hexadecimal` }
  if (clean.length !== want) return { error: `${algorithm} hash must be ${want} hex characters, got ${clean.length}` }
  return { hex: clean }
}
