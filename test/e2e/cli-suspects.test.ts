import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Hasher, type ImageHashes } from '@arachnid/hasher'
import { alterImage, generateImage } from '@arachnid/synthetic'
import { type CliEnvironment, dialectsUnderTest, openCliEnvironment, type PictureSite, startPictureSite } from '@arachnid/test'

const dialects = await dialectsUnderTest()
const PASSWORD = 'a passphrase long enough'

/**
 * The suspect queue as users run it: a crawl queues the media seen beside a known one that match
 * nothing; two analysts classify one through `arachnid serve`'s API; its hashes become entries of
 * the local list with their provenance, and the retro-hunt started by the classification finds
 * its altered copy on another page and notices both. Previews count towards the well-being prompt.
 */
describe.each(dialects)('suspects classified by two analysts (pnpm arachnid) on %s', (dialect) => {
  let cli: CliEnvironment
  let site: PictureSite | undefined
  let base: string
  let dir: string
  const images = new Map<string, Uint8Array>()
  const hashes = new Map<string, ImageHashes>()
  beforeAll(async () => {
    cli = await openCliEnvironment(dialect)
    dir = await mkdtemp(path.join(os.tmpdir(), 'arachnid-suspects-'))
    // Benign synthetic pictures: one the list knows, two beside it on page a, and on page b a
    // recompressed copy of one of those two (nothing known on page b).
    for (const [name, seed] of [['known', 1], ['unknown', 2], ['other', 3]] as const) {
      images.set(`/img/${name}.jpg`, await generateImage({ seed: 7300 + seed, width: 320, height: 240, format: 'jpeg' }))
    }
    images.set('/img/copy.jpg', (await alterImage(images.get('/img/unknown.jpg')!, 'jpeg', 'recompress', 5)).bytes)
    const hasher = new Hasher()
    for (const [url, bytes] of images) hashes.set(url, await hasher.hash(bytes))
    await hasher.close()
    const pages: Record<string, string> = {
      '/': '<a href="/a.html">a</a> <a href="/b.html">b</a>',
      '/a.html': '<img src="/img/known.jpg"><img src="/img/unknown.jpg"><img src="/img/other.jpg">',
      '/b.html': '<img src="/img/copy.jpg">',
    }
    site = await startPictureSite({ images, pages })
    base = site.base
  }, 300_000)
  afterAll(async () => {
    await site?.close()
    await cli?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('queues what was seen beside a match; two analysts make it a list entry whose copy is found and noticed', async () => {
    expect((await cli.run(['providers', 'set', '127.0.0.1/32', '--name', 'Loopback Hosting', '--email', 'abuse@loopback.test'])).code).toBe(0)
    const list = path.join(dir, 'known.csv')
    await writeFile(list, ['algorithm,hash,category,external_id', `sha256,${hashes.get('/img/known.jpg')!.sha256},A1,k1`].join('\n'))
    expect((await cli.run(['lists', 'import', list, '--name', 'known', '--no-retro-hunt'])).code).toBe(0)
    const crawl = await cli.json(['crawl', `${base}/`, '--allow', '127.0.0.1/32', '--json'])
    expect(crawl).toMatchObject({ media: 4, notices: 1 })

    const before = await cli.withDatabase(async ({ db }) => {
      const media = await db.selectFrom('media_fetches').select(['url', 'media_id']).execute()
      const suspects = await db.selectFrom('suspects as s').innerJoin('media_fetches as f', 'f.media_id', 's.media_id').innerJoin('pages as p', 'p.id', 's.page_id')
        .select(['s.id', 'f.url', 'p.url as page', 's.status']).orderBy('f.url').execute()
      return { mediaOf: new Map(media.map((m) => [new URL(m.url).pathname, m.media_id!])), suspects }
    })
    // Page a's two pictures that match nothing; not the known one, not page b's copy (nothing known beside it).
    expect(before.suspects.map((s) => [new URL(s.url).pathname, new URL(s.page).pathname, s.status])).toEqual([
      ['/img/other.jpg', '/a.html', 'pending'], ['/img/unknown.jpg', '/a.html', 'pending'],
    ])
    const unknownSuspect = before.suspects.find((s) => s.url.endsWith('/img/unknown.jpg'))!.id
    expect(await cli.json(['analysts', 'suspects', '--per-page', '5', '--reason', 'test', '--json'])).toMatchObject({
      policy: { mode: 'on', perPage: 5, perJob: 500, twoAnalysts: true, previewsBeforeBreak: 50 }, suspects: { pending: 2 },
    })

    for (const [name, role] of [['alice', 'admin'], ['bob', 'analyst']] as const) {
      const add = await cli.run(['analysts', 'add', name, '--role', role], { input: `${PASSWORD}\n` })
      expect(add.code, add.stderr).toBe(0)
    }
    const serve = cli.start(['serve', '--port', '0', '--allow', '127.0.0.1/32'])
    try {
      const url = (await serve.waitFor(/review server: (http:\/\/127\.0\.0\.1:\d+)\//))[1]!
      const login = async (name: string) => {
        const response = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password: PASSWORD }) })
        expect(response.status).toBe(200)
        const body = (await response.json()) as { csrfToken: string }
        return { cookie: response.headers.get('set-cookie')!.split(';')[0]!, csrf: body.csrfToken }
      }
      const alice = await login('alice')
      const bob = await login('bob')
      const call = async (who: { cookie: string; csrf: string }, route: string, body?: unknown) => {
        const response = await fetch(`${url}${route}`, body === undefined
          ? { headers: { cookie: who.cookie } }
          : { method: 'POST', headers: { cookie: who.cookie, 'x-csrf-token': who.csrf, 'content-type': 'application/json' }, body: JSON.stringify(body) })
        return { status: response.status, headers: response.headers, body: response.headers.get('content-type')?.startsWith('application/json') ? await response.json() as Record<string, any> : undefined }
      }

      const queue = await call(bob, '/api/suspects')
      expect(queue.body!.items.map((i: { url: string; besideLists: string[] }) => [new URL(i.url).pathname, i.besideLists])).toEqual([
        ['/img/unknown.jpg', ['known']], ['/img/other.jpg', ['known']],
      ].sort((a, b) => (before.mediaOf.get(a[0] as string)! - before.mediaOf.get(b[0] as string)!)))

      // The well-being prompt after two previews (the admin sets it); previews are blurred and greyscale unless asked.
      expect((await call(alice, '/api/suspect-policy', { previewsBeforeBreak: 2, reason: 'test' })).body!.policy).toMatchObject({ mode: 'on', twoAnalysts: true, previewsBeforeBreak: 2 })
      expect((await call(bob, '/api/suspect-policy', { previewsBeforeBreak: 0 })).status).toBe(403)
      const first = await call(bob, `/api/items/${before.mediaOf.get('/img/unknown.jpg')}/preview`, {})
      expect([first.status, first.headers.get('x-arachnid-obscured'), first.headers.get('x-arachnid-previews'), first.headers.get('x-arachnid-break')]).toEqual([200, 'true', '1', null])
      const second = await call(bob, `/api/items/${before.mediaOf.get('/img/unknown.jpg')}/preview`, {})
      expect([second.headers.get('x-arachnid-previews'), second.headers.get('x-arachnid-break')]).toEqual(['2', 'suggested'])
      const page = await (await fetch(`${url}/suspects`, { headers: { cookie: bob.cookie } })).text()
      expect(page).toMatch(/<div id="wellbeing" class="wellbeing" role="alert">/)
      expect((await call(bob, '/api/wellbeing/break', {})).body).toMatchObject({ previews: 0, breakSuggested: false })

      const vote = await call(alice, `/api/suspects/${unknownSuspect}/classification`, { classification: 'csam', reason: 'first look' })
      expect(vote.body).toMatchObject({ state: 'awaiting-second', classification: 'csam' })
      const disputed = await call(bob, `/api/suspects/${unknownSuspect}/classification`, { classification: 'not' })
      expect(disputed.body).toMatchObject({ state: 'disputed' })
      const agreed = await call(bob, `/api/suspects/${unknownSuspect}/classification`, { classification: 'csam', reason: 'agree' })
      expect(agreed.body).toMatchObject({ state: 'classified', classification: 'csam', list: 'classified-csam', entries: 5, huntStarted: true })
      expect((await call(alice, `/api/suspects/${unknownSuspect}/classification`, { classification: 'not' })).status).toBe(409)

      // The hunt runs in the server after the answer: the copy on page b is found (PDQ, near) and noticed.
      const copyId = before.mediaOf.get('/img/copy.jpg')!
      const deadline = Date.now() + 120_000
      let copy: Record<string, any> | undefined
      while (Date.now() < deadline) {
        copy = (await call(bob, `/api/items/${copyId}`)).body
        if (copy?.notices?.length > 0) break
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
      expect(copy!.matches.map((m: { list: string; externalId: string }) => [m.list, m.externalId])).toContainEqual(['classified-csam', `suspect:${unknownSuspect}`])
      expect(copy!.notices).toHaveLength(1)
      // The hunt goes on over the rest of the media after the copy's notice: its end is logged.
      await serve.waitFor(/retro-hunt of a classification finished/)
    } finally {
      expect((await serve.stop()).errors).not.toMatch(/Error|\n\s+at /)
    }

    const after = await cli.withDatabase(async ({ db }) => ({
      provenance: await db.selectFrom('list_entry_provenance as p').innerJoin('known_hashes as k', 'k.id', 'p.known_hash_id')
        .select(['k.algorithm', 'p.suspect_id', 'p.media_id', 'p.page_url', 'p.classified_by']).orderBy('k.algorithm').execute(),
      notices: (await db.selectFrom('notices').select('media_url').execute()).map((n) => new URL(n.media_url).pathname).sort(),
      hunts: await db.selectFrom('retro_hunts').select(['trigger', 'matched_media']).execute(),
      audit: (await db.selectFrom('audit_log').select('action').where('action', 'like', 'classify%').orderBy('id').execute()).map((a) => a.action),
    }))
    expect(after.provenance.map((p) => p.algorithm)).toEqual(['blockhash', 'md5', 'pdq', 'sha1', 'sha256'])
    for (const p of after.provenance) {
      expect(p).toMatchObject({ suspect_id: unknownSuspect, media_id: before.mediaOf.get('/img/unknown.jpg'), page_url: `${base}/a.html`, classified_by: ['alice', 'bob'] })
    }
    expect(after.notices).toEqual(['/img/copy.jpg', '/img/known.jpg', '/img/unknown.jpg'])
    expect(after.hunts).toContainEqual({ trigger: 'classification', matched_media: 2 })
    expect(after.audit).toEqual(['classify-vote', 'classify-vote', 'classify'])
    expect(await cli.json(['analysts', 'suspects', '--json'])).toMatchObject({ suspects: { pending: 1, csam: 1 } })
  }, 300_000)
})
