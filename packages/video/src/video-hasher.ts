import { createHash } from 'node:crypto'
import { withDefaults } from '@arachnid/core/with-defaults'
import { HasherUnavailableError, HashTimeoutError, pdqHash } from '@arachnid/hasher'
import { BoundedProcess, ffmpegReason } from './bounded-process.js'
import { cropRgb, findBars } from './letterbox.js'
import { frameModulus, frameTimestamp, selectFilter } from './frame-selection.js'
import { probeVideo } from './probe-video.js'
import { RangeServer } from './range-server.js'
import { sniffVideoContainer } from './sniff-video.js'
import { CorruptVideoError, FfmpegUnavailableError, VideoRejectedError } from './video-errors.js'
import { checkVideoHashOptions, DEFAULT_VIDEO_HASH_OPTIONS, type VideoHashOptions } from './video-hash-options.js'
import type { VideoFrameHash, VideoHashes } from './video-hashes.js'
import { openVideoSource } from './video-source.js'

interface Job {
  readonly bytes: Uint8Array
  readonly resolve: (hashes: VideoHashes) => void
  readonly reject: (error: unknown) => void
}

/**
 * Hashes videos the vPDQ way: one PDQ per second of video (by vPDQ's frame-selection rule) plus
 * md5, sha1 and sha256 of the bytes. Frames are decoded by ffmpeg as a child process under hard
 * bounds (bytes, wall time, decoded frames, pixels per frame, streams, duration), after an ffprobe
 * under the same bounds; the bytes stay in memory (stdin, or a loopback range server for an MP4
 * whose index is at the end). Every failure is a `HashError` with a code; ffmpeg is killed
 * (SIGKILL) when a bound is hit. Owns its range server: `close()` ends it.
 *
 * @example
 * const videos = new VideoHasher({ maxDurationSeconds: 3600 })
 * try {
 *   const h = await videos.hash(bytes)   // h.frames: [{ timestamp, pdq, quality, frame }, ...]
 * } finally {
 *   await videos.close()
 * }
 */
export class VideoHasher {
  readonly #options: Required<VideoHashOptions>
  readonly #queue: Job[] = []
  #running = 0
  #closing = false
  #drained: (() => void) | undefined
  #server: RangeServer | undefined

