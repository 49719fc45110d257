import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateImage } from '@arachnid/synthetic'
import { type CliEnvironment, type CliProcess, dialectsUnderTest, openCliEnvironment, type PictureSite, startPictureSite } from '@arachnid/test'

/**
 * Sharing lists between two deployments on loopback, each with a database of its own: `lists
 * export` files that `lists import` reads back on the other, and `lists subscribe` / `lists pull`
 * through the first one's matching service (`pnpm arachnid api`), the changes (entries added,
 * retracted, a new version) reaching the second on its next pull. On the embedded database the
 * service holds the first one's database: its changes are made while the service is stopped (it
 * comes back on the same port). What a pull adds is looked for among the media the second one has
 * seen (a retro-hunt), unless the pull or the subscription says not to; `lists show` and `stats`
 * report the hunts.
 */

const dialects = await dialectsUnderTest()

const md5 = (s: string) => createHash('md5').update(s).digest('hex')
const h256 = (s: string) => createHash('sha256').update(s).digest('hex')
/** A benign synthetic PDQ-shaped hash (any 256 bits). */
const pdq = (s: string) => h256(`pdq:${s}`)

describe.each(dialects)('list sharing between two deployments on %s', (dialect) => {
  let a: CliEnvironment
  let b: CliEnvironment
  let api: CliProcess | undefined
  let port = 0
  let password = ''
  let plainPassword = ''

  const startApi = async () => {
    api = a.start(['api', '--port', String(port)])
    const [, p] = await api.waitFor(/matching service: http:\/\/127\.0\.0\.1:(\d+)\//, { stream: 'stderr' })
    port = Number(p)
    for (let i = 0; i < 300; i++) {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error('the service did not load')
  }
  /** Runs `fn` on the first deployment; on the embedded database with its service stopped meanwhile. */
  const onPeer = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (dialect === 'postgres' || api === undefined) return fn()
    await api.stop()
    api = undefined
    try {
      return await fn()
    } finally {
      await startApi()
    }
  }
  const ok = async (cli: CliEnvironment, args: string[], input?: string) => {
    const r = await cli.run(args, input === undefined ? {} : { input })
    // On a failure, what the peer's service wrote too (a pull that could not reach it says why there).
    const service = r.code === 0 || cli === a || api === undefined ? '' : `\n[the peer's service, stderr]: ${api.stderr.slice(-4000)}`
    expect(r.code, `${args.join(' ')}: ${r.errors} ${r.stdout.slice(0, 2000)}${service}`).toBe(0)
    return r
  }
  /** A command printing JSON lines that must succeed (its output shown if not): the last line. */
  const json = async (cli: CliEnvironment, args: string[], input?: string) => JSON.parse((await ok(cli, args, input)).stdout.trim().split('\n').at(-1)!)
  const exported = async (cli: CliEnvironment, list: string, format: string) => (await ok(cli, ['lists', 'export', list, '--format', format])).stdout

  beforeAll(async () => {
    ;[a, b] = await Promise.all([openCliEnvironment(dialect), openCliEnvironment(dialect)])
    const rows = [
      `md5,${md5('one')},A,e1,`, `md5,${md5('two')},B,"e,2",`, `md5,${md5('three')},,,`,
      `sha256,${h256('four')},A,e4,`, `pdq,${pdq('five')},B,e5,90`, `pdq,${pdq('six')},,,`,
    ]
    await writeFile(path.join(a.home, 'shared.csv'), `algorithm,hash,category,external_id,quality\n${rows.join('\n')}\n`)
    const frames = (seed: string, n: number) => Array.from({ length: n }, (_, i) => `${i},${80 + i},${pdq(`${seed}${i}`)},${i}`).join('\n')
    await writeFile(path.join(a.home, 'videos.vpdq'), `# video: clip-1\n${frames('c1-', 3)}\n# video: clip-2\n${frames('c2-', 2)}\n`)
    await ok(a, ['lists', 'import', path.join(a.home, 'shared.csv'), '--name', 'shared', '--classification', 'harmful-abusive-material', '--no-retro-hunt', '--json'])
    await ok(a, ['lists', 'import', path.join(a.home, 'videos.vpdq'), '--name', 'shared', '--format', 'vpdq', '--append', '--no-retro-hunt', '--json'])
    await ok(a, ['lists', 'retract', `md5:${md5('three')}`, '--list', 'shared', '--reason', 'test'])
    password = (await a.json(['api', 'users', 'add', 'peer-b', '--scope', 'export', '--json'])).password
    plainPassword = (await a.json(['api', 'users', 'add', 'plain', '--json'])).password
  })
  afterAll(async () => {
    await api?.stop()
    await Promise.all([a?.close(), b?.close()])
  })

  it('exports the live entries in each format, which the other deployment imports as the same entries; retractions to their own file', async () => {
    const users = (await ok(a, ['api', 'users', 'list', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(users.map((u: { name: string; scopes?: string[] }) => [u.name, u.scopes])).toEqual([['peer-b', ['match', 'export']], ['plain', undefined]])
    const csv = await exported(a, 'shared', 'csv')
    expect(csv.split('\n')[0]).toBe('algorithm,hash,category,external_id,quality')
    expect(csv).toContain(`md5,${md5('two')},B,"e,2",\n`)
    expect(csv).not.toContain(md5('three'))
    const out = path.join(a.home, 'out')
    const formats = ['csv', 'jsonl', 'pdq-csv', 'vpdq'] as const
    for (const format of formats) {
      const r = await ok(a, ['lists', 'export', 'shared', '--format', format, '--output', `${out}.${format}`, ...(format === 'csv' ? ['--retractions', `${out}.retracted`] : [])])
      expect(r.stdout).toBe('')
    }
    expect(await readFile(`${out}.csv`, 'utf8')).toBe(csv)
    // Each file imported on the other deployment, exported again there: the same file, the same entries in the same order.
    await Promise.all(formats.map(async (format) => {
      const text = await readFile(`${out}.${format}`, 'utf8')
      if (dialect === 'postgres') await ok(b, ['lists', 'import', `${out}.${format}`, '--name', `copy-${format}`, '--format', format, '--strict', '--no-retro-hunt'])
      return text
    }))
    for (const format of formats) {
      if (dialect === 'pglite') await ok(b, ['lists', 'import', `${out}.${format}`, '--name', `copy-${format}`, '--format', format, '--strict', '--no-retro-hunt'])
      expect(await exported(b, `copy-${format}`, format)).toBe(await readFile(`${out}.${format}`, 'utf8'))
    }
    expect(await readFile(`${out}.retracted`, 'utf8')).toBe(`md5:${md5('three')}\n`)
    expect((await readFile(`${out}.pdq-csv`, 'utf8')).trim().split('\n')).toEqual(['hash,quality,category,external_id', `${pdq('five')},90,B,e5`])
    expect((await readFile(`${out}.vpdq`, 'utf8')).match(/^# video: .*$/gm)).toEqual(['# video: clip-1', '# video: clip-2'])
    const jsonl = (await readFile(`${out}.jsonl`, 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    expect(jsonl).toHaveLength(5)
    expect(jsonl[1]).toEqual({ algorithm: 'md5', hash: md5('two'), category: 'B', external_id: 'e,2', quality: null })
  }, 600_000)

  it('serves the list to a user with the export scope only, and the second deployment follows it: added, retracted and a new version arrive on the next pull', async () => {
    await startApi()
    const base = `http://127.0.0.1:${port}`
    const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` })
    const refused = await fetch(`${base}/api/v1/lists/shared/changes`, { headers: basic('plain', plainPassword) })
    expect(refused.status).toBe(403)
    expect((await refused.json() as { detail: string }).detail).toMatch(/export scope/)
    expect((await fetch(`${base}/api/v1/lists/shared/changes`)).status).toBe(401)
    expect((await fetch(`${base}/api/v1/lists/nothing/changes`, { headers: basic('peer-b', password) })).status).toBe(404)
    expect((await fetch(`${base}/api/v1/lists/shared/changes?cursor=x`, { headers: basic('peer-b', password) })).status).toBe(400)
    const first = await (await fetch(`${base}/api/v1/lists/shared/changes?cursor=0&limit=3`, { headers: basic('peer-b', password) })).json() as {
      classification: string; cursor: string; more: boolean; changes: { kind: string; start: boolean; end: boolean; entries: unknown[] }[]
    }
    expect(first).toMatchObject({ classification: 'harmful-abusive-material', more: true, changes: [{ kind: 'replace', start: true, end: false }] })
    expect(first.changes[0]!.entries).toHaveLength(3)
    expect(first.cursor).toMatch(/^\d+:\d+$/)

    // A user without the scope cannot subscribe, and nothing is kept.
    const plain = await b.run(['lists', 'subscribe', base, '--name', 'mirror', '--user', 'plain', '--remote', 'shared'], { input: `${plainPassword}\n` })
    expect(plain.code).not.toBe(0)
    expect(plain.errors).toMatch(/403.*export scope/)
    expect((await ok(b, ['lists', 'subscriptions'])).stdout).toBe('no subscriptions\n')

    // Pages of 2 entries: the replace spans pages, the video entries included.
    const subscribed = await b.json(['lists', 'subscribe', `${base}/api/v1/lists/shared`, '--name', 'mirror', '--user', 'peer-b', '--page', '2', '--json'], { input: `${password}\n` })
    expect(subscribed).toMatchObject({ list: 'mirror', remote: 'shared', replaced: 1, replacedEntries: 5 + 2, classification: 'harmful-abusive-material' })
    expect(subscribed.pages).toBeGreaterThan(2)
    const peerCsv = await onPeer(() => exported(a, 'shared', 'csv'))
    const peerVideos = await onPeer(() => exported(a, 'shared', 'vpdq'))
    expect(await exported(b, 'mirror', 'csv')).toBe(peerCsv)
    expect(await exported(b, 'mirror', 'vpdq')).toBe(peerVideos)
    expect((await b.json(['lists', 'show', 'mirror', '--json'])).classification).toBe('harmful-abusive-material')

    // One entry added and one retracted on the first deployment.
    const next = await onPeer(async () => {
      await writeFile(path.join(a.home, 'more.csv'), `algorithm,hash,category\nmd5,${md5('seven')},C\nsha1,${createHash('sha1').update('eight').digest('hex')},C\n`)
      await ok(a, ['lists', 'import', path.join(a.home, 'more.csv'), '--name', 'shared', '--append', '--no-retro-hunt'])
      await ok(a, ['lists', 'retract', `md5:${md5('one')}`, '--list', 'shared'])
      await ok(a, ['lists', 'set', 'shared', '--classification', 'csam'])
      return exported(a, 'shared', 'csv')
    })
    expect(next).toContain(md5('seven'))
    expect(next).not.toContain(md5('one'))
    const pulled = await json(b, ['lists', 'pull', '--page', '1', '--json'])
    expect(pulled).toMatchObject({ list: 'mirror', replaced: 0, added: 2, retracted: 1, classification: 'csam' })
    expect(await exported(b, 'mirror', 'csv')).toBe(next)
    const retractedHere = path.join(b.home, 'retracted')
    await ok(b, ['lists', 'export', 'mirror', '--format', 'jsonl', '--output', path.join(b.home, 'x.jsonl'), '--retractions', retractedHere])
    expect(await readFile(retractedHere, 'utf8')).toBe(`md5:${md5('one')}\n`)
    // Nothing new: nothing changes.
    expect(await json(b, ['lists', 'pull', 'mirror', '--json'])).toMatchObject({ replaced: 0, added: 0, retracted: 0 })

    // A new version on the first deployment replaces the second's.
    const replaced = await onPeer(async () => {
      await writeFile(path.join(a.home, 'v2.csv'), `algorithm,hash\nmd5,${md5('nine')}\nmd5,${md5('ten')}\n`)
      await ok(a, ['lists', 'import', path.join(a.home, 'v2.csv'), '--name', 'shared', '--no-retro-hunt'])
      return exported(a, 'shared', 'csv')
    })
    expect(await json(b, ['lists', 'pull', '--json'])).toMatchObject({ replaced: 1, replacedEntries: 2 })
    expect(await exported(b, 'mirror', 'csv')).toBe(replaced)
    const [subscription] = (await ok(b, ['lists', 'subscriptions', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(subscription).toMatchObject({ list: 'mirror', url: base, remote: 'shared', user: 'peer-b', classification: 'csam', pulls: 4, lastError: null })
    expect(JSON.stringify(subscription)).not.toContain(password)
  }, 900_000)

  it('hunts what a pull adds among the media seen here, unless the pull or the subscription says not to; lists show and stats report the hunts', async () => {
    // Two benign synthetic pictures on a loopback site, crawled by the second deployment before its list knows them.
    const pictures = new Map<string, Uint8Array>()
    for (const [name, seed] of [['kept', 801], ['gone', 802]] as const) pictures.set(`/${name}.png`, await generateImage({ seed, width: 160, height: 120, format: 'png' }))
    const removed = new Set<string>()
    const site = await startPictureSite({ images: pictures, removed })
    const origin = site.base
    const digest = (algorithm: string, name: string) => createHash(algorithm).update(pictures.get(`/${name}.png`)!).digest('hex')
    try {
      expect(await b.json(['crawl', `${origin}/`, '--allow', '127.0.0.1/32', '--json'])).toMatchObject({ media: 2, notices: 0 })
      await ok(b, ['providers', 'set', '127.0.0.1/32', '--name', 'Loopback Hosting', '--email', 'abuse@loopback.test'])
      removed.add('/gone.png')
      await onPeer(async () => {
        await writeFile(path.join(a.home, 'seen.csv'), `algorithm,hash\nmd5,${digest('md5', 'kept')}\nmd5,${digest('md5', 'gone')}\n`)
        await ok(a, ['lists', 'import', path.join(a.home, 'seen.csv'), '--name', 'shared', '--append', '--no-retro-hunt'])
      })
      const pulled = await json(b, ['lists', 'pull', 'mirror', '--allow', '127.0.0.1/32', '--json'])
      // The picture still there is noticed; the one gone on recheck is recorded as gone, with no notice.
      expect(pulled).toMatchObject({ list: 'mirror', added: 2, retroHunt: { entries: 2, mediaScanned: 2, matchedMedia: 2, newMatches: 2, notices: 1, gone: 1 } })

      const shown = await b.json(['lists', 'show', 'mirror', '--json'])
      expect(shown.retroHunts[0]).toMatchObject({
        trigger: 'pull', status: 'finished', entries: 2, mediaScanned: 2, matchedMedia: 2, newMatches: 2, notices: 1, gone: 1,
        goneUrls: [{ url: `${origin}/gone.png`, reason: 'http-404' }],
      })
      const text = (await ok(b, ['lists', 'show', 'mirror'])).stdout
      expect(text).toMatch(/ {4}#\d+ pull finished: 2 entries among 2 media, 2 matched \(2 new matches\), 1 notices, 1 URLs gone \(\S+, [\d.]+ s\)\n {6}gone: \S+\/gone\.png \(http-404\)\n/)
      const stats = await b.json(['stats', '--json'])
      expect(stats.retroHunts.recent[0]).toMatchObject({ list: 'mirror', trigger: 'pull', status: 'finished', entries: 2, mediaScanned: 2, matchedMedia: 2, newMatches: 2, notices: 1, gone: 1 })
      expect(stats.retroHunts).toMatchObject({ hunts: stats.retroHunts.recent.length, matchedMedia: 2, newMatches: 2, notices: 1, gone: 1 })
      expect((await ok(b, ['stats'])).stdout).toMatch(/^retro-hunts \d+: \d+ media searched, 2 matched \(2 new matches\), 1 notices, 1 URLs gone on recheck\n {2}hunt \d+ mirror \[pull finished\] \S+: 2 entries among 2 media, 2 matched \(2 new matches\), 1 notices, 1 URLs gone$/m)

      // Told not to, by the pull or by the subscription: the entries arrive, no hunt looks for them.
      await onPeer(async () => {
        await writeFile(path.join(a.home, 'seen-sha1.csv'), `algorithm,hash\nsha1,${digest('sha1', 'kept')}\n`)
        await ok(a, ['lists', 'import', path.join(a.home, 'seen-sha1.csv'), '--name', 'shared', '--append', '--no-retro-hunt'])
      })
      const quiet = await json(b, ['lists', 'pull', 'mirror', '--no-retro-hunt', '--json'])
      expect(quiet).toMatchObject({ added: 1 })
      expect(quiet).not.toHaveProperty('retroHunt')
      const other = await b.json(['lists', 'subscribe', `http://127.0.0.1:${port}`, '--remote', 'shared', '--name', 'quiet', '--user', 'peer-b', '--no-retro-hunt', '--json'], { input: `${password}\n` })
      expect(other).toMatchObject({ list: 'quiet', replaced: 1 })
      expect(other).not.toHaveProperty('retroHunt')
      expect(await json(b, ['lists', 'pull', 'quiet', '--json'])).not.toHaveProperty('retroHunt')
      expect((await b.json(['lists', 'show', 'quiet', '--json'])).retroHunts).toEqual([])
      expect((await b.json(['stats', '--json'])).retroHunts.hunts).toBe(stats.retroHunts.hunts)
      const subscriptions = (await ok(b, ['lists', 'subscriptions', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l))
      expect(subscriptions.map((s: { list: string; retroHunt: boolean; huntPending: boolean }) => [s.list, s.retroHunt, s.huntPending])).toEqual([['mirror', true, false], ['quiet', false, false]])
      expect((await ok(b, ['lists', 'subscriptions'])).stdout).toMatch(/^quiet <- .*, no retro-hunts/m)
    } finally {
      await site.close()
    }
  }, 900_000)
})
