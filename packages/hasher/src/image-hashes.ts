/** Perceptual hashes of one frame of an animated image. */
export interface FrameHashes {
  /** Zero-based frame index in the input. */
  readonly index: number
  readonly blockhash: string
  readonly pdq: string
  readonly pdqQuality: number
}

/** Everything `hashImage` returns for one input. Hashes are lowercase hex. */
export interface ImageHashes {
  sha256: string
  md5: string
  sha1: string
  /** 256-bit blockhash (16 bits per side), method 2 ('precise', blockhash-core's bmvbhash): 64 hex characters. */
  blockhash: string
  /** PDQ, 64 hex characters in the reference's format. */
  pdq: string
  /** PDQ quality 0..100; hashes under 50 should not be matched. */
  pdqQuality: number
  /** The 8 dihedral PDQ hashes (original first) when `dihedral: true`. */
  pdqDihedral?: string[]
  /** Frames 0, N, 2N... of an animated image when `frameStep` N > 0 (frame 0 included). */
  frames?: FrameHashes[]
  /** Size of the (first) frame after EXIF orientation. */
  width: number
  height: number
  /** Format as sharp reports it: 'jpeg', 'png', 'webp', 'gif', 'svg', 'tiff', 'heif'... */
  format: string
  /** Input byte length. */
  bytes: number
}

/**
 * What users of hashing depend on (the crawler's media pipeline, the notifier's rechecks, the
 * review previews): bytes in, hashes out. The Hasher implements it with a worker pool.
 */
export interface ImageHasher {
  hash(bytes: Uint8Array): Promise<ImageHashes>
}
