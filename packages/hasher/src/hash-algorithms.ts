/** Every hash `hashImage` computes; exact digests first, then the perceptual hashes. */
export const HASH_ALGORITHMS = ['sha256', 'md5', 'sha1', 'blockhash', 'pdq'] as const
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number]
