import { createHash } from 'node:crypto'
import { bmvbhash } from 'blockhash-core'
import sharp from 'sharp'
import type { ImageHashes } from '../../src/image-hashes.js'
import { naivePdq } from './naive-pdq.js'

/** Versions for benchmark reports (the bench folder cannot resolve sharp itself under pnpm). */
export const sharpVersions = sharp.versions

/**
 * The obvious implementation, the benchmark's baseline: digests, then one full decode per
 * perceptual hash, blockhash-core as is, and the step-by-step PDQ.
 */
export async function naiveHash(bytes: Buffer): Promise<Pick<ImageHashes, 'sha256' | 'md5' | 'sha1' | 'blockhash' | 'pdq' | 'pdqQuality'>> {
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  const md5 = createHash('md5').update(bytes).digest('hex')
  const sha1 = createHash('sha1').update(bytes).digest('hex')
  const forBlockhash = await sharp(bytes, { ignoreIcc: true, autoOrient: true }).ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  const blockhash = bmvbhash({ width: forBlockhash.info.width, height: forBlockhash.info.height, data: forBlockhash.data }, 16)
  const forPdq = await sharp(bytes, { ignoreIcc: true, autoOrient: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const pdq = naivePdq({ width: forPdq.info.width, height: forPdq.info.height, channels: 3, data: forPdq.data })
  return { sha256, md5, sha1, blockhash, pdq: pdq.hash, pdqQuality: pdq.quality }
}
