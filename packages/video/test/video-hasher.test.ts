import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HashError, HASH_ERROR_CODES } from '@arachnid/hasher'
import { alterVideo, badVideo, generateVideo, HUGE_VIDEO_SIZE, VIDEO_ALTERATIONS, type VideoAlteration } from '@arachnid/synthetic'
import { BINARIES, haveBinary, skippedSuite } from '@arachnid/test'
import { ffmpegAvailable, mp4NeedsSeek, VideoHasher, type VideoHashes, vpdqMatch } from '../src/index.js'

// Without ffmpeg the file says it skips and why (under CI=true, haveBinary fails the file).
const haveFfmpeg = haveBinary('ffmpeg')
if (!haveFfmpeg) skippedSuite('video hashing', `${BINARIES.ffmpeg.path} is missing (${BINARIES.ffmpeg.install})`)

/** ffmpeg / ffprobe processes still running under this one (a killed one must be gone). */
function ffmpegChildren(): string[] {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' }).trim()
  return out.split('\n').filter((l) => /ffmpeg|ffprobe/.test(l))
}

async function rejection(promise: Promise<unknown>): Promise<HashError> {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(HashError)
  expect(HASH_ERROR_CODES).toContain((error as HashError).code)
  return error as HashError
}

describe.runIf(haveFfmpeg)('VideoHasher on synthetic benign videos', () => {
  const hasher = new VideoHasher()
  let original: Uint8Array
  let originalHashes: VideoHashes
  const variants = new Map<VideoAlteration, Uint8Array>()

  beforeAll(async () => {
    expect(await ffmpegAvailable()).toBe(true)
    original = await generateVideo({ seed: 1, width: 640, height: 360, seconds: 12 })
    for (const alteration of VIDEO_ALTERATIONS) variants.set(alteration, await alterVideo(original, alteration))
    originalHashes = await hasher.hash(original)
  }, 180_000)
  afterAll(async () => {
    await hasher.close()
  })

  it('hashes one frame per second by vPDQ\'s rule, with the exact hashes of the bytes', async () => {
    const h = originalHashes
    expect(h).toMatchObject({ format: 'video', codec: 'h264', width: 640, height: 360, frameRate: 25, bytes: original.length })
    expect(h.container).toContain('mp4')
    // A fragmented MP4 declares no duration; ffprobe estimates it, and the last hashed frame is at 11 s.
    expect(h.durationSeconds).toBeGreaterThanOrEqual(11)
    expect(h.durationSeconds).toBeLessThanOrEqual(12.1)
    // 25 fps, one second per hash: frames 0, 25, 50, ... at 0 s, 1 s, 2 s, ...
    expect(h.frames.map((f) => f.frame)).toEqual(Array.from({ length: 12 }, (_, i) => i * 25))
    expect(h.frames.map((f) => f.timestamp)).toEqual(Array.from({ length: 12 }, (_, i) => i))
    for (const f of h.frames) {
      expect(f.pdq).toMatch(/^[0-9a-f]{64}$/)
      expect(f.quality).toBeGreaterThanOrEqual(50)
    }
    const { createHash } = await import('node:crypto')
    expect(h.sha256).toBe(createHash('sha256').update(original).digest('hex'))
    expect(h.md5).toBe(createHash('md5').update(original).digest('hex'))
    expect(h.sha1).toBe(createHash('sha1').update(original).digest('hex'))
    expect(h.unbarredFrames).toBeUndefined()
    // Hashing again gives the same result.
    expect((await hasher.hash(original)).frames).toEqual(h.frames)
  })

  it.each(VIDEO_ALTERATIONS)('the %s copy matches the original by vPDQ\'s rule', async (alteration) => {
    const h = await hasher.hash(variants.get(alteration)!)
    // A letterboxed copy matches through its frames hashed without the bars; `frames` stays vPDQ's own.
    const query = alteration === 'letterbox' ? h.unbarredFrames! : h.frames
    const result = vpdqMatch(query, originalHashes.frames)
    expect(result.queryShare, `${alteration}: ${JSON.stringify(result)}`).toBeGreaterThanOrEqual(0.8)
    expect(result.matched).toBe(true)
    if (alteration === 'trim') {
      expect(h.frames).toHaveLength(6)
      expect(result.matchedTimestamps).toEqual([0, 1, 2, 3, 4, 5])
    }
    if (alteration === 'half-scale') expect([h.width, h.height]).toEqual([320, 180])
    if (alteration === 'webm') expect([h.container, h.codec]).toEqual(['matroska,webm', 'vp9'])
    if (alteration === 'letterbox') {
      expect(h.height).toBe(480)
      expect(vpdqMatch(h.frames, originalHashes.frames).matched).toBe(false)
    }
    if (alteration === 'moov-at-end') {
      // Same frames remuxed: read through the range server, and the very same hashes.
      expect(mp4NeedsSeek(variants.get(alteration)!)).toBe(true)
      expect(h.frames).toEqual(originalHashes.frames)
    }
  })

  it('a distinct video does not match', async () => {
    const distinct = await hasher.hash(await generateVideo({ seed: 2, seconds: 12 }))
    const result = vpdqMatch(distinct.frames, originalHashes.frames)
    expect(result.matched).toBe(false)
    expect(result.queryShare).toBe(0)
  })

  it('every bad video gives its typed error, ffmpeg is gone, and the hasher carries on', async () => {
    const expected = {
      'empty': 'EMPTY',
      'truncated': 'CORRUPT',
      'audio-only': 'NO_VIDEO_STREAM',
      'huge-dimensions': 'TOO_LARGE',
      'ten-hour-declared': 'TOO_LONG',
    } as const
    for (const [kind, code] of Object.entries(expected) as [keyof typeof expected, string][]) {
      const error = await rejection(hasher.hash(await badVideo(kind)))
      expect(error.code, `${kind}: ${error.message}`).toBe(code)
      expect(error.retryable).toBe(false)
    }
    const junk = await rejection(hasher.hash(new TextEncoder().encode('<!doctype html><title>not a video</title>')))
    expect(junk.code).toBe('UNSUPPORTED_FORMAT')
    // A header claiming a frame within ffmpeg's limits but over ours is refused from the probe.
    const header = new TextEncoder().encode(`YUV4MPEG2 W10000 H6000 F25:1 Ip A1:1 C420jpeg\nFRAME\n`)
    expect((await rejection(new VideoHasher({ maxPixels: 50_000_000 }).hash(header))).code).toBe('TOO_LARGE')
    expect(ffmpegChildren()).toEqual([])
    expect((await hasher.hash(original)).frames).toEqual(originalHashes.frames)
  }, 120_000)

  it('a 10-hour stream that declares no duration is stopped by the duration, frame and time bounds, not decoded to the end', async () => {
    const stream = await badVideo('ten-hour-stream')
    expect(stream.length).toBeLessThan(2_000_000)
    const cases: [VideoHasher, string][] = [
      [new VideoHasher({ maxDurationSeconds: 600 }), 'TOO_LONG'],
      [new VideoHasher({ maxFrames: 300 }), 'TOO_MANY_FRAMES'],
      [new VideoHasher({ maxWallMs: 400 }), 'TIMEOUT'],
    ]
    for (const [bounded, code] of cases) {
      const started = Date.now()
      const error = await rejection(bounded.hash(stream))
      expect(error.code, error.message).toBe(code)
      expect(Date.now() - started).toBeLessThan(10_000)
      await bounded.close()
    }
    expect(ffmpegChildren()).toEqual([])
  }, 300_000)

  it('refuses what exceeds the other bounds before decoding', async () => {
    const small = new VideoHasher({ maxBytes: 100_000 })
    expect((await rejection(small.hash(original))).code).toBe('TOO_LARGE')
    const fewPixels = new VideoHasher({ maxPixels: 320 * 180 })
    expect((await rejection(fewPixels.hash(original))).code).toBe('TOO_LARGE')
    const withAudio = await generateVideoWithAudio()
    expect((await rejection(new VideoHasher({ maxStreams: 1 }).hash(withAudio))).code).toBe('TOO_MANY_STREAMS')
    expect((await new VideoHasher({ maxStreams: 2 }).hash(withAudio)).frames.length).toBeGreaterThan(0)
    const shortBound = new VideoHasher({ maxDurationSeconds: 5 })
    expect((await rejection(shortBound.hash(original))).code).toBe('TOO_LONG')
  }, 300_000)

  it('says FFMPEG_UNAVAILABLE (retryable) without ffmpeg, and CLOSED after close()', async () => {
    const missing = new VideoHasher({ ffprobePath: '/nonexistent/ffprobe', ffmpegPath: '/nonexistent/ffmpeg' })
    const error = await rejection(missing.hash(original))
    expect(error.code).toBe('FFMPEG_UNAVAILABLE')
    expect(error.retryable).toBe(true)
    expect(await ffmpegAvailable({ ffmpegPath: '/nonexistent/ffmpeg' })).toBe(false)
    await missing.close()
    expect((await rejection(missing.hash(original))).code).toBe('CLOSED')
  })

  it('hashes every frame with secondsPerHash 0; two videos at once (concurrency 2) give the same frames', async () => {
    const every = new VideoHasher({ secondsPerHash: 0, concurrency: 2 })
    const short = await generateVideo({ seed: 3, width: 160, height: 90, seconds: 2, fps: 10 })
    const [a, b] = await Promise.all([every.hash(short), every.hash(short)])
    expect(a.frames.map((f) => f.frame)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    expect(a.frames[1]!.timestamp).toBe(0.1)
    expect(b.frames).toEqual(a.frames)
    await every.close()
  })
})

async function generateVideoWithAudio(): Promise<Uint8Array> {
  const { runFfmpeg } = await import('@arachnid/synthetic')
  return runFfmpeg('/usr/bin/ffmpeg', ['-f', 'lavfi', '-i', 'testsrc2=s=160x90:r=10:d=2', '-f', 'lavfi', '-i', 'sine=d=2'], ['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', '-f', 'matroska'], undefined)
}
