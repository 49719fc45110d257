import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hexToBytes } from '@arachnid/core'
import { Hasher } from '@arachnid/hasher'
import { Rechecker } from '@arachnid/notifier'
import { alterVideo, generateImage, generateVideo } from '@arachnid/synthetic'
import { BINARIES, haveBinary, openTestDatabase, skippedSuite, type TestDatabase } from '@arachnid/test'
import { VideoHasher } from '@arachnid/video'

const haveFfmpeg = haveBinary('ffmpeg')
if (!haveFfmpeg) skippedSuite('rechecks of noticed videos', `${BINARIES.ffmpeg.path} is missing (${BINARIES.ffmpeg.install})`)

/**
 * A noticed video is rechecked as a video: the same bytes or a re-encode at its URL is still the
 * material; another video, an image or a 404 is gone. Before, the image hasher could not read the
 * video and every recheck concluded "gone" (content-changed), so video notices closed as removed.
 */
describe.runIf(haveFfmpeg)('rechecks of noticed videos (pglite)', () => {
  let handle: TestDatabase
  let server: http.Server
  let base: string
  const served = new Map<string, { type: string; bytes: Uint8Array }>()
  let mediaId: number
  const hasher = new Hasher()
  const videoHasher = new VideoHasher()
  beforeAll(async () => {
    handle = await openTestDatabase('pglite')
    const original = await generateVideo({ seed: 515, width: 320, height: 180, seconds: 6 })
    served.set('/same.mp4', { type: 'video/mp4', bytes: original })
    served.set('/reencoded.mp4', { type: 'video/mp4', bytes: await alterVideo(original, 'low-bitrate') })
    served.set('/other.mp4', { type: 'video/mp4', bytes: await generateVideo({ seed: 9191, width: 320, height: 180, seconds: 6 }) })
    served.set('/image.jpg', { type: 'image/jpeg', bytes: await generateImage({ seed: 5, width: 64, height: 48, format: 'jpeg' }) })
    server = http.createServer((req, res) => {
      const item = served.get(req.url ?? '')
      if (item) res.writeHead(200, { 'content-type': item.type }).end(item.bytes)
      else res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const h = await videoHasher.hash(original)
    const row = await handle.db.insertInto('media').values({
      sha256: hexToBytes(h.sha256), md5: hexToBytes(h.md5), sha1: hexToBytes(h.sha1), blockhash: null, pdq: null, pdq_quality: 90,
      width: h.width, height: h.height, format: 'mp4', bytes: h.bytes, kind: 'video', duration_seconds: h.durationSeconds,
      frames: Buffer.concat(h.frames.map((f) => Buffer.from(f.pdq, 'hex'))), frame_qualities: Uint8Array.from(h.frames.map((f) => f.quality)),
      frame_timestamps: h.frames.map((f) => f.timestamp),
    }).returning('id').executeTakeFirstOrThrow()
    mediaId = row.id
  }, 120_000)
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise((resolve) => server?.close(resolve))
    await hasher.close()
    await videoHasher.close()
    await handle?.close()
  })

  const rechecker = (withVideo: boolean) => new Rechecker({
    db: handle.db, hosts: { addresses: async () => ['127.0.0.1'] }, hasher, ...(withVideo ? { videoHasher } : {}),
    mail: { reporter: { name: 'Test', from: 'notices@arachnid.test' } },
  }, { allowAddresses: ['127.0.0.1/32'] })

  it('finds the same video, and a re-encode of it, still present', async () => {
    const r = rechecker(true)
    try {
      expect(await r.check(`${base}/same.mp4`, mediaId)).toEqual({ outcome: 'present', reason: 'same-content', status: 200 })
      expect(await r.check(`${base}/reencoded.mp4`, mediaId)).toEqual({ outcome: 'present', reason: 'similar-content', status: 200 })
    } finally {
      r.close()
    }
  })

  it('finds another video, an image in its place, or a 404 gone', async () => {
    const r = rechecker(true)
    try {
      expect(await r.check(`${base}/other.mp4`, mediaId)).toEqual({ outcome: 'gone', reason: 'content-changed', status: 200 })
      expect(await r.check(`${base}/image.jpg`, mediaId)).toEqual({ outcome: 'gone', reason: 'content-changed', status: 200 })
      expect(await r.check(`${base}/removed.mp4`, mediaId)).toMatchObject({ outcome: 'gone', reason: 'http-404' })
    } finally {
      r.close()
    }
  })

  it('without a video hasher, never concludes "gone" from bytes it cannot read', async () => {
    const r = rechecker(false)
    try {
      expect(await r.check(`${base}/same.mp4`, mediaId)).toMatchObject({ outcome: 'present', reason: 'same-content' })
      expect(await r.check(`${base}/reencoded.mp4`, mediaId)).toMatchObject({ outcome: 'inconclusive', reason: 'no-video-hasher' })
    } finally {
      r.close()
    }
  })
})
