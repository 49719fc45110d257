import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alterVideo, badVideo, generateVideo } from '@arachnid/synthetic'
import { BINARIES, type CliEnvironment, haveBinary, openCliEnvironment, REPO_ROOT, skippedSuite } from '@arachnid/test'

// Without ffmpeg the file says it skips and why (under CI=true, haveBinary fails the file).
const haveFfmpeg = haveBinary('ffmpeg')
if (!haveFfmpeg) skippedSuite('arachnid hash on videos', `${BINARIES.ffmpeg.path} is missing (${BINARIES.ffmpeg.install})`)

const IMAGE = path.join(REPO_ROOT, 'test/fixtures/blockhash/images/clipper_ship.jpg')

describe.runIf(haveFfmpeg)('arachnid hash --json on synthetic videos (pnpm arachnid)', () => {
  let cli: CliEnvironment
  const files: Record<string, string> = {}

  beforeAll(async () => {
    cli = await openCliEnvironment('pglite')
    const original = await generateVideo({ seed: 11, width: 320, height: 180, seconds: 6 })
    const inputs: Record<string, Uint8Array> = {
      'original.mp4': original,
      'moov-at-end.mp4': await alterVideo(original, 'moov-at-end'),
      'copy.webm': await alterVideo(original, 'webm'),
      'empty.mp4': await badVideo('empty'),
      'truncated.mp4': await badVideo('truncated'),
      'audio-only.m4a': await badVideo('audio-only'),
      'huge.y4m': await badVideo('huge-dimensions'),
    }
    for (const [name, bytes] of Object.entries(inputs)) {
      files[name] = path.join(cli.home, name)
      await writeFile(files[name], bytes)
    }
  }, 120_000)
  afterAll(async () => { await cli?.close() })

  it('prints one line per file: vPDQ frames for videos, a typed error for bad ones, images as before', async () => {
    const names = ['original.mp4', 'moov-at-end.mp4', 'copy.webm', 'truncated.mp4', 'audio-only.m4a', 'huge.y4m'] as const
    const result = await cli.run(['hash', '--json', ...names.map((n) => files[n]!), IMAGE])
    expect(result.code).toBe(1)
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(lines).toHaveLength(names.length + 1)
    const [original, moovAtEnd, webm, truncated, audioOnly, huge, image] = lines
    expect(Object.keys(original).sort()).toEqual(['durationSeconds', 'file', 'format', 'frames', 'md5', 'sha1', 'sha256'])
    expect(original).toMatchObject({ file: files['original.mp4'], format: 'video' })
    expect(original.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(original.md5).toMatch(/^[0-9a-f]{32}$/)
    expect(original.sha1).toMatch(/^[0-9a-f]{40}$/)
    expect(original.frames.map((f: { timestamp: number }) => f.timestamp)).toEqual([0, 1, 2, 3, 4, 5])
    for (const f of original.frames) {
      expect(Object.keys(f).sort()).toEqual(['pdq', 'quality', 'timestamp'])
      expect(f.pdq).toMatch(/^[0-9a-f]{64}$/)
    }
    // The same frames in an MP4 whose index is at the end: the same hashes (read with seeks, from memory).
    expect(moovAtEnd.frames).toEqual(original.frames)
    expect(moovAtEnd.sha256).not.toBe(original.sha256)
    expect(webm.frames).toHaveLength(6)
    expect(truncated).toEqual({ file: files['truncated.mp4'], error: { code: 'CORRUPT', message: expect.any(String) } })
    expect(audioOnly).toEqual({ file: files['audio-only.m4a'], error: { code: 'NO_VIDEO_STREAM', message: expect.any(String) } })
    expect(huge).toEqual({ file: files['huge.y4m'], error: { code: 'TOO_LARGE', message: expect.any(String) } })
    expect(image).toMatchObject({ file: IMAGE, format: 'jpeg' })
    expect(image.pdq).toMatch(/^[0-9a-f]{64}$/)
  }, 120_000)

  it('takes its bounds from the ARACHNID_MAX_VIDEO_* settings', async () => {
    const long = await cli.run(['hash', '--json', files['original.mp4']!], { env: { ARACHNID_MAX_VIDEO_SECONDS: '2' } })
    expect(JSON.parse(long.stdout.trim())).toEqual({ file: files['original.mp4'], error: { code: 'TOO_LONG', message: expect.any(String) } })
    const big = await cli.run(['hash', '--json', files['original.mp4']!], { env: { ARACHNID_MAX_VIDEO_BYTES: '2048' } })
    expect(JSON.parse(big.stdout.trim()).error.code).toBe('TOO_LARGE')
    const empty = await cli.run(['hash', '--json', files['empty.mp4']!])
    // Zero bytes carry no magic: the image hasher refuses them as it always has.
    expect(JSON.parse(empty.stdout.trim()).error.code).toBe('EMPTY')
  }, 120_000)
})
