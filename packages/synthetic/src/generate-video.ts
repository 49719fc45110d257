import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { renderPixels } from './generate-image.js'
import { mixSeed } from './prng.js'

/**
 * Benign synthetic test videos, made by Debian's ffmpeg from synthetic scenes (the textured
 * pictures of generateImage, cross-faded one into the next), for the video hasher's tests and
 * benchmark. Frames are fed to ffmpeg's stdin as rawvideo and the encoded video is read from its
 * stdout. Only an MP4 with its index at the end (and a container that declares its duration)
 * needs seekable output: those are written to a temporary folder that is removed at once.
 */

/** What to film: everything follows from `seed`; the same spec gives the same frames. */
export interface VideoSpec {
  /** Seed of the scenes. */
  readonly seed: number
  /** Default 640. */
  readonly width?: number
  /** Default 360. */
  readonly height?: number
  /** Frames per second. Default 25. */
  readonly fps?: number
  /** Length in seconds. Default 12. */
  readonly seconds?: number
  /** Seconds from one scene to the next (the picture cross-fades all the time). Default 3. */
  readonly sceneSeconds?: number
  /** Container. Default 'mp4' (fragmented, so it streams from a pipe). */
  readonly container?: VideoOutput
  /** x264 constant rate factor (or VP9's crf for webm). Default 23. */
  readonly crf?: number
  /** Default /usr/bin/ffmpeg. */
  readonly ffmpegPath?: string
}

export const DEFAULT_VIDEO_SPEC = {
  width: 640,
  height: 360,
  fps: 25,
  seconds: 12,
  sceneSeconds: 3,
  container: 'mp4',
  crf: 23,
  ffmpegPath: '/usr/bin/ffmpeg',
} as const satisfies Required<Omit<VideoSpec, 'seed'>>

/** Output containers: H.264 in fragmented MP4, in MP4 with `moov` after `mdat`, in Matroska or MPEG-TS; VP9 in WebM. */
export const VIDEO_OUTPUTS = ['mp4', 'mp4-moov-at-end', 'mkv', 'mpegts', 'webm'] as const
export type VideoOutput = (typeof VIDEO_OUTPUTS)[number]

/** Changes made to an existing video (each should still match it by vPDQ's rule). */
export const VIDEO_ALTERATIONS = ['low-bitrate', 'half-scale', 'trim', 'letterbox', 'webm', 'moov-at-end'] as const
export type VideoAlteration = (typeof VIDEO_ALTERATIONS)[number]

/** Inputs the video hasher must refuse with a typed error. */
export const BAD_VIDEO_KINDS = ['empty', 'truncated', 'audio-only', 'huge-dimensions', 'ten-hour-stream', 'ten-hour-declared'] as const
export type BadVideoKind = (typeof BAD_VIDEO_KINDS)[number]

/** Width and height the 'huge-dimensions' header claims. */
export const HUGE_VIDEO_SIZE = 100_000

/** Encoder and muxer options of each output ('-' means stdout). */
function outputArgs(container: VideoOutput, crf: number): { args: string[]; seekable: boolean } {
  const h264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(crf), '-pix_fmt', 'yuv420p']
  switch (container) {
    case 'mp4':
      return { args: [...h264, '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4'], seekable: false }
    case 'mp4-moov-at-end':
      // The mp4 muxer's default: data first, index written last (needs a seekable output).
      return { args: [...h264, '-f', 'mp4'], seekable: true }
    case 'mkv':
      return { args: [...h264, '-f', 'matroska'], seekable: false }
    case 'mpegts':
      return { args: [...h264, '-f', 'mpegts'], seekable: false }
    case 'webm':
      return { args: ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1', '-b:v', '0', '-crf', String(Math.min(63, crf + 10)), '-pix_fmt', 'yuv420p', '-f', 'webm'], seekable: false }
  }
}

/**
 * Runs ffmpeg with `stdin` piped in (bytes, or frames from a generator) and returns its stdout, or
 * the file it wrote when `seekable` (ffmpeg writes to a temporary folder, removed at once).
 */
