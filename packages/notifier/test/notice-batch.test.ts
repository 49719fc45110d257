import { createHash } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { hexToBytes, sql } from '@arachnid/core'
import { type KnownMatch, Matcher, importList } from '@arachnid/matcher'
import { type CreateNoticesResult, type FetchedMatch, MatchIntake, NOT_ASKED_YET, ProviderDirectory, createNotices, noticeKey, referenceFor, setProviderRule } from '@arachnid/notifier'
import { clearNotifierState, dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()
const reporter = { name: 'Arachnid test reporter', from: 'Arachnid <notices@reporter.test>' }
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const md5 = (s: string) => createHash('md5').update(s).digest('hex')
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex')

/**
 * A crawl's batch goes through the intake in a handful of statements whatever it holds (issue 14):
 * these check that the batch still notices each URL once, with its events, email, re-upload flag
 * and unassigned host, and that two workers taking the same URLs at once still create one notice.
 */
describe.each(dialects)('a batch through the match intake on %s', (dialect) => {
  let handle: TestDatabase
  let jobId: number
  let matcher: Matcher
  let entries = 0
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    await setProviderRule(handle.db, { pattern: 'files.batch.test', name: 'Batch Hosting', abuseEmail: 'abuse@batch.test' })
    jobId = (await handle.db.insertInto('crawl_jobs').values({ name: 'batch', seeds: '[]', options: '{}', status: 'running' }).returning('id').executeTakeFirstOrThrow()).id
    matcher = new Matcher(handle.db, { refreshIntervalMs: 0 })
  })
  afterAll(async () => { await handle?.close() })
  beforeEach(async () => { await clearNotifierState(handle.db) })

  /** A media row whose md5 is on a verified list (its own, so every test has fresh content), and its matches. */
  async function content(name: string): Promise<{ mediaId: number; hashes: FetchedMatch['hashes']; matches: KnownMatch[] }> {
    await importList(handle.db, { name: `batch-${++entries}`, lines: ['algorithm,hash,category', `md5,${md5(name)},A1`] })
    const hashes = { sha256: sha256(name), md5: md5(name), sha1: sha1(name) }
    const { id: mediaId } = await handle.db.insertInto('media').values({
      sha256: hexToBytes(hashes.sha256), md5: hexToBytes(hashes.md5), sha1: hexToBytes(hashes.sha1), pdq_quality: 100, bytes: 1000,
    }).returning('id').executeTakeFirstOrThrow()
    const [matches] = await matcher.match([{ algorithm: 'md5', hash: hashes.md5 }])
    expect(matches).toHaveLength(1)
    return { mediaId, hashes, matches: matches! }
  }

  function fetched(media: Awaited<ReturnType<typeof content>>, url: string, detectedAt = new Date('2026-12-01T10:00:00Z'), serverIp = '203.0.113.9'): FetchedMatch {
    return { ...media, jobId, url, finalUrl: url, serverIp, detectedAt, pageUrls: [`${url}.html`] }
  }

  /** The intake's database with every statement it sends counted. */
  function counted(): { db: TestDatabase['db']; statements: () => number } {
    let n = 0
    const db = handle.db.withPlugin({ transformQuery: (args) => args.node, transformResult: async (args) => { n++; return args.result } })
    return { db, statements: () => n }
  }

  async function noticesOf(url: string) {
    return handle.db.selectFrom('notices').where('media_url', '=', url).orderBy('id')
      .select(['id', 'reference', 'idempotency_key', 'media_id', 'job_id', 'provider_id', 'reupload_of', 'incident', 'host']).execute()
  }

  async function eventsOf(noticeId: number) {
    return handle.db.selectFrom('notice_events').where('notice_id', '=', noticeId).orderBy('id').select(['kind', 'detail']).execute()
  }

  it('notices each URL of a batch once: several URLs of one media, two media at one URL, each with its events, email and recheck', async () => {
    const shared = await content('shared-content')
    const first = await content('first-at-one-url')
    const second = await content('second-at-one-url')
    const base = 'http://files.batch.test'
    const items = [fetched(shared, `${base}/a.jpg`), fetched(shared, `${base}/b.jpg`), fetched(first, `${base}/one.jpg`), fetched(second, `${base}/one.jpg`)]
    const told: CreateNoticesResult[] = []
    const intake = new MatchIntake(handle.db, { reporter, notices: { recheckIntervalSeconds: 3600 }, onNotices: (r) => told.push(r) })
    const result = await intake.intake(items)

    // The shared media's match is recorded once, each media's once.
    expect(result.recorded.map((r) => r.mediaId)).toEqual([shared.mediaId, first.mediaId, second.mediaId])
    expect([...result.notifiable].sort()).toEqual([shared.mediaId, first.mediaId, second.mediaId].sort())
    const urls = [`${base}/a.jpg`, `${base}/b.jpg`, `${base}/one.jpg`]
    expect(result.notices).toEqual({ created: 3, unassigned: 0, reuploads: 0, references: urls.map((u) => referenceFor(noticeKey(u))) })
    expect(told).toEqual([result.notices])
    for (const url of urls) {
      const notices = await noticesOf(url)
      expect(notices, url).toHaveLength(1)
      const notice = notices[0]!
      // One URL, two media: the first request's media is the one noticed.
      expect(notice).toMatchObject({ idempotency_key: noticeKey(url), media_id: url.endsWith('one.jpg') ? first.mediaId : shared.mediaId, job_id: jobId, reupload_of: null, host: 'files.batch.test' })
      expect(notice.incident).toMatchObject({ mediaUrl: url, pageUrls: [`${url}.html`], detectedAt: '2026-12-01T10:00:00.000Z', matches: [{ algorithm: 'md5', category: 'A1' }] })
      expect(await eventsOf(notice.id)).toEqual([
        { kind: 'created', detail: { url, provider: 'Batch Hosting' } },
        { kind: 'queued', detail: { email: 'notice', sequence: 1, to: 'abuse@batch.test', provider: 'Batch Hosting' } },
      ])
      const outbox = await handle.db.selectFrom('outbox').where('notice_id', '=', notice.id).selectAll().execute()
      expect(outbox).toHaveLength(1)
      expect(outbox[0]).toMatchObject({
        idempotency_key: `${noticeKey(url)}:notice:1`, kind: 'notice', to_address: 'abuse@batch.test', status: 'pending', in_reply_to: null,
        message_id: `<${notice.reference}.notice.1@reporter.test>`,
      })
      expect(outbox[0]!.subject).toContain(`[${notice.reference}]`)
      expect(outbox[0]!.text_body).toContain(url)
      expect(outbox[0]!.attachments).toEqual([expect.objectContaining({ filename: `xarf-${notice.reference}.json`, contentType: 'application/json' })])
      // The first recheck, the configured interval after the notice.
      const due = await handle.db.selectFrom('notices').where('id', '=', notice.id)
        .select(sql<number>`extract(epoch from next_check_at - created_at)`.as('seconds')).executeTakeFirstOrThrow()
      expect(Math.round(Number(due.seconds))).toBe(3600)
    }

    // The same batch again: nothing new.
    const again = await intake.intake(items)
    expect(again).toMatchObject({ recorded: [], notices: { created: 0, references: [] } })
    expect(await handle.db.selectFrom('outbox').select('id').execute()).toHaveLength(3)
  })

  it('takes a batch in as many statements whatever it holds', async () => {
    const base = 'http://files.batch.test/count'
    const one = await content('count-one')
    const small = counted()
    const smallResult = await new MatchIntake(small.db, { reporter }).intake([fetched(one, `${base}/1.jpg`)])
    expect(smallResult.notices.created).toBe(1)
    const many = await Promise.all(['count-a', 'count-b', 'count-c', 'count-d'].map(content))
    const large = counted()
    const largeResult = await new MatchIntake(large.db, { reporter }).intake(many.flatMap((m, i) => [fetched(m, `${base}/${i}-x.jpg`), fetched(m, `${base}/${i}-y.jpg`)]))
    expect(largeResult.notices.created).toBe(8)
    // The matches' read and insert, the notifiable media, the provider directory, the keys, the notices.
    expect(small.statements()).toBe(6)
    expect(large.statements()).toBe(small.statements())
  })

  it('notices a re-upload after a removal once, flagged, and nothing for a sighting from before the removal', async () => {
    const media = await content('comes-back')
    const url = 'http://files.batch.test/back.jpg'
    const intake = new MatchIntake(handle.db, { reporter })
    const first = await intake.intake([fetched(media, url, new Date('2026-12-01T10:00:00Z'))])
    expect(first.notices.created).toBe(1)
    const [removed] = await noticesOf(url)
    await handle.db.updateTable('notices').set({ status: 'removed', removed_at: new Date('2026-12-02T10:00:00Z') }).where('id', '=', removed!.id).execute()

    // Seen before the removal: the removed notice stands for it.
    expect((await intake.intake([fetched(media, url, new Date('2026-12-02T09:00:00Z'))])).notices.created).toBe(0)
    // Back after it, at the same URL and at another one: both re-uploads of the removed notice's content at its provider.
    const other = 'http://files.batch.test/back-again.jpg'
    const back = await intake.intake([fetched(media, url, new Date('2026-12-03T10:00:00Z')), fetched(media, other, new Date('2026-12-03T10:00:00Z'))])
    const afterKey = `${noticeKey(url)}:after:${removed!.id}`
    expect(back.notices).toEqual({ created: 2, unassigned: 0, reuploads: 2, references: [referenceFor(afterKey), referenceFor(noticeKey(other))] })
    const notices = await noticesOf(url)
    expect(notices.map((n) => [n.idempotency_key, n.reupload_of])).toEqual([[noticeKey(url), null], [afterKey, removed!.id]])
    expect((await eventsOf(notices[1]!.id)).map((e) => [e.kind, e.detail])).toEqual([
      ['created', { url, provider: 'Batch Hosting' }],
      ['queued', { email: 'notice', sequence: 1, to: 'abuse@batch.test', provider: 'Batch Hosting' }],
      ['reupload', { of: removed!.reference }],
    ])
    expect((await noticesOf(other))[0]).toMatchObject({ reupload_of: removed!.id })
    // And once only.
    expect((await intake.intake([fetched(media, url, new Date('2026-12-04T10:00:00Z'))])).notices.created).toBe(0)
  })

  it('leaves notices without a provider unassigned, each host recorded once for the notifier\'s lookup, and records failed lookups', async () => {
    const media = await content('nowhere')
    const intake = new MatchIntake(handle.db, { reporter })
    const result = await intake.intake([
      fetched(media, 'http://nowhere.batch.test/1.jpg', undefined, '198.51.100.1'), fetched(media, 'http://nowhere.batch.test/2.jpg', undefined, '198.51.100.1'),
      fetched(media, 'http://files.batch.test/named.jpg'),
    ])
    expect(result.notices).toMatchObject({ created: 3, unassigned: 2 })
    expect(await handle.db.selectFrom('provider_lookups').select(['host', 'status', 'attempts', 'last_error']).execute())
      .toEqual([{ host: 'nowhere.batch.test', status: 'unassigned', attempts: 0, last_error: NOT_ASKED_YET }])
    const unassigned = await handle.db.selectFrom('notices').where('host', '=', 'nowhere.batch.test').select(['id', 'provider_id']).execute()
    expect(unassigned.map((n) => n.provider_id)).toEqual([null, null])
    expect(await handle.db.selectFrom('outbox').where('notice_id', 'in', unassigned.map((n) => n.id)).select('id').execute()).toEqual([])
    expect((await eventsOf(unassigned[0]!.id)).map((e) => e.kind)).toEqual(['created'])

    // A lookup that fails: the host waits for its retry, with the error.
    const failing = { resolve: () => { throw new Error('dns is down') } }
    const failed = await createNotices(handle.db, failing, [fetched(media, 'http://down.batch.test/1.jpg')], reporter)
    expect(failed).toMatchObject({ created: 1, unassigned: 1 })
    expect(await handle.db.selectFrom('provider_lookups').where('host', '=', 'down.batch.test').select(['status', 'attempts', 'last_error']).executeTakeFirstOrThrow())
      .toEqual({ status: 'unassigned', attempts: 1, last_error: 'dns is down' })
  })

  it('creates one notice per URL when two workers take the same URLs at once, in any order', async () => {
    const media = await content('raced')
    const directory = await ProviderDirectory.load(handle.db)
    // Batches large enough that the two inserts overlap: with the rows inserted in the order given
    // (one worker's the reverse of the other's), Postgres found them deadlocked here.
    const perRound = 300
    for (let round = 0; round < 3; round++) {
      const urls = Array.from({ length: perRound }, (_, i) => `http://files.batch.test/race-${round}-${i}.jpg`)
      const items = urls.map((u) => fetched(media, u))
      const a = new MatchIntake(handle.db, { reporter, lookup: directory })
      const b = new MatchIntake(handle.db, { reporter, lookup: directory })
      const [ra, rb] = await Promise.all([a.intake(items), b.intake([...items].reverse())])
      expect(ra.notices.created + rb.notices.created, `round ${round}`).toBe(perRound)
      expect(new Set([...ra.notices.references, ...rb.notices.references]).size).toBe(perRound)
      const notices = await handle.db.selectFrom('notices').where('media_url', 'in', urls).select(['id', 'media_url']).execute()
      expect(notices.map((n) => n.media_url).sort()).toEqual([...urls].sort())
      const ids = notices.map((n) => n.id)
      const events = await handle.db.selectFrom('notice_events').where('notice_id', 'in', ids).select(['notice_id', 'kind']).execute()
      expect(events.filter((e) => e.kind === 'created')).toHaveLength(perRound)
      expect(events.filter((e) => e.kind === 'queued')).toHaveLength(perRound)
      expect(await handle.db.selectFrom('outbox').where('notice_id', 'in', ids).select('id').execute()).toHaveLength(perRound)
    }
  })

  it('reads the provider directory again once it is older than the intake\'s maximum age', async () => {
    const media = await content('directory-age')
    const intake = new MatchIntake(handle.db, { reporter, directoryMaxAgeMs: 3_600_000 })
    const fresh = new MatchIntake(handle.db, { reporter, directoryMaxAgeMs: 0 })
    expect((await intake.intake([fetched(media, 'http://later.batch.test/1.jpg')])).notices.unassigned).toBe(1)
    await setProviderRule(handle.db, { pattern: 'later.batch.test', name: 'Later Hosting', abuseEmail: 'abuse@later.test' })
    // Within its age the intake's directory does not name the new rule (the notifier's own lookup assigns the notice)...
    expect((await intake.intake([fetched(media, 'http://later.batch.test/2.jpg')])).notices.unassigned).toBe(1)
    // ...an intake that reads it every time does.
    expect((await fresh.intake([fetched(media, 'http://later.batch.test/3.jpg')])).notices).toMatchObject({ created: 1, unassigned: 0 })
  })
})
