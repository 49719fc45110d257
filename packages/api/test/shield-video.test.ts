import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importList } from '@arachnid/matcher'
import { alterVideo, generateVideo } from '@arachnid/synthetic'
import { BINARIES, dialectsUnderTest, haveBinary, skippedSuite } from '@arachnid/test'
import { VideoHasher, formatVpdqLine } from '@arachnid/video'
import { type ApiFixture, eventually, openApiFixture } from './fixture.js'

const dialects = await dialectsUnderTest()
const haveFfmpeg = haveBinary('ffmpeg')
if (!haveFfmpeg) skippedSuite('Shield /v1/media/ with video', `${BINARIES.ffmpeg.path} is missing (${BINARIES.ffmpeg.install})`)

describe.runIf(haveFfmpeg).each(dialects)('Shield /v1/media/ with video on %s', (dialect) => {
  let f: ApiFixture
  let original: Uint8Array
  let distinct: Uint8Array
  beforeAll(async () => {
    // Benign synthetic videos: a known one (its frames in a vPDQ list) and an unrelated one.
    original = await generateVideo({ seed: 301, width: 320, height: 180, seconds: 8 })
    distinct = await generateVideo({ seed: 977, width: 320, height: 180, seconds: 8 })
    const hasher = new VideoHasher()
    const known = await hasher.hash(original)
    await hasher.close()
    f = await openApiFixture(dialect, { maxMediaBytes: 50_000, maxVideoBytes: 4_000_000 })
    await importList(f.database.db, {
      name: 'shield-videos', format: 'vpdq', videoName: 'known.mp4', classification: 'harmful-abusive-material',
      lines: known.frames.map(formatVpdqLine),
    })
  }, 120_000)
  afterAll(async () => { await f?.close() })

  const upload = (bytes: Uint8Array, type = 'video/mp4') => f.server.inject({
    method: 'POST', url: '/v1/media/', headers: { authorization: f.auth, 'content-type': type }, payload: Buffer.from(bytes),
  })

  it('classifies a re-encoded copy of a known video by its frames, with where it matched', async () => {
    const copy = await alterVideo(original, 'low-bitrate')
    expect(await eventually(async () => (await upload(copy)).json().is_match === true, 5000)).toBe(true)
    const scanned = (await upload(copy)).json()
    expect(scanned).toMatchObject({ classification: 'harmful-abusive-material', match_type: 'near', is_match: true, size_bytes: copy.length })
    expect(scanned.near_match_details).toEqual([{ timestamp: 0, sha1_base32: '', sha256_hex: '', classification: 'harmful-abusive-material' }])
    // The second half alone matches too, and says it starts where the trimmed copy starts (at 0 of the upload).
    const trimmed = await alterVideo(original, 'trim')
    expect((await upload(trimmed, 'application/octet-stream')).json()).toMatchObject({ classification: 'harmful-abusive-material' })
    // A letterboxed copy matches through its frames with the bars cut off.
    const letterboxed = await alterVideo(original, 'letterbox')
    expect((await upload(letterboxed)).json()).toMatchObject({ classification: 'harmful-abusive-material', match_type: 'near' })
  })

  it('finds nothing in a distinct video, and bounds a video by its own limit', async () => {
    expect((await upload(distinct, 'video/webm')).json()).toMatchObject({ classification: 'no-known-match', match_type: null, near_match_details: [] })
    const big = new Uint8Array(4_000_001)
    big.set(original.subarray(0, 64))
    const refused = await upload(big)
    expect(refused.statusCode).toBe(413)
    expect(refused.json()).toEqual({ detail: 'request body too large: at most 4000000 bytes on /v1/media/' })
    // An image above the image bound is refused by its own limit, though a video of that size would be read.
    const image = await f.server.inject({ method: 'POST', url: '/v1/media/', headers: { authorization: f.auth, 'content-type': 'image/jpeg' }, payload: Buffer.alloc(50_001, 1) })
    expect(image.json()).toEqual({ detail: 'request body too large: at most 50000 bytes on /v1/media/' })
  })

  it('answers a broken video with a 4xx naming the reason', async () => {
    const truncated = original.subarray(0, Math.floor(original.length / 3))
    const response = await upload(truncated)
    expect(response.statusCode).toBe(422)
    expect(response.json().detail).toMatch(/CORRUPT/)
  })
})