  constructor(options: VideoHashOptions = {}) {
    this.#options = withDefaults(DEFAULT_VIDEO_HASH_OPTIONS, options)
    checkVideoHashOptions(this.#options)
  }

  /** Hashes one video; rejects with a `HashError` (codes EMPTY, TOO_LARGE, UNSUPPORTED_FORMAT, NO_VIDEO_STREAM, TOO_LONG, TOO_MANY_FRAMES, TOO_MANY_STREAMS, CORRUPT, TIMEOUT, FFMPEG_UNAVAILABLE, CLOSED). */
  hash(bytes: Uint8Array): Promise<VideoHashes> {
    if (this.#closing) return Promise.reject(new HasherUnavailableError('CLOSED', 'video hasher is closed'))
    return new Promise<VideoHashes>((resolve, reject) => {
      this.#queue.push({ bytes, resolve, reject })
      this.#pump()
    })
  }

  /** Stops accepting videos, waits for the accepted ones, then closes the range server. Idempotent. */
  async close(): Promise<void> {
    this.#closing = true
    if (this.#running > 0 || this.#queue.length > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
    await this.#server?.close()
    this.#server = undefined
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#running < this.#options.concurrency) {
      const job = this.#queue.shift()!
      this.#running++
      this.#hashOne(job.bytes)
        .then(job.resolve, job.reject)
        .finally(() => {
          this.#running--
          this.#pump()
        })
    }
    if (this.#running === 0 && this.#queue.length === 0 && this.#drained !== undefined) {
      this.#drained()
      this.#drained = undefined
    }
  }

  async #hashOne(bytes: Uint8Array): Promise<VideoHashes> {
    const o = this.#options
    const deadline = Date.now() + o.maxWallMs
    if (bytes.length === 0) throw new VideoRejectedError('EMPTY', 'empty input')
    if (bytes.length > o.maxBytes) throw new VideoRejectedError('TOO_LARGE', `${bytes.length} bytes exceed the bound of ${o.maxBytes}`)
    const container = sniffVideoContainer(bytes, 'video/*')
    if (container === undefined) throw new VideoRejectedError('UNSUPPORTED_FORMAT', 'not a recognised video container')
    const source = await openVideoSource(bytes, container, () => (this.#server ??= new RangeServer()))
    try {
      const probe = await probeVideo(source, o, deadline)
      const frameMod = frameModulus(o.secondsPerHash, probe.frameRate)
      const { frames, unbarred } = await this.#decode(source, probe.streamIndex, probe.width, probe.height, probe.frameRate, frameMod, deadline)
      const last = frames.at(-1)
      return {
        format: 'video',
        container: probe.container,
        codec: probe.codec,
        md5: createHash('md5').update(bytes).digest('hex'),
        sha1: createHash('sha1').update(bytes).digest('hex'),
        sha256: createHash('sha256').update(bytes).digest('hex'),
        bytes: bytes.length,
        // A streamed container (fragmented MP4, live Matroska) may declare nothing, or ffprobe's estimate
        // from the first packets: the frames decoded are the better lower bound then.
        durationSeconds: Math.max(Number.isFinite(probe.durationSeconds) ? probe.durationSeconds : 0, last?.timestamp ?? 0),
        width: probe.width,
        height: probe.height,
        frameRate: probe.frameRate,
        frames,
        ...(unbarred.some((f, i) => f !== frames[i]) ? { unbarredFrames: unbarred } : {}),
      }
    } finally {
      source.release()
    }
  }

  /** Decodes the selected frames as rgb24 from ffmpeg's stdout and hashes each as it arrives. */
  async #decode(
    source: Awaited<ReturnType<typeof openVideoSource>>,
    streamIndex: number,
    width: number,
    height: number,
    frameRate: number,
    frameMod: number,
    deadline: number,
  ): Promise<{ frames: VideoFrameHash[]; unbarred: VideoFrameHash[] }> {
    const o = this.#options
    const args = [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      // The decoder itself refuses a frame over the pixel bound, should the size change mid-stream.
      '-max_pixels', String(o.maxPixels),
      // vPDQ hashes frames as stored: no display-matrix rotation.
      '-noautorotate',
      ...source.inputArgs,
      '-map', `0:${streamIndex}`, '-an', '-sn', '-dn',
      // Every decoded frame enters the filter once (passthrough: no frame duplicated or dropped to
      // reach a constant rate), so select's n is vPDQ's frame number. The scale pins every output
      // frame to the probed size (a mid-stream size change cannot break the framing of stdout)
      // and converts to RGB with SWS_AREA as vPDQ's sws_scale does.
      '-vf', `${selectFilter(frameMod)},scale=w=${width}:h=${height}:flags=area+accurate_rnd,format=rgb24`,
      '-fps_mode', 'passthrough',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
    ]
    const run = new BoundedProcess(o.ffmpegPath, args, source.stdin, deadline, () => new HashTimeoutError(`decoding took longer than ${o.maxWallMs} ms`))
    const frameBytes = width * height * 3
    const frames: VideoFrameHash[] = []
    const unbarred: VideoFrameHash[] = []
    let buffer = new Uint8Array(frameBytes)
    let filled = 0
    let stopped = false
    const onFrame = (): void => {
      const frame = frames.length * frameMod
      if (frame >= o.maxFrames) {
        run.kill(new VideoRejectedError('TOO_MANY_FRAMES', `more than ${o.maxFrames} frames decoded`))
        stopped = true
        return
      }
      const timestamp = frameTimestamp(frame, frameRate)
      if (timestamp > o.maxDurationSeconds) {
        run.kill(new VideoRejectedError('TOO_LONG', `frames past ${o.maxDurationSeconds} s (frame ${frame} at ${timestamp} s)`))
        stopped = true
        return
      }
      const { hash, quality } = pdqHash({ width, height, channels: 3, data: buffer })
      const hashed: VideoFrameHash = { timestamp, pdq: hash, quality, frame }
      frames.push(hashed)
      const bars = findBars(buffer, width, height)
      if (bars === undefined) unbarred.push(hashed)
      else {
        const inner = pdqHash({ width: bars.width, height: bars.height, channels: 3, data: cropRgb(buffer, width, bars) })
        unbarred.push({ timestamp, pdq: inner.hash, quality: inner.quality, frame })
      }
    }
    try {
      for await (const chunk of run.child.stdout as AsyncIterable<Buffer>) {
        if (stopped) break
        let at = 0
        while (at < chunk.length && !stopped) {
          const n = Math.min(frameBytes - filled, chunk.length - at)
          buffer.set(chunk.subarray(at, at + n), filled)
          filled += n
          at += n
          if (filled === frameBytes) {
            onFrame()
            filled = 0
          }
        }
      }
    } catch (error) {
      run.kill(error)
    } finally {
      // Dropping the rest of stdout must not leave ffmpeg blocked on a full pipe.
      if (stopped) run.child.stdout.destroy()
    }
    buffer = new Uint8Array(0)
    const end = await run.exited
    if (end.spawnError !== undefined) throw new FfmpegUnavailableError(`cannot run ffmpeg at ${o.ffmpegPath}: ${end.spawnError.message}`, { cause: end.spawnError })
    if (end.killedFor !== undefined) throw end.killedFor
    if (end.code !== 0) throw new CorruptVideoError(`ffmpeg could not decode the video: ${ffmpegReason(end.stderr)}`)
    // At loglevel error ffmpeg says nothing about a sound video; anything it said is damage
    // (a truncated file decodes up to the cut and then reports it): the video is refused.
    if (end.stderr.trim() !== '') throw new CorruptVideoError(`ffmpeg reported errors while decoding: ${ffmpegReason(end.stderr)}`)
    if (filled !== 0) throw new CorruptVideoError(`ffmpeg ended in the middle of a frame (${filled} of ${frameBytes} bytes)`)
    if (frames.length === 0) throw new CorruptVideoError('no frame could be decoded')
    return { frames, unbarred }
  }
}
