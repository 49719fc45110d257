import { createHash } from 'node:crypto'
import { blockhash256, blockhashFromBlockSums } from './blockhash.js'
import { decodeImage } from './decode-image.js'
import { foldedScan } from './folded-scan.js'
import { type HashOptions, resolveHashOptions } from './hash-options.js'
import type { ImageHashes } from './image-hashes.js'
import { releasePixels } from './native-decode.js'
import { pdqHash, pdqHashFromDownsample } from './pdq-hash.js'

/**
 * Hashes one image held in memory: sha256, md5 and sha1 of the bytes, then one bounded decode
 * (sharp) shared by blockhash-256 and PDQ. Throws a `HashError` (with a stable `code`) for any
 * input that cannot be hashed; never writes the bytes anywhere.
 *
 * @example
 * const h = await hashImage(bytes)
 * h.pdq        // 'f8f8f0cee0f4a84f...' (64 hex)
 * h.pdqQuality // 100
 */
export async function hashImage(bytes: Uint8Array, options: HashOptions = {}): Promise<ImageHashes> {
  const resolved = resolveHashOptions(options)
  const decoding = decodeImage(bytes, resolved)
  // The digests run on this thread while libuv's pool decodes.
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  const md5 = createHash('md5').update(bytes).digest('hex')
  const sha1 = createHash('sha1').update(bytes).digest('hex')
  const decoded = await decoding
  const { first } = decoded
  try {
    // One pass over the pixels gives PDQ's folded 64x64 buffer and, for the common layouts,
    // blockhash's block sums; otherwise each hash reads the pixels itself.
    const scan = foldedScan(first, true)
    const dihedral = resolved.dihedral
    const pdq = scan === undefined ? pdqHash(first, { dihedral }) : pdqHashFromDownsample(first, scan.down, { dihedral })
    const blockhash = scan?.blocks !== undefined ? blockhashFromBlockSums(scan.blocks, scan.pixelsPerBlock!) : blockhash256(first, 2)
    const result: ImageHashes = {
      sha256,
      md5,
      sha1,
      blockhash,
      pdq: pdq.hash,
      pdqQuality: pdq.quality,
      width: first.width,
      height: first.height,
      format: decoded.format,
      bytes: bytes.length,
    }
    if (pdq.dihedral !== undefined) result.pdqDihedral = [...pdq.dihedral]
    if (decoded.frames.length > 0) {
      result.frames = decoded.frames.map(({ index, pixels }) => {
        const frame = index === 0 ? pdq : pdqHash(pixels)
        return { index, blockhash: index === 0 ? result.blockhash : blockhash256(pixels, 2), pdq: frame.hash, pdqQuality: frame.quality }
      })
    }
    return result
  } finally {
    // Pixels from the native decode go back to its pool: nothing here keeps them.
    releasePixels(first.data)
  }
}
