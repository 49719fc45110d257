import type { VideoFrameHash } from './video-hashes.js'

/**
 * One frame as a line of vPDQ's text output (vpdq-hash-video, sample-hashes):
 * `frame_number,quality,pdq_hex,timestamp` with the timestamp to 3 decimals.
 */
export function formatVpdqLine(f: VideoFrameHash): string {
  return `${f.frame},${f.quality},${f.pdq},${f.timestamp.toFixed(3)}`
}

/** Parses vPDQ's text output (blank lines skipped); throws on a malformed line. */
export function parseVpdqText(text: string): VideoFrameHash[] {
  const out: VideoFrameHash[] = []
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '') continue
    const m = /^(\d+),(\d+),([0-9a-fA-F]{64}),(\d+(?:\.\d+)?)$/.exec(line)
    if (m === null) throw new SyntaxError(`vpdq line ${i + 1}: expected frame,quality,pdq,timestamp, got ${JSON.stringify(line.slice(0, 100))}`)
    out.push({ frame: Number(m[1]), quality: Number(m[2]), pdq: (m[3] as string).toLowerCase(), timestamp: Number(m[4]) })
  }
  return out
}
