/** Retry-After as milliseconds (seconds or an HTTP date), bounded to [1 s, 1 h]; 30 s when absent. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number {
  const text = Array.isArray(value) ? value[0] : value
  let ms = 30_000
  if (text !== undefined && text.trim() !== '') {
    const seconds = Number(text)
    if (Number.isFinite(seconds)) ms = seconds * 1000
    else {
      const date = Date.parse(text)
      if (Number.isFinite(date)) ms = date - now
    }
  }
  return Math.min(3_600_000, Math.max(1000, ms))
}
