import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from '@arachnid/core'
import { startSyntheticSite, type SyntheticSite } from '@arachnid/synthetic'
import { BINARIES, type CliEnvironment, dialectsUnderTest, haveBinary, openCliEnvironment, skippedSuite } from '@arachnid/test'
import { VideoHasher, formatVpdqLine } from '@arachnid/video'

const dialects = await dialectsUnderTest()
const haveFfmpeg = haveBinary('ffmpeg')
if (!haveFfmpeg) skippedSuite('crawl of a site with videos (pnpm arachnid)', `${BINARIES.ffmpeg.path} is missing (${BINARIES.ffmpeg.install})`)

/**
 * A crawl of a synthetic site with benign videos, as users run it: the known videos' vPDQ files
 * (one per video, as vPDQ's tool writes them) imported with `lists import --format vpdq`, then
 * `crawl`. Every known video, its mirror and its altered copies (low bitrate, half size, trimmed,
 * letterboxed) match with where in them; the unrelated ones do not; the notices say where.
 */
describe.runIf(haveFfmpeg).each(dialects)('crawl of a site with videos on %s (pnpm arachnid)', (dialect) => {
  let cli: CliEnvironment
  let site: SyntheticSite
  let hashDir: string
  beforeAll(async () => {
    cli = await openCliEnvironment(dialect)
    site = await startSyntheticSite({ seed: 7, pages: 8, images: 12, badInputs: false, videos: 4, knownVideoFraction: 0.5, alteredPerKnownVideo: 4 })
    hashDir = await mkdtemp(path.join(os.tmpdir(), 'arachnid-vpdq-'))
    const hasher = new VideoHasher()
    try {
      for await (const video of site.knownVideos()) {
        // Hashes only (text), never the video.
        const hashes = await hasher.hash(video.bytes)
        await writeFile(path.join(hashDir, `known-${video.id}.mp4.txt`), `${hashes.frames.map(formatVpdqLine).join('\n')}\n`)
      }
    } finally {
      await hasher.close()
    }
  }, 180_000)
  afterAll(async () => {
    await site?.close()
    await cli?.close()
    if (hashDir) await rm(hashDir, { recursive: true, force: true })
  })

  it('imports the known videos, crawls, matches every copy with where, and notices say where', async () => {
    const known = site.manifest.videos.filter((v) => v.kind !== 'unrelated')
    const unrelated = site.manifest.videos.filter((v) => v.kind === 'unrelated')
    expect(known.length).toBeGreaterThanOrEqual(2 + 2 + 8)
    const alterations = new Set(known.flatMap((v) => (v.alteration ? [v.alteration] : [])))
    for (const a of ['low-bitrate', 'half-scale', 'trim', 'letterbox']) expect(alterations).toContain(a)
    expect(unrelated.length).toBe(2)

    const ids = [...new Set(known.map((v) => v.baseId))]
    const files = ids.map((id) => path.join(hashDir, `known-${id}.mp4.txt`))
    const imported = await cli.json(['lists', 'import', ...files, '--name', 'known-videos', '--format', 'vpdq', '--json'])
    expect(imported).toMatchObject({ applied: true, imported: 2, rejected: [] })
    const shown = await cli.json(['lists', 'show', 'known-videos', '--json'])
    expect(JSON.stringify(shown)).toContain('vpdq')
    const provider = await cli.run(['providers', 'set', '127.0.0.1/32', '--name', 'Loopback Hosting', '--email', 'abuse@loopback.test'])
    expect(provider.code).toBe(0)

    const summary = await cli.json(['crawl', `${site.manifest.baseUrl}/`, '--allow', '127.0.0.1/32', '--json'], { timeoutMs: 300_000 })
    expect(summary.errorExamples ?? {}).not.toHaveProperty('FFMPEG_UNAVAILABLE')

    const rows = await cli.withDatabase(async ({ db }) => (await sql<{ url: string; kind: string; frames: number; algorithm: string | null; timestamps: number[] | null; share: number | null; external_id: string | null }>`
      select f.url, m.kind, coalesce(length(m.frames) / 32, 0)::int as frames, x.algorithm, x.timestamps, x.share, x.external_id
      from media_fetches f join media m on m.id = f.media_id left join matches x on x.media_id = m.id
      where m.kind = 'video'`.execute(db)).rows)
    const byUrl = new Map<string, typeof rows>()
    for (const r of rows) byUrl.set(r.url, [...(byUrl.get(r.url) ?? []), r])
    // Every video of the site was fetched and hashed (frames kept, never bytes).
    for (const v of site.manifest.videos) {
      expect(byUrl.get(v.url), v.url).toBeDefined()
      expect(byUrl.get(v.url)![0]!.frames, v.url).toBeGreaterThan(5)
    }
    for (const v of known) {
      const matches = byUrl.get(v.url)!.filter((r) => r.algorithm !== null)
      expect(matches.length, `${v.url} (${v.alteration ?? v.kind})`).toBeGreaterThan(0)
      const video = matches.find((r) => r.algorithm === 'vpdq')
      expect(video, `${v.url} (${v.alteration ?? v.kind}) matched by its frames`).toBeDefined()
      expect(video!.external_id).toBe(`known-${v.baseId}.mp4`)
      expect(video!.timestamps!.length).toBeGreaterThan(0)
      expect(Number(video!.share)).toBeGreaterThanOrEqual(0.8)
    }
    for (const v of unrelated) expect(byUrl.get(v.url)!.filter((r) => r.algorithm !== null), v.url).toEqual([])

    const bodies = await cli.withDatabase(async ({ db }) => db.selectFrom('outbox').select(['text_body', 'attachments']).execute())
    const videoNotices = bodies.filter((b) => b.text_body.includes('in the video'))
    expect(videoNotices.length).toBeGreaterThan(0)
    expect(videoNotices[0]!.text_body).toMatch(/known-videos \(vpdq, distance \d+, \d+% of the video's frames, entry known-\d\.mp4\) at 0:\d\d/)
    expect(JSON.stringify(videoNotices[0]!.attachments)).toContain('video_timestamps')
  })
})
