import { SETTINGS } from '@arachnid/core/config'

/** Bounds and knobs of a `VideoHasher`. Every bound is enforced by killing ffmpeg (SIGKILL) with a typed error. */
export interface VideoHashOptions {
  /** Inputs longer than this are refused (TOO_LARGE) before ffmpeg starts. Default: ARACHNID_MAX_VIDEO_BYTES's (512 MiB). */
  readonly maxBytes?: number
  /** Wall time of probe and decode together; ffmpeg is killed after it (TIMEOUT). Default: ARACHNID_VIDEO_TIMEOUT_MS's (10 min). */
  readonly maxWallMs?: number
  /** Decoded frames at most (counted as the decoder outputs them, selected or not): TOO_MANY_FRAMES. Default: ARACHNID_MAX_VIDEO_FRAMES's (1,000,000). */
  readonly maxFrames?: number
  /** Pixels (width x height) of one frame, from the probe and as the decoders' `max_pixels`: TOO_LARGE. Default: ARACHNID_MAX_PIXELS's (50e6). */
  readonly maxPixels?: number
  /** Streams in the container at most (video, audio, subtitles, data): TOO_MANY_STREAMS. Default 32. */
  readonly maxStreams?: number
  /** Declared duration, and timestamp of any hashed frame, at most: TOO_LONG. Default: ARACHNID_MAX_VIDEO_SECONDS's (4 h). */
  readonly maxDurationSeconds?: number
  /** vPDQ's seconds per hash: one frame in every `trunc(secondsPerHash x frame rate)` (at least 1); 0 hashes every frame. Default 1. */
  readonly secondsPerHash?: number
  /** Default /usr/bin/ffmpeg (Debian's; nothing is downloaded). */
  readonly ffmpegPath?: string
  /** Default /usr/bin/ffprobe. */
  readonly ffprobePath?: string
  /** Videos decoded at once (each ffmpeg uses several threads of its own); further calls wait in a queue. Default 1. */
  readonly concurrency?: number
}

/** The defaults, in one place (the bounds that are settings default to the settings' defaults). */
export const DEFAULT_VIDEO_HASH_OPTIONS: Required<VideoHashOptions> = {
  maxBytes: SETTINGS.maxVideoBytes.default,
  maxWallMs: SETTINGS.videoTimeoutMs.default,
  maxFrames: SETTINGS.maxVideoFrames.default,
  maxPixels: SETTINGS.maxPixels.default,
  maxStreams: 32,
  maxDurationSeconds: SETTINGS.maxVideoSeconds.default,
  secondsPerHash: 1,
  ffmpegPath: '/usr/bin/ffmpeg',
  ffprobePath: '/usr/bin/ffprobe',
  concurrency: 1,
}

export function checkVideoHashOptions(o: Required<VideoHashOptions>): void {
  const positiveInts = ['maxBytes', 'maxWallMs', 'maxFrames', 'maxPixels', 'maxStreams', 'concurrency'] as const
  for (const key of positiveInts) {
    if (!Number.isSafeInteger(o[key]) || o[key] < 1) throw new RangeError(`${key} must be an integer >= 1, got ${o[key]}`)
  }
  if (!(o.maxDurationSeconds > 0)) throw new RangeError(`maxDurationSeconds must be > 0, got ${o.maxDurationSeconds}`)
  if (!(o.secondsPerHash >= 0) || !Number.isFinite(o.secondsPerHash)) throw new RangeError(`secondsPerHash must be a finite number >= 0, got ${o.secondsPerHash}`)
}
