import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Hasher, type ImageHashes } from '@arachnid/hasher'
import { alterImage, generateImage } from '@arachnid/synthetic'
import { type CliEnvironment, dialectsUnderTest, openCliEnvironment, type PictureSite, startPictureSite } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/**
 * The list-growth loop's retro-hunt, as users run it: a crawl with no list records media (hashes
 * only); importing a list that holds some of their hashes creates their matches and notices
 * without a second crawl, after rechecking each URL live: one already gone gets no notice and is
 * recorded as gone.
 */
describe.each(dialects)('retro-hunt on import (pnpm arachnid) on %s', (dialect) => {
  let cli: CliEnvironment
  let site: PictureSite | undefined
  let base: string
  let dir: string
  const images = new Map<string, Uint8Array>()
  const removed = new Set<string>()
  const hashes = new Map<string, ImageHashes>()
  beforeAll(async () => {
    cli = await openCliEnvironment(dialect)
    dir = await mkdtemp(path.join(os.tmpdir(), 'arachnid-retro-'))
    // Benign synthetic pictures: three that a list will know, a resized copy of one, two unrelated.
    for (const [name, seed] of [['known-md5', 11], ['known-pdq', 12], ['known-gone', 13], ['unrelated-a', 14], ['unrelated-b', 15]] as const) {
      images.set(`/img/${name}.jpg`, await generateImage({ seed: 7000 + seed, width: 320, height: 240, format: 'jpeg' }))
    }
    images.set('/img/copy-of-pdq.jpg', (await alterImage(images.get('/img/known-pdq.jpg')!, 'jpeg', 'recompress', 3)).bytes)
    const hasher = new Hasher()
    for (const [url, bytes] of images) hashes.set(url, await hasher.hash(bytes))
    await hasher.close()
    site = await startPictureSite({ images, removed })
    base = site.base
  }, 300_000)
  afterAll(async () => {
    await site?.close()
    await cli?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('matches what was crawled before the list existed, notices what is still there, records what is gone', async () => {
    const crawl = await cli.json(['crawl', `${base}/`, '--allow', '127.0.0.1/32', '--json'])
    expect(crawl).toMatchObject({ media: 6, notices: 0 })
    expect((await cli.run(['providers', 'set', '127.0.0.1/32', '--name', 'Loopback Hosting', '--email', 'abuse@loopback.test'])).code).toBe(0)
    removed.add('/img/known-gone.jpg')
    const list = path.join(dir, 'grown.csv')
    const h = (name: string) => hashes.get(`/img/${name}.jpg`)!
    await writeFile(list, ['algorithm,hash,category,external_id', `md5,${h('known-md5').md5},A1,e1`, `pdq,${h('known-pdq').pdq},A1,e2`, `sha256,${h('known-gone').sha256},A1,e3`].join('\n'))

    const imported = await cli.json(['lists', 'import', list, '--name', 'grown', '--allow', '127.0.0.1/32', '--json'])
    expect(imported).toMatchObject({ applied: true, imported: 3, retroHunt: { entries: 3, mediaScanned: 6, gone: 1 } })
    // known-md5 (exact), known-pdq (PDQ 0) and its recompressed copy (near), known-gone (exact, but gone).
    expect(imported.retroHunt.matchedMedia).toBe(4)
    expect(imported.retroHunt.newMatches).toBe(4)

    const state = await cli.withDatabase(async ({ db }) => ({
      notices: (await db.selectFrom('notices').select('media_url').execute()).map((n) => new URL(n.media_url).pathname).sort(),
      gone: await db.selectFrom('retro_hunt_urls').select(['url', 'outcome', 'reason']).where('outcome', '=', 'gone').execute(),
      matches: (await db.selectFrom('matches as m').innerJoin('media_fetches as f', 'f.media_id', 'm.media_id').select(['f.url', 'm.algorithm', 'm.status']).execute())
        .map((m) => `${new URL(m.url).pathname} ${m.algorithm}`).sort(),
    }))
    expect(state.matches).toEqual(['/img/copy-of-pdq.jpg pdq', '/img/known-gone.jpg sha256', '/img/known-md5.jpg md5', '/img/known-pdq.jpg pdq'])
    expect(state.gone).toEqual([{ url: `${base}/img/known-gone.jpg`, outcome: 'gone', reason: 'http-404' }])
    expect(state.notices).not.toContain('/img/known-gone.jpg')
    expect(state.notices).toContain('/img/known-md5.jpg')
    expect(state.notices).toContain('/img/known-pdq.jpg')
    expect(imported.retroHunt.notices).toBe(state.notices.length)

    const shown = await cli.json(['lists', 'show', 'grown', '--json'])
    expect(shown.retroHunts).toHaveLength(1)
    expect(shown.retroHunts[0]).toMatchObject({ trigger: 'import', status: 'finished', entries: 3, matchedMedia: 4, gone: 1 })
    const text = await cli.run(['lists', 'show', 'grown'])
    expect(text.stdout).toMatch(/retro-hunts:\n {4}#\d+ import finished: 3 entries among 6 media, 4 matched \(4 new matches\), \d+ notices, 1 URLs gone/)
  }, 180_000)

  it('appends without a hunt when told, and `lists hunt` looks again later', async () => {
    const list = path.join(dir, 'more.csv')
    await writeFile(list, `algorithm,hash\nmd5,${hashes.get('/img/unrelated-a.jpg')!.md5}\n`)
    const appended = await cli.json(['lists', 'import', list, '--name', 'grown', '--append', '--no-retro-hunt', '--json'])
    expect(appended).toMatchObject({ applied: true, imported: 1 })
    expect(appended).not.toHaveProperty('retroHunt')
    const hunted = await cli.run(['lists', 'hunt', 'grown', '--allow', '127.0.0.1/32'])
    expect(hunted.code).toBe(0)
    // The gone URL is checked again (still gone: recorded for this hunt too, still no notice); the others are noticed already.
    expect(hunted.stdout).toMatch(/^retro-hunt: 4 new entries looked for among 6 media in [\d.]+ s: 5 media matched \(1 new match\), 1 notice, 1 URL already gone/m)
  }, 180_000)
})
