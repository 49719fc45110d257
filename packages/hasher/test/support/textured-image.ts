import sharp from 'sharp'

/** Small deterministic PRNG (mulberry32), so generated corpora are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Benign synthetic RGB pixels: a few flat shapes over low-frequency noise (a coarse random grid,
 * bilinearly interpolated, per channel). Flat shapes alone give PDQ quality well under 50; the
 * noise gives photo-like quality 100 (see DESIGN.md, "Hashes").
 */
export function texturedPixels(width: number, height: number, seed: number): Uint8Array {
  const random = seededRandom(seed)
  const grid = 9
  const coarse = Array.from({ length: 3 }, () => Float64Array.from({ length: grid * grid }, () => random() * 255))
  const data = new Uint8Array(width * height * 3)
  for (let y = 0; y < height; y++) {
    const gy = (y / height) * (grid - 1)
    const y0 = Math.floor(gy)
    const y1 = Math.min(grid - 1, y0 + 1)
    const fy = gy - y0
    for (let x = 0; x < width; x++) {
      const gx = (x / width) * (grid - 1)
      const x0 = Math.floor(gx)
      const x1 = Math.min(grid - 1, x0 + 1)
      const fx = gx - x0
      for (let c = 0; c < 3; c++) {
        const g = coarse[c]!
        const top = (1 - fx) * g[y0 * grid + x0]! + fx * g[y0 * grid + x1]!
        const bottom = (1 - fx) * g[y1 * grid + x0]! + fx * g[y1 * grid + x1]!
        data[(y * width + x) * 3 + c] = (1 - fy) * top + fy * bottom
      }
    }
  }
  const shapes = 6
  for (let s = 0; s < shapes; s++) {
    const colour = [random() * 255, random() * 255, random() * 255]
    const cx = random() * width
    const cy = random() * height
    const r = (0.05 + random() * 0.15) * Math.min(width, height)
    const circle = random() < 0.5
    const x0 = Math.max(0, Math.floor(cx - r))
    const x1 = Math.min(width, Math.ceil(cx + r))
    const y0 = Math.max(0, Math.floor(cy - r))
    const y1 = Math.min(height, Math.ceil(cy + r))
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        if (circle && (x - cx) ** 2 + (y - cy) ** 2 > r * r) continue
        const p = (y * width + x) * 3
        for (let c = 0; c < 3; c++) data[p + c] = ((data[p + c] ?? 0) + (colour[c] ?? 0) * 3) / 4
      }
    }
  }
  return data
}

export type SyntheticFormat = 'jpeg' | 'png' | 'webp' | 'gif'

/** A benign textured image encoded in memory. */
export async function texturedImage(width: number, height: number, seed: number, format: SyntheticFormat = 'jpeg'): Promise<Buffer> {
  const image = sharp(texturedPixels(width, height, seed), { raw: { width, height, channels: 3 } })
  switch (format) {
    case 'jpeg':
      return image.jpeg({ quality: 85 }).toBuffer()
    case 'png':
      return image.png({ compressionLevel: 6 }).toBuffer()
    case 'webp':
      return image.webp({ quality: 80 }).toBuffer()
    case 'gif':
      return image.gif().toBuffer()
  }
}
