import http from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hexToBytes } from '@arachnid/core'
import { Matcher, importList, recordMatches } from '@arachnid/matcher'
import { listAudit, setListReview } from '@arachnid/review'
import { alterVideo, generateVideo } from '@arachnid/synthetic'
import { BINARIES, dialectsUnderTest, haveBinary, skippedSuite } from '@arachnid/test'
import { VideoHasher, formatVpdqLine } from '@arachnid/video'
import { ApiClient, type ReviewFixture, openReviewFixture } from './review-fixture.js'

const dialects = await dialectsUnderTest()
const haveFfmpeg = haveBinary('ffmpeg')
if (!haveFfmpeg) skippedSuite('review of a video match', `${BINARIES.ffmpeg.path} is missing (${BINARIES.ffmpeg.install})`)

/**
 * A video that matched a known video waits in the queue; its evidence says where in the video the
 * match lies, and its preview (on request, audited) is the frame there, blurred and greyscale,
 * decoded from memory and never stored.
 */
describe.runIf(haveFfmpeg).each(dialects)('review of a video match on %s', (dialect) => {
  let f: ReviewFixture
  let ana: ApiClient
  let site: http.Server
  let mediaId: number
  let copy: Uint8Array
  beforeAll(async () => {
    f = await openReviewFixture(dialect)
    ana = await ApiClient.login(f.server, 'ana')
    // Benign synthetic videos: the known one's frames go into a list that every match of waits for an analyst.
    const original = await generateVideo({ seed: 4242, width: 320, height: 180, seconds: 8 })
    copy = await alterVideo(original, 'trim')
    site = http.createServer((req, res) => {
      if (req.url === '/clip.mp4') res.writeHead(200, { 'content-type': 'video/mp4' }).end(copy)
      else res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(site.address() as AddressInfo).port}/clip.mp4`
    const hasher = new VideoHasher()
    const [known, found] = [await hasher.hash(original), await hasher.hash(copy)]
    await hasher.close()
    const db = f.handle.db
    await importList(db, { name: 'known-videos', format: 'vpdq', videoName: 'known.mp4', lines: known.frames.map(formatVpdqLine) })
    await setListReview(db, { name: 'known-videos' }, { mode: 'review-required' }, { id: null, name: 'test' })
    const row = await db.insertInto('media').values({
      sha256: hexToBytes(found.sha256), md5: hexToBytes(found.md5), sha1: hexToBytes(found.sha1), blockhash: null, pdq: null, pdq_quality: 90,
      width: found.width, height: found.height, format: 'mp4', bytes: found.bytes, kind: 'video', duration_seconds: found.durationSeconds,
      frames: Buffer.concat(found.frames.map((x) => Buffer.from(x.pdq, 'hex'))), frame_qualities: Uint8Array.from(found.frames.map((x) => x.quality)),
      frame_timestamps: found.frames.map((x) => x.timestamp),
    }).returning('id').executeTakeFirstOrThrow()
    mediaId = row.id
    await db.insertInto('media_fetches').values({
      job_id: f.jobId, url, final_url: url, status: 200, content_type: 'video/mp4', server_ip: '127.0.0.1', bytes: copy.length, media_id: row.id,
      error_code: null, error_message: null, state: 'done',
    }).execute()
    const matcher = new Matcher(db, { refreshIntervalMs: 0 })
    const [matches] = await matcher.match([{ algorithm: 'vpdq', hash: found.sha256, frames: found.frames }])
    await matcher.close()
    expect(matches).toHaveLength(1)
    await recordMatches(db, [{ mediaId: row.id, jobId: f.jobId, matches: matches! }])
  }, 120_000)
  afterAll(async () => {
    site?.closeAllConnections()
    await new Promise((resolve) => site?.close(resolve))
    await f?.close()
  })

  it('queues it with where in the video the match lies', async () => {
    const { body } = await ana.json('GET', `/api/items/${mediaId}`)
    expect(body).toMatchObject({ mediaId, kind: 'video', format: 'mp4' })
    expect(body.durationSeconds).toBeGreaterThan(3)
    expect(body.matches).toHaveLength(1)
    expect(body.matches[0]).toMatchObject({ list: 'known-videos', algorithm: 'vpdq', status: 'pending', reason: 'review-required', externalId: 'known.mp4', share: 1 })
    expect(body.matches[0].timestamps.length).toBeGreaterThan(2)
    expect(body.matches[0].timestamps[0]).toBe(0)
  })

  it('previews the frame where the match lies, blurred and greyscale, on request and audited', async () => {
    const response = await ana.request('POST', `/api/items/${mediaId}/preview`, { reason: 'where is it' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('image/png')
    expect(response.headers.get('cache-control')).toMatch(/no-store/)
    expect(response.headers.get('x-arachnid-frame-at')).toBe('0')
    expect(response.headers.get('x-arachnid-same-content')).toBe('true')
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata()
    expect(meta).toMatchObject({ format: 'png', width: 320, height: 180, channels: 1 })
    // Another moment on request; one past the end shows the last second.
    const later = await ana.request('POST', `/api/items/${mediaId}/preview`, { at: 2.5 })
    expect(later.headers.get('x-arachnid-frame-at')).toBe('2.5')
    const past = await ana.request('POST', `/api/items/${mediaId}/preview`, { at: 999 })
    expect(past.status).toBe(200)
    expect(Number(past.headers.get('x-arachnid-frame-at'))).toBeLessThan(10)
    const audit = await listAudit(f.handle.db, { subject: `media:${mediaId}`, action: 'preview' })
    expect(audit).toHaveLength(3)
    expect(audit.at(-1)).toMatchObject({ actor: 'ana', reason: 'where is it', detail: { video: true, at: 'first match', obscured: true } })
  })
})
