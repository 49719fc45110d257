import { bmvbhash } from 'blockhash-core'
import sharp from 'sharp'

/** blockhash-256 (bmvbhash, 16 bits per side) of encoded bytes, decoded as the hasher does: EXIF rotation, RGBA, no resize, no ICC. */
export async function blockhash256(bytes: Uint8Array): Promise<bigint> {
  const { data, info } = await sharp(bytes, { ignoreIcc: true }).rotate().ensureAlpha().raw().toBuffer({ resolveWithObject: true })
  return BigInt(`0x${bmvbhash({ width: info.width, height: info.height, data }, 16)}`)
}

export function hamming(a: bigint, b: bigint): number {
  let x = a ^ b
  let n = 0
  while (x > 0n) {
    x &= x - 1n
    n++
  }
  return n
}

/**
 * An estimate of PDQ's quality score: the sum over the 64x64 luma thumbnail of neighbour
 * differences, each truncated to whole percents of full scale (so smooth shading counts
 * nothing), / 90, capped at 100. The thumbnail is a plain box average instead of PDQ's two
 * Jarosz passes: a little blurrier, so the estimate errs low.
 */
export async function estimatePdqQuality(bytes: Uint8Array): Promise<number> {
  const { data, info } = await sharp(bytes, { ignoreIcc: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true })
  const { width, height, channels } = info
  const luma = new Float64Array(64 * 64)
  const count = new Float64Array(64 * 64)
  for (let y = 0; y < height; y++) {
    const by = Math.min(63, Math.floor((y * 64) / height))
    for (let x = 0; x < width; x++) {
      const bx = Math.min(63, Math.floor((x * 64) / width))
      const o = (y * width + x) * channels
      const l = 0.299 * (data[o] as number) + 0.587 * (data[o + 1] as number) + 0.114 * (data[o + 2] as number)
      luma[by * 64 + bx] = (luma[by * 64 + bx] as number) + l
      count[by * 64 + bx] = (count[by * 64 + bx] as number) + 1
    }
  }
  const u = Array.from(luma, (v, i) => v / (count[i] as number))
  const step = (a: number, b: number): number => Math.abs(Math.trunc(((a - b) * 100) / 255))
  let sum = 0
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) {
      const v = u[y * 64 + x] as number
      if (x < 63) sum += step(u[y * 64 + x + 1] as number, v)
      if (y < 63) sum += step(u[(y + 1) * 64 + x] as number, v)
    }
  }
  return Math.min(100, Math.floor(sum / 90))
}
