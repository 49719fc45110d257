import { HashTimeoutError } from '@arachnid/hasher'
import { BoundedProcess, ffmpegReason } from './bounded-process.js'
import { CorruptVideoError, FfmpegUnavailableError, VideoRejectedError } from './video-errors.js'
import type { VideoHashOptions } from './video-hash-options.js'
import type { VideoSource } from './video-source.js'

/** What ffprobe said about a video, after the bounds were checked. */
export interface VideoProbe {
  /** ffprobe's format name, e.g. 'mov,mp4,m4a,3gp,3g2,mj2' or 'matroska,webm'. */
  readonly container: string
  /** Codec of the hashed video stream, e.g. 'h264', 'vp9'. */
  readonly codec: string
  /** Index of the hashed stream in the container: the first video stream that is not a cover picture. */
  readonly streamIndex: number
  readonly width: number
  readonly height: number
  /** Frames per second as vPDQ takes it: the stream's average frame rate, else its r_frame_rate. */
  readonly frameRate: number
  /** Declared duration in seconds (the video stream's, else the container's); NaN when not declared. */
  readonly durationSeconds: number
  readonly streams: number
}

/** Bytes of ffprobe's JSON at most (a few KB per stream; the stream bound keeps it far below). */
const PROBE_OUTPUT_MAX = 1024 * 1024

interface ProbeJson {
  streams?: {
    index?: number
    codec_type?: string
    codec_name?: string
    width?: number
    height?: number
    avg_frame_rate?: string
    r_frame_rate?: string
    duration?: string
    nb_frames?: string
    disposition?: { attached_pic?: number }
  }[]
  format?: { format_name?: string; duration?: string; nb_streams?: number }
}

export function parseRate(rate: string | undefined): number {
  const m = /^(\d+)\/(\d+)$/.exec(rate ?? '')
  if (m === null) return 0
  const den = Number(m[2])
  return den === 0 ? 0 : Number(m[1]) / den
}

const seconds = (s: string | undefined): number => (s === undefined || s === 'N/A' ? NaN : Number(s))

/** Probes `source` with ffprobe under the same bounds as the decode, and refuses what exceeds them. */
export async function probeVideo(source: VideoSource, options: Required<VideoHashOptions>, deadline: number): Promise<VideoProbe> {
  const args = [
    '-hide_banner', '-v', 'error',
    '-max_pixels', String(options.maxPixels),
    ...source.inputArgs,
    '-print_format', 'json', '-show_format', '-show_streams',
  ]
  const run = new BoundedProcess(options.ffprobePath, args, source.stdin, deadline, () => new HashTimeoutError(`probing took longer than ${options.maxWallMs} ms`))
  let output = ''
  run.child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
    if (output.length > PROBE_OUTPUT_MAX) run.kill(new VideoRejectedError('TOO_MANY_STREAMS', `ffprobe described more than ${PROBE_OUTPUT_MAX} bytes of streams`))
  })
  const end = await run.exited
  if (end.spawnError !== undefined) throw new FfmpegUnavailableError(`cannot run ffprobe at ${options.ffprobePath}: ${end.spawnError.message}`, { cause: end.spawnError })
  if (end.killedFor !== undefined) throw end.killedFor
  if (end.code !== 0) {
    // A header claiming a frame too big for ffmpeg itself (over ~268 Mpixels, or over -max_pixels)
    // fails the probe; it is the pixel bound that refused it, not damage.
    const size = /Picture size (\d+)x(\d+)/.exec(end.stderr)
    if (size !== null && Number(size[1]) * Number(size[2]) > options.maxPixels) {
      throw new VideoRejectedError('TOO_LARGE', `frames of ${size[1]}x${size[2]} = ${Number(size[1]) * Number(size[2])} pixels exceed the bound of ${options.maxPixels}`)
    }
    throw new CorruptVideoError(`ffprobe could not read the video: ${ffmpegReason(end.stderr)}`)
  }
  let json: ProbeJson
  try {
    json = JSON.parse(output) as ProbeJson
  } catch (cause) {
    throw new CorruptVideoError('ffprobe gave no readable description', { cause })
  }
  const streams = json.streams ?? []
  const count = Math.max(streams.length, json.format?.nb_streams ?? 0)
  if (count > options.maxStreams) throw new VideoRejectedError('TOO_MANY_STREAMS', `${count} streams exceed the bound of ${options.maxStreams}`)
  // vPDQ hashes the first video stream; a cover picture (attached_pic) is an image, not the video.
  const video = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1)
  if (video === undefined) throw new VideoRejectedError('NO_VIDEO_STREAM', `no video stream among ${streams.length} stream(s)`)
  const width = video.width ?? 0
  const height = video.height ?? 0
  if (width < 1 || height < 1) throw new CorruptVideoError(`video stream has no frame size (${width}x${height})`)
  if (width * height > options.maxPixels) {
    throw new VideoRejectedError('TOO_LARGE', `frames of ${width}x${height} = ${width * height} pixels exceed the bound of ${options.maxPixels}`)
  }
  const streamDuration = seconds(video.duration)
  const durationSeconds = Number.isFinite(streamDuration) ? streamDuration : seconds(json.format?.duration)
  if (durationSeconds > options.maxDurationSeconds) {
    throw new VideoRejectedError('TOO_LONG', `declared duration of ${durationSeconds} s exceeds the bound of ${options.maxDurationSeconds} s`)
  }
  const declaredFrames = Number(video.nb_frames ?? NaN)
  if (declaredFrames > options.maxFrames) throw new VideoRejectedError('TOO_MANY_FRAMES', `declared ${declaredFrames} frames exceed the bound of ${options.maxFrames}`)
  let frameRate = parseRate(video.avg_frame_rate)
  if (!(frameRate > 0)) frameRate = parseRate(video.r_frame_rate)
  if (!(frameRate > 0) || !Number.isFinite(frameRate)) throw new CorruptVideoError('video stream has no frame rate')
  return {
    container: json.format?.format_name ?? 'unknown',
    codec: video.codec_name ?? 'unknown',
    streamIndex: video.index ?? 0,
    width,
    height,
    frameRate,
    durationSeconds,
    streams: count,
  }
}
