export { HASH_ALGORITHMS, type HashAlgorithm } from './hash-algorithms.js'
export type { FrameHashes, ImageHasher, ImageHashes } from './image-hashes.js'
export { DEFAULT_HASH_OPTIONS, type HashOptions } from './hash-options.js'
export {
  CorruptImageError,
  HASH_ERROR_CODES,
  HashError,
  type HashErrorCode,
  HasherUnavailableError,
  HashTimeoutError,
  InputRejectedError,
} from './hash-error.js'
export { hashImage } from './hash-image.js'
export { DEFAULT_HASHER_OPTIONS, Hasher, type HasherOptions } from './hasher.js'
export { hammingDistance, hammingDistanceBytes } from './hamming-distance.js'
export { bytesToHex, hexToBytes } from './hex.js'
export { blockhash256, BLOCKHASH_METHODS, type BlockhashMethod } from './blockhash.js'
export { pdqHash, type PdqOptions, type PdqResult } from './pdq-hash.js'
export type { Pixels } from './pixels.js'
export { SUPPORTED_FORMATS } from './decode-image.js'
