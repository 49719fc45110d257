/**
 * vPDQ's frame selection (ThreatExchange vpdq, cpp/vpdq/cpp/hashing/filehasher.cpp and hasher.h):
 * frames are numbered from 0 in decoder output order; frame n is hashed when
 * `n % frameMod === 0`, with `frameMod = trunc(secondsPerHash x frameRate)`, or 1 when that is 0
 * (secondsPerHash 0 hashes every frame; a frame rate under 1 fps hashes every frame); the frame
 * rate is the stream's average frame rate, else its r_frame_rate.
 */
export function frameModulus(secondsPerHash: number, frameRate: number): number {
  const mod = Math.trunc(secondsPerHash * frameRate)
  return mod >= 1 ? mod : 1
}

/**
 * vPDQ's timestamp of frame n: `(float) n / (float) frameRate`, computed in single precision as
 * the reference does, then rounded to milliseconds as its text output prints it (`%.3f`).
 */
export function frameTimestamp(frameNumber: number, frameRate: number): number {
  const t = Math.fround(Math.fround(frameNumber) / Math.fround(frameRate))
  return Math.round(t * 1000) / 1000
}

/** The select filter that keeps the frames vPDQ hashes, so ffmpeg drops the others itself. */
export function selectFilter(frameMod: number): string {
  return frameMod === 1 ? 'null' : `select=not(mod(n\\,${frameMod}))`
}
