import { createHash } from 'node:crypto'
import { withDefaults } from '@arachnid/core/with-defaults'
import { HasherUnavailableError, HashTimeoutError, pdqHash } from '@arachnid/hasher'
import { BoundedProcess, ffmpegReason } from './bounded-process.js'
import { cropRgb, findBars } from './letterbox.js'
import { frameModulus, frameTimestamp, selectFilter } from './frame-selection.js'
import { probeVideo, type VideoProbe } from './probe-video.js'
import { RangeServer } from './range-server.js'
import { sniffVideoContainer } from './sniff-video.js'
import { CorruptVideoError, FfmpegUnavailableError, VideoRejectedError } from './video-errors.js'
import { checkVideoHashOptions, DEFAULT_VIDEO_HASH_OPTIONS, type VideoHashOptions } from './video-hash-options.js'
import type { VideoFrameHash, VideoHashes } from './video-hashes.js'
import { openVideoSource, type VideoSource } from './video-source.js'

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
      // ffprobe and ffmpeg start together: ffmpeg's own start-up and its opening of the input
      // (~60 ms of a ~70-110 ms probe, measured) happen while ffprobe probes, then ffmpeg waits on
      // fd 3 for its filter graph, which needs ffprobe's frame rate and frame size. A video the
      // probe refuses is never decoded: ffmpeg is killed before it has its filters.
      const probing = probeVideo(source, o, deadline)
      const run = this.#startDecoder(source, deadline)
      // The digests are taken in slices between the children's I/O, while they start.
      const digesting = digests(bytes)
      let probe: VideoProbe
      try {
        probe = await probing
      } catch (error) {
        run.kill(error)
        await run.exited
        throw error
      }
      const frameMod = frameModulus(o.secondsPerHash, probe.frameRate)
      const { frames, unbarred } = await this.#decode(run, probe.width, probe.height, probe.frameRate, frameMod)
      const last = frames.at(-1)
      return {
        format: 'video',
        container: probe.container,
        codec: probe.codec,
        ...(await digesting),
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

  /**
   * Starts ffmpeg on `source`, opening and probing the input at once; it reads its video filter
   * graph from fd 3 (`-filter_script:v pipe:3`, read only after the input is open), which
   * `#decode` writes once the probe is known.
   */
  #startDecoder(source: VideoSource, deadline: number): BoundedProcess {
    const o = this.#options
    const args = [
      '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
      // The decoder itself refuses a frame over the pixel bound, should the size change mid-stream.
      '-max_pixels', String(o.maxPixels),
      // vPDQ hashes frames as stored: no display-matrix rotation.
      '-noautorotate',
      ...source.inputArgs,
      // The first video stream that is not a cover picture ('V'), the very stream the probe picks.
      '-map', '0:V:0', '-an', '-sn', '-dn',
      '-filter_script:v', 'pipe:3',
      '-fps_mode', 'passthrough',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
    ]
    return new BoundedProcess(o.ffmpegPath, args, source.stdin, deadline, () => new HashTimeoutError(`decoding took longer than ${o.maxWallMs} ms`), { lateInput: true })
  }

  /** Gives ffmpeg its filters, then hashes the selected frames as they arrive (rgb24 on its stdout). */
  async #decode(run: BoundedProcess, width: number, height: number, frameRate: number, frameMod: number): Promise<{ frames: VideoFrameHash[]; unbarred: VideoFrameHash[] }> {
    const o = this.#options
    // Every decoded frame enters the filter once (passthrough: no frame duplicated or dropped to
    // reach a constant rate), so select's n is vPDQ's frame number. The scale pins every output
    // frame to the probed size (a mid-stream size change cannot break the framing of stdout)
    // and converts to RGB with SWS_AREA as vPDQ's sws_scale does.
    run.sendLate(`${selectFilter(frameMod)},scale=w=${width}:h=${height}:flags=area+accurate_rnd,format=rgb24`)
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
    // 'data' events rather than an async iterator: one frame of 720p is ~40 chunks of 64 KB, and the
    // iterator's promise per chunk cost ~10 ms of this thread per 20 frames (measured).
    const stdout = run.child.stdout
    await new Promise<void>((resolve) => {
      const stop = (error?: unknown): void => {
        if (error !== undefined) run.kill(error)
        stopped = true
        // Dropping the rest of stdout must not leave ffmpeg blocked on a full pipe.
        stdout.destroy()
        resolve()
      }
      stdout.on('data', (chunk: Buffer) => {
        try {
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
          if (stopped) stop()
        } catch (error) {
          stop(error)
        }
      })
      stdout.on('error', stop)
      stdout.on('close', () => resolve())
    })
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

/** Bytes digested between two turns of the event loop. */
const DIGEST_SLICE = 1 << 20

/** md5, sha1 and sha256 of `bytes`, a slice at a time so that the children's pipes keep flowing meanwhile. */
async function digests(bytes: Uint8Array): Promise<{ md5: string; sha1: string; sha256: string }> {
  const md5 = createHash('md5')
  const sha1 = createHash('sha1')
  const sha256 = createHash('sha256')
  for (let at = 0; at < bytes.length; at += DIGEST_SLICE) {
    const slice = bytes.subarray(at, at + DIGEST_SLICE)
    md5.update(slice)
    sha1.update(slice)
    sha256.update(slice)
    if (at + DIGEST_SLICE < bytes.length) await new Promise<void>((resolve) => setImmediate(resolve))
  }
  return { md5: md5.digest('hex'), sha1: sha1.digest('hex'), sha256: sha256.digest('hex') }
}
