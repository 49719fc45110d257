/**
 * Seconds of 720p H.264 hashed per second by VideoHasher (probe + decode + one PDQ per second),
 * against ffmpeg alone decoding the same frames in the same run: the same input on stdin, the
 * same input options, the same stream, the same select filter and conversion, ffmpeg's default
 * threads in both, output to null. Rounds alternate (ABBA) so that a change of load on the shared
 * machine touches both; the ratio is reported per round and as the median of those ratios.
 * Usage: node --import tsx bench/video/run.ts [seconds=20] [rounds=7]
 */
import { spawn } from 'node:child_process'
import { generateVideo } from '@arachnid/synthetic'
import { DEFAULT_VIDEO_HASH_OPTIONS, VideoHasher } from '@arachnid/video'

const seconds = Number(process.argv[2] ?? 20)
const rounds = Number(process.argv[3] ?? 7)
const fps = 30

function ffmpegAlone(bytes: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn('/usr/bin/ffmpeg', [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      '-max_pixels', String(DEFAULT_VIDEO_HASH_OPTIONS.maxPixels), '-noautorotate',
      '-protocol_whitelist', 'pipe', '-f', 'mov', '-format_whitelist', 'mov', '-i', 'pipe:0',
      '-map', '0:V:0', '-an', '-sn', '-dn',
      '-vf', `select=not(mod(n\\,${fps})),scale=w=1280:h=720:flags=area+accurate_rnd,format=rgb24`, '-fps_mode', 'passthrough', '-f', 'null', '-',
    ], { stdio: ['pipe', 'ignore', 'inherit'] })
    child.stdin.on('error', () => {})
    child.stdin.end(bytes)
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`ffmpeg exited ${code}`))))
  })
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

const madeAt = performance.now()
const video = await generateVideo({ seed: 720, width: 1280, height: 720, fps, seconds })
console.log(`generated ${seconds} s of 1280x720 H.264 at ${fps} fps (${(video.length / 1e6).toFixed(1)} MB) in ${((performance.now() - madeAt) / 1000).toFixed(1)} s`)
const hasher = new VideoHasher()
const hashOnce = async (): Promise<number> => {
  const started = performance.now()
  const h = await hasher.hash(video)
  if (h.frames.length !== seconds) throw new Error(`expected ${seconds} frames, got ${h.frames.length}`)
  return (performance.now() - started) / 1000
}
await hashOnce() // warm-up (module code, the JIT): not counted
const alone: number[] = []
const hashed: number[] = []
for (let r = 0; r < rounds; r++) {
  // ABBA: in odd rounds the hasher goes first.
  if (r % 2 === 0) {
    alone.push(await ffmpegAlone(video))
    hashed.push(await hashOnce())
  } else {
    hashed.push(await hashOnce())
    alone.push(await ffmpegAlone(video))
  }
}
await hasher.close()
const a = median(alone)
const h = median(hashed)
const ratios = alone.map((x, i) => x / (hashed[i] as number))
console.log(`ffmpeg alone:  ${(seconds / a).toFixed(1)} s of video per s (median of ${rounds}: ${a.toFixed(2)} s; all ${alone.map((x) => x.toFixed(2)).join(', ')})`)
console.log(`VideoHasher:   ${(seconds / h).toFixed(1)} s of video per s (median of ${rounds}: ${h.toFixed(2)} s; all ${hashed.map((x) => x.toFixed(2)).join(', ')})`)
console.log(`ratio VideoHasher / ffmpeg alone: per round ${ratios.map((x) => x.toFixed(2)).join(', ')}; median ${median(ratios).toFixed(2)}; of the medians ${(a / h).toFixed(2)} (goal >= 0.8)`)
