import { HashTimeoutError } from '@arachnid/hasher'
import { BoundedProcess, ffmpegReason } from './bounded-process.js'
import { RangeServer } from './range-server.js'
import { sniffVideoContainer } from './sniff-video.js'
import { CorruptVideoError, FfmpegUnavailableError, VideoRejectedError } from './video-errors.js'
import { openVideoSource } from './video-source.js'

export interface FrameOptions {
  /** Bytes of the video at most (TOO_LARGE). */
  readonly maxBytes: number
  /** Pixels of a decoded frame at most (the decoder refuses larger ones). */
  readonly maxPixels: number
  /** Wall time for the whole extraction; ffmpeg is killed after it (TIMEOUT). */
  readonly maxWallMs: number
  /** Longest side of the picture returned, in pixels (never enlarged). */
  readonly size: number
  /** Default /usr/bin/ffmpeg. */
  readonly ffmpegPath?: string
}

/**
 * The frame of a video shown at `timestamp` seconds (a time past its end has none: CORRUPT), shrunk to at most `size` pixels on its longer side, as PNG bytes, in memory: for an analyst's
 * preview of where a match lies (the caller blurs it). The video's bytes reach ffmpeg as the
 * hasher's do (stdin, or the loopback range server for an MP4 indexed at its end), never a file;
 * the same bounds apply, and every failure is a `HashError` with a code.
 */
export async function extractFrame(bytes: Uint8Array, timestamp: number, options: FrameOptions): Promise<Uint8Array> {
  if (bytes.length === 0) throw new VideoRejectedError('EMPTY', 'empty input')
  if (bytes.length > options.maxBytes) throw new VideoRejectedError('TOO_LARGE', `${bytes.length} bytes exceed the bound of ${options.maxBytes}`)
  const container = sniffVideoContainer(bytes, 'video/*')
  if (container === undefined) throw new VideoRejectedError('UNSUPPORTED_FORMAT', 'not a recognised video container')
  let server: RangeServer | undefined
  const source = await openVideoSource(bytes, container, () => (server ??= new RangeServer()))
  const deadline = Date.now() + options.maxWallMs
  const at = Math.max(0, Number.isFinite(timestamp) ? timestamp : 0)
  try {
    const size = Math.max(16, Math.floor(options.size))
    const run = new BoundedProcess(options.ffmpegPath ?? '/usr/bin/ffmpeg', [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-max_pixels', String(options.maxPixels), '-noautorotate',
      ...source.inputArgs,
      // Decoded from the start and dropped up to `at` (a pipe cannot seek): exact, bounded by the deadline.
      '-ss', at.toFixed(3), '-map', '0:v:0', '-an', '-sn', '-dn', '-frames:v', '1', '-update', '1',
      '-vf', `scale=w='min(iw,${size})':h='min(ih,${size})':force_original_aspect_ratio=decrease`,
      '-c:v', 'png', '-f', 'image2pipe', 'pipe:1',
    ], source.stdin, deadline, () => new HashTimeoutError(`extracting a frame took longer than ${options.maxWallMs} ms`))
    const chunks: Buffer[] = []
    for await (const chunk of run.child.stdout as AsyncIterable<Buffer>) chunks.push(chunk)
    const end = await run.exited
    if (end.spawnError !== undefined) throw new FfmpegUnavailableError(`cannot run ffmpeg: ${end.spawnError.message}`, { cause: end.spawnError })
    if (end.killedFor !== undefined) throw end.killedFor
    if (end.code !== 0) throw new CorruptVideoError(`ffmpeg could not decode the video: ${ffmpegReason(end.stderr)}`)
    const png = Buffer.concat(chunks)
    if (png.length === 0) throw new CorruptVideoError(`the video has no frame at ${at} s`)
    return png
  } finally {
    source.release()
    await server?.close()
  }
}
