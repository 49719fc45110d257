import type { ArachnidErrorOptions } from '@arachnid/core/errors'
import { HashError } from '@arachnid/hasher'

/**
 * The video breaks a bound or policy, seen from its bytes or from ffprobe before decoding, or
 * while decoding (a stream longer than it said): recorded with its code, never retried.
 */
export class VideoRejectedError extends HashError {
  constructor(
    code: 'EMPTY' | 'TOO_LARGE' | 'UNSUPPORTED_FORMAT' | 'NO_VIDEO_STREAM' | 'TOO_LONG' | 'TOO_MANY_FRAMES' | 'TOO_MANY_STREAMS',
    message: string,
    options: ArachnidErrorOptions = {},
  ) {
    super(code, message, { ...options, retryable: false })
  }
}

/** ffprobe or ffmpeg gave up on the bytes (truncated, malformed, no decodable frame): CORRUPT, never retried. */
export class CorruptVideoError extends HashError {
  constructor(message: string, options: ArachnidErrorOptions = {}) {
    super('CORRUPT', message, { ...options, retryable: false })
  }
}

/**
 * ffmpeg or ffprobe cannot be run here (missing, not executable, or not answering `-version`):
 * FFMPEG_UNAVAILABLE, retryable, since the same bytes hash on a machine that has them.
 */
export class FfmpegUnavailableError extends HashError {
  constructor(message: string, options: ArachnidErrorOptions = {}) {
    super('FFMPEG_UNAVAILABLE', message, { ...options, retryable: true })
  }
}
