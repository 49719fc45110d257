import { spawn } from 'node:child_process'
import { DEFAULT_VIDEO_HASH_OPTIONS } from './video-hash-options.js'

function answers(path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let child
    try {
      child = spawn(path, ['-version'], { stdio: 'ignore' })
    } catch {
      resolve(false)
      return
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', () => {
      clearTimeout(timer)
      resolve(false)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve(code === 0)
    })
  })
}

/**
 * Whether ffmpeg and ffprobe run here (each answers `-version` within 5 s). Without them every
 * video fails with FFMPEG_UNAVAILABLE.
 *
 * @example
 * if (!(await ffmpegAvailable())) console.warn('videos will not be hashed: apt-get install -y ffmpeg')
 */
export async function ffmpegAvailable(paths: { readonly ffmpegPath?: string; readonly ffprobePath?: string } = {}): Promise<boolean> {
  const [a, b] = await Promise.all([
    answers(paths.ffmpegPath ?? DEFAULT_VIDEO_HASH_OPTIONS.ffmpegPath, 5000),
    answers(paths.ffprobePath ?? DEFAULT_VIDEO_HASH_OPTIONS.ffprobePath, 5000),
  ])
  return a && b
}