export async function runFfmpeg(
  ffmpegPath: string,
  inputArgs: readonly string[],
  outArgs: readonly string[],
  stdin: Uint8Array | AsyncIterable<Uint8Array> | undefined,
  seekable = false,
): Promise<Uint8Array> {
  const dir = seekable ? await mkdtemp(path.join(os.tmpdir(), 'arachnid-synthetic-video-')) : undefined
  try {
    const target = dir === undefined ? 'pipe:1' : path.join(dir, 'out')
    const child = spawn(ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-y', ...inputArgs, ...outArgs, target], { stdio: ['pipe', 'pipe', 'pipe'] })
    const chunks: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => chunks.push(c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr = (stderr + c).slice(-4000) })
    child.stdin.on('error', () => {})
    const closed = new Promise<number | null>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (code) => resolve(code))
    })
    if (stdin === undefined) child.stdin.end()
    else if (stdin instanceof Uint8Array) child.stdin.end(stdin)
    else {
      for await (const frame of stdin) {
        if (!child.stdin.write(frame)) await new Promise<void>((resolve) => child.stdin.once('drain', resolve))
        if (child.exitCode !== null) break
      }
      child.stdin.end()
    }
    const code = await closed
    if (code !== 0) throw new Error(`ffmpeg exited with ${code}: ${stderr.trim()}`)
    if (dir !== undefined) return new Uint8Array(await readFile(path.join(dir, 'out')))
    const out = Buffer.concat(chunks)
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }
}

function smoothstep(t: number): number {
  return t * t * (3 - 2 * t)
}

/**
 * The frames of `spec` as raw RGB: scene k (a textured synthetic picture of seed mix(seed, k))
 * cross-fades into scene k+1 over `sceneSeconds`, so the picture changes slowly and never stands
 * still. The scenes are rendered once; each frame is one blend.
 */
export async function* videoFrames(spec: VideoSpec): AsyncGenerator<Uint8Array> {
  const width = spec.width ?? DEFAULT_VIDEO_SPEC.width
  const height = spec.height ?? DEFAULT_VIDEO_SPEC.height
  const fps = spec.fps ?? DEFAULT_VIDEO_SPEC.fps
  const seconds = spec.seconds ?? DEFAULT_VIDEO_SPEC.seconds
  const sceneSeconds = spec.sceneSeconds ?? DEFAULT_VIDEO_SPEC.sceneSeconds
  const total = Math.round(seconds * fps)
  const sceneCount = Math.ceil(seconds / sceneSeconds) + 1
  const scenes: Uint8Array[] = []
  for (let k = 0; k < sceneCount; k++) scenes.push((await renderPixels({ seed: mixSeed(spec.seed, k), width, height })).data)
  for (let f = 0; f < total; f++) {
    const t = f / fps / sceneSeconds
    const k = Math.floor(t)
    const w = Math.round(smoothstep(t - k) * 256)
    const a = scenes[k] as Uint8Array
    const b = scenes[k + 1] as Uint8Array
    const frame = new Uint8Array(a.length)
    for (let i = 0; i < a.length; i++) frame[i] = ((a[i] as number) * (256 - w) + (b[i] as number) * w + 128) >> 8
    yield frame
  }
}

/**
 * Films a deterministic, benign synthetic video, encoded in memory.
 *
 * @example
 * const mp4 = await generateVideo({ seed: 7, width: 640, height: 360, seconds: 12 })
 */
export async function generateVideo(spec: VideoSpec): Promise<Uint8Array> {
  const width = spec.width ?? DEFAULT_VIDEO_SPEC.width
  const height = spec.height ?? DEFAULT_VIDEO_SPEC.height
  const fps = spec.fps ?? DEFAULT_VIDEO_SPEC.fps
  const { args, seekable } = outputArgs(spec.container ?? DEFAULT_VIDEO_SPEC.container, spec.crf ?? DEFAULT_VIDEO_SPEC.crf)
  const input = ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', 'pipe:0']
  return runFfmpeg(spec.ffmpegPath ?? DEFAULT_VIDEO_SPEC.ffmpegPath, input, args, videoFrames(spec), seekable)
}

