/**
 * Where VideoHasher's time goes, piece by piece, on the bench's 720p video (generated in memory,
 * never written to disk), alternating the pieces in every round so that a change of load on the
 * shared machine touches all of them. Usage: node --import tsx bench/video/profile.ts [seconds=20] [rounds=5]
 *
 * Pieces: ffmpeg alone (the bench's reference, output to null); the same ffmpeg with rgb24 frames
 * piped to Node and only counted (the pipe's cost); ffprobe alone; spawning `ffmpeg -version`
 * (process start-up); PDQ of the frames on this thread; findBars; md5+sha1+sha256; VideoHasher.hash.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { pdqHash } from '../../packages/hasher/src/index.js'
import { generateVideo } from '@arachnid/synthetic'
import { VideoHasher } from '@arachnid/video'
import { findBars } from '../../packages/video/src/letterbox.js'

const seconds = Number(process.argv[2] ?? 20)
const rounds = Number(process.argv[3] ?? 5)
const fps = 30
const W = 1280
const H = 720
const filter = `select=not(mod(n\\,${fps})),scale=w=${W}:h=${H}:flags=area+accurate_rnd,format=rgb24`

function run(path: string, args: string[], input: Uint8Array | undefined, onStdout?: (chunk: Buffer) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(path, args, { stdio: ['pipe', onStdout ? 'pipe' : 'ignore', 'inherit'] })
    child.stdin!.on('error', () => {})
    child.stdin!.end(input)
    if (onStdout) child.stdout!.on('data', onStdout)
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`${path} exited ${code}`))))
  })
}

const decodeArgs = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'mov', '-i', 'pipe:0', '-map', '0:0', '-vf', filter, '-fps_mode', 'passthrough']
const ffmpegNull = (v: Uint8Array) => run('/usr/bin/ffmpeg', [...decodeArgs, '-f', 'null', '-'], v)
const frames: Uint8Array[] = []
async function ffmpegPipe(v: Uint8Array, keep: boolean): Promise<number> {
  let bytes = 0
  const chunks: Buffer[] = []
  const t = await run('/usr/bin/ffmpeg', [...decodeArgs, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], v, (c) => {
    bytes += c.length
    if (keep) chunks.push(c)
  })
  if (keep) {
    const all = Buffer.concat(chunks)
    for (let at = 0; at + W * H * 3 <= all.length; at += W * H * 3) frames.push(new Uint8Array(all.subarray(at, at + W * H * 3)))
  }
  if (bytes !== seconds * W * H * 3) throw new Error(`piped ${bytes} bytes`)
  return t
}
const ffprobe = (v: Uint8Array) => run('/usr/bin/ffprobe', ['-hide_banner', '-v', 'error', '-f', 'mov', '-i', 'pipe:0', '-print_format', 'json', '-show_format', '-show_streams'], v, () => {})
const spawnOnly = () => run('/usr/bin/ffmpeg', ['-version'], undefined, () => {})
function timed(f: () => void): number {
  const t = performance.now()
  f()
  return (performance.now() - t) / 1000
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

const video = await generateVideo({ seed: 720, width: W, height: H, fps, seconds })
await ffmpegPipe(video, true)
const hasher = new VideoHasher()
const t: Record<string, number[]> = {}
const add = (k: string, v: number) => (t[k] ??= []).push(v)
for (let r = 0; r < rounds; r++) {
  add('ffmpeg alone (-f null)', await ffmpegNull(video))
  add('VideoHasher.hash', await (async () => {
    const s = performance.now()
    await hasher.hash(video)
    return (performance.now() - s) / 1000
  })())
  add('ffmpeg, rgb24 piped to Node', await ffmpegPipe(video, false))
  add('ffprobe alone', await ffprobe(video))
  add('spawn ffmpeg -version', await spawnOnly())
  add(`PDQ of ${frames.length} frames`, timed(() => frames.forEach((f) => pdqHash({ width: W, height: H, channels: 3, data: f }))))
  add(`findBars of ${frames.length} frames`, timed(() => frames.forEach((f) => findBars(f, W, H))))
  add('md5+sha1+sha256', timed(() => ['md5', 'sha1', 'sha256'].forEach((a) => createHash(a).update(video).digest('hex'))))
}
await hasher.close()
console.log(`${seconds} s of ${W}x${H} H.264 at ${fps} fps (${(video.length / 1e6).toFixed(1)} MB), ${rounds} alternating rounds; seconds, median (all)`)
for (const [k, v] of Object.entries(t)) console.log(`${k.padEnd(32)} ${median(v).toFixed(3)}  (${v.map((x) => x.toFixed(3)).join(', ')})`)
