/** A rectangle of a frame, in pixels. */
export interface Crop {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

/** A row or column is a bar when its mean is at most this (0..255, max of R, G, B) and no pixel exceeds BAR_MAX. */
const BAR_MEAN = 24
const BAR_MAX = 64
/** Bars thinner than this share of the side are ignored (encoder edge noise); a crop must keep at least MIN_KEEP of each side. */
const MIN_BAR = 0.01
const MIN_KEEP = 0.5

function isDark(data: Uint8Array, width: number, x0: number, y0: number, dx: number, dy: number, n: number): boolean {
  let sum = 0
  for (let k = 0, x = x0, y = y0; k < n; k++, x += dx, y += dy) {
    const i = (y * width + x) * 3
    const v = Math.max(data[i] as number, data[i + 1] as number, data[i + 2] as number)
    if (v > BAR_MAX) return false
    sum += v
  }
  return sum <= BAR_MEAN * n
}

/**
 * The picture inside black bars (letterbox, pillarbox or both) of an RGB frame, or undefined when
 * it has none. vPDQ hashes the frame with its bars, which moves PDQ by 60-120 bits for bars of
 * 5-15 % (measured on the synthetic videos), so a letterboxed copy never matches its source; the
 * hash of the picture inside does.
 */
export function findBars(data: Uint8Array, width: number, height: number): Crop | undefined {
  let top = 0
  while (top < height && isDark(data, width, 0, top, 1, 0, width)) top++
  if (top === height) return undefined // all dark: nothing inside
  let bottom = height
  while (bottom > top && isDark(data, width, 0, bottom - 1, 1, 0, width)) bottom--
  let left = 0
  while (left < width && isDark(data, width, left, top, 0, 1, bottom - top)) left++
  let right = width
  while (right > left && isDark(data, width, right - 1, top, 0, 1, bottom - top)) right--
  const cropW = right - left
  const cropH = bottom - top
  const barsY = top >= MIN_BAR * height || height - bottom >= MIN_BAR * height
  const barsX = left >= MIN_BAR * width || width - right >= MIN_BAR * width
  if (!barsX && !barsY) return undefined
  if (cropW < MIN_KEEP * width || cropH < MIN_KEEP * height) return undefined
  return { x: left, y: top, width: cropW, height: cropH }
}

/** The pixels of `crop`, contiguous. */
export function cropRgb(data: Uint8Array, width: number, crop: Crop): Uint8Array {
  const out = new Uint8Array(crop.width * crop.height * 3)
  for (let y = 0; y < crop.height; y++) {
    const from = ((crop.y + y) * width + crop.x) * 3
    out.set(data.subarray(from, from + crop.width * 3), y * crop.width * 3)
  }
  return out
}
