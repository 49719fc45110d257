import { open, readFile, stat } from 'node:fs/promises'
import type { Command } from 'commander'
import { describeError, loadConfig } from '@arachnid/core'
import { Hasher } from '@arachnid/hasher'
import { looksLikeVideo, VideoHasher, type VideoFrameHash } from '@arachnid/video'

// The hasher's order (ThreatExchange's reference order).
const DIHEDRAL_NAMES = ['original', 'rotate 90', 'rotate 180', 'rotate 270', 'flip x', 'flip y', 'flip +1', 'flip -1'] as const

/** Bytes read to tell a video from an image (every magic we sniff lies in the first few hundred). */
const SNIFF_BYTES = 4096

async function head(file: string): Promise<Uint8Array> {
  const handle = await open(file, 'r')
  try {
    const buffer = new Uint8Array(SNIFF_BYTES)
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0)
    return buffer.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
}

const tooLarge = (size: number, max: number) => Object.assign(new Error(`file of ${size} bytes exceeds ${max}`), { code: 'TOO_LARGE' })
const frameJson = (frames: readonly VideoFrameHash[]) => frames.map((f) => ({ timestamp: f.timestamp, pdq: f.pdq, quality: f.quality }))

export function registerHash(program: Command): void {
  program.command('hash')
    .description('hash local image and video files (sha256, md5, sha1; blockhash and PDQ of images; vPDQ, one PDQ per second, of videos through ffmpeg); never stops at a bad file')
    .argument('<files...>', 'image or video files')
    .option('--json', 'one JSON object per line')
    .option('--dihedral', 'add the 8 PDQ dihedral hashes (rotations and flips) of images')
    .action(async (files: string[], options: { json?: boolean; dihedral?: boolean }) => {
      const config = loadConfig()
      const hasher = new Hasher({ maxBytes: config.maxMediaBytes, maxPixels: config.maxPixels, dihedral: options.dihedral === true })
      const videos = new VideoHasher({
        maxBytes: config.maxVideoBytes,
        maxWallMs: config.videoTimeoutMs,
        maxFrames: config.maxVideoFrames,
        maxDurationSeconds: config.maxVideoSeconds,
        maxPixels: config.maxPixels,
      })
      // Videos are read and decoded one at a time: each may hold up to ARACHNID_MAX_VIDEO_BYTES in memory.
      let videoTurn: Promise<unknown> = Promise.resolve()
      const hashVideo = (file: string, size: number) => {
        const turn = videoTurn.then(async () => {
          if (size > config.maxVideoBytes) throw tooLarge(size, config.maxVideoBytes)
          const h = await videos.hash(await readFile(file))
          return {
            file, format: 'video' as const, md5: h.md5, sha1: h.sha1, sha256: h.sha256, durationSeconds: h.durationSeconds, frames: frameJson(h.frames),
            ...(h.unbarredFrames ? { unbarredFrames: frameJson(h.unbarredFrames) } : {}),
            // Text output only (left out of --json below).
            text: `${file}: video ${h.width}x${h.height} ${h.codec} ${h.durationSeconds.toFixed(3)} s, ${h.frames.length} frames hashed`,
          }
        })
        videoTurn = turn.catch(() => {})
        return turn
      }
      let failures = 0
      try {
        // Hash in parallel, print in the order given.
        const pending = files.map(async (file) => {
          try {
            const info = await stat(file)
            if (looksLikeVideo(await head(file))) return await hashVideo(file, info.size)
            if (info.size > config.maxMediaBytes) throw tooLarge(info.size, config.maxMediaBytes)
            const h = await hasher.hash(await readFile(file))
            return {
              file, sha256: h.sha256, md5: h.md5, sha1: h.sha1, blockhash: h.blockhash, pdq: h.pdq, pdqQuality: h.pdqQuality,
              width: h.width, height: h.height, format: h.format, ...(options.dihedral ? { pdqDihedral: h.pdqDihedral } : {}),
            }
          } catch (error) {
            const { code, message } = describeError(error)
            return { file, error: { code: code === 'ENOENT' ? 'NOT_FOUND' : code, message } }
          }
        })
        for (const result of pending) {
          const r = await result
          if ('error' in r && r.error) failures++
          if (options.json) {
            const { text: _text, ...json } = r as typeof r & { text?: string }
            process.stdout.write(`${JSON.stringify(json)}\n`)
          } else if ('error' in r && r.error) process.stdout.write(`${r.file}: ${r.error.code}: ${r.error.message}\n`)
          else if ('frames' in r) {
            process.stdout.write(`${r.text}\n  sha256 ${r.sha256}\n  md5 ${r.md5}\n  sha1 ${r.sha1}\n`)
            for (const f of r.frames) process.stdout.write(`  ${f.timestamp.toFixed(3).padStart(9)} s  pdq ${f.pdq} (quality ${f.quality})\n`)
          } else if ('sha256' in r) {
            process.stdout.write(`${r.file}: ${r.format} ${r.width}x${r.height}\n  sha256 ${r.sha256}\n  md5 ${r.md5}\n  sha1 ${r.sha1}\n  blockhash ${r.blockhash}\n  pdq ${r.pdq} (quality ${r.pdqQuality})\n`)
            if (r.pdqDihedral) r.pdqDihedral.forEach((h, i) => process.stdout.write(`  pdq ${(DIHEDRAL_NAMES[i] ?? `transform ${i}`).padEnd(10)} ${h}\n`))
          }
        }
      } finally {
        await Promise.all([hasher.close(), videos.close()])
      }
      if (failures > 0) process.exitCode = 1
    })
}