/**
 * A changed copy of `video` (which must stream from a pipe: fragmented MP4, mkv, webm, ts):
 * 'low-bitrate' re-encodes at 150 kbit/s; 'half-scale' halves both sides; 'trim' keeps seconds 3
 * to 9 (cut on whole seconds, so the kept frames are the original's frames); 'letterbox' adds black bars
 * above and below (16:9 in 4:3, as television did); 'webm'
 * re-encodes as VP9 in WebM; 'moov-at-end' remuxes the same frames (no re-encode) into an MP4
 * whose index follows its data.
 */
export async function alterVideo(video: Uint8Array, alteration: VideoAlteration, ffmpegPath: string = DEFAULT_VIDEO_SPEC.ffmpegPath): Promise<Uint8Array> {
  const input = ['-i', 'pipe:0']
  const h264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4']
  switch (alteration) {
    case 'low-bitrate':
      return runFfmpeg(ffmpegPath, input, ['-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '150k', '-maxrate', '150k', '-bufsize', '300k', '-pix_fmt', 'yuv420p', '-movflags', 'frag_keyframe+empty_moov+default_base_moof', '-f', 'mp4'], video)
    case 'half-scale':
      return runFfmpeg(ffmpegPath, input, ['-vf', 'scale=trunc(iw/4)*2:trunc(ih/4)*2', ...h264], video)
    case 'trim':
      return runFfmpeg(ffmpegPath, input, ['-vf', 'trim=start=3:end=9,setpts=PTS-STARTPTS', ...h264], video)
    case 'letterbox':
      return runFfmpeg(ffmpegPath, input, ['-vf', 'pad=iw:trunc(ih*2/3)*2:0:(oh-ih)/2:black', ...h264], video)
    case 'webm':
      return runFfmpeg(ffmpegPath, input, outputArgs('webm', 23).args, video)
    case 'moov-at-end':
      return runFfmpeg(ffmpegPath, input, ['-c', 'copy', '-f', 'mp4'], video, true)
  }
}

/**
 * Bytes the video hasher must refuse: 'empty' (0 bytes); 'truncated' (an MP4 with its index first,
 * cut at 60 %); 'audio-only' (an MP4 holding a sine tone and no video); 'huge-dimensions' (a
 * YUV4MPEG2 header claiming 100,000 x 100,000 frames, followed by a few bytes); 'ten-hour-stream'
 * (10 hours of a flat 64x36 picture at 1 fps in streamed Matroska, which declares no duration:
 * 36,000 real frames in ~0.9 MB, made in about a second); 'ten-hour-declared' (the same in a
 * Matroska file that declares its 10-hour duration).
 */
export async function badVideo(kind: BadVideoKind, ffmpegPath: string = DEFAULT_VIDEO_SPEC.ffmpegPath): Promise<Uint8Array> {
  switch (kind) {
    case 'empty':
      return new Uint8Array(0)
    case 'truncated': {
      const frames = videoFrames({ seed: 9001, width: 320, height: 180, seconds: 4 })
      const whole = await runFfmpeg(ffmpegPath, ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', '320x180', '-r', '25', '-i', 'pipe:0'], ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-f', 'mp4'], frames, true)
      return whole.slice(0, Math.floor(whole.length * 0.6))
    }
    case 'audio-only':
      return runFfmpeg(ffmpegPath, ['-f', 'lavfi', '-i', 'sine=frequency=440:duration=3'], ['-c:a', 'aac', '-movflags', 'frag_keyframe+empty_moov', '-f', 'mp4'], undefined)
    case 'huge-dimensions': {
      const header = `YUV4MPEG2 W${HUGE_VIDEO_SIZE} H${HUGE_VIDEO_SIZE} F25:1 Ip A1:1 C420jpeg\nFRAME\n`
      const bytes = new Uint8Array(header.length + 4096)
      bytes.set(new TextEncoder().encode(header))
      return bytes
    }
    case 'ten-hour-stream':
    case 'ten-hour-declared':
      return runFfmpeg(
        ffmpegPath,
        ['-f', 'lavfi', '-i', 'color=c=0x808040:s=64x36:r=1:d=36000'],
        ['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '3600', '-f', 'matroska'],
        undefined,
        kind === 'ten-hour-declared',
      )
  }
}
