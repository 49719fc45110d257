import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addClassifiedEntries, importList, loadSuspectPolicy, Matcher, queueJobSuspects, queueSuspects, recordMatches } from '@arachnid/matcher'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/** Benign synthetic hashes: a digest of a seed string. */
const sha256 = (seed: string) => createHash('sha256').update(seed).digest('hex')

describe.each(dialects)('the suspect queue on %s', (dialect) => {
  let handle: TestDatabase
  let matcher: Matcher
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    matcher = new Matcher(handle.db)
    await importList(handle.db, { name: 'known', lines: ['algorithm,hash', `sha256,${sha256('known-a')}`, `sha256,${sha256('known-b')}`, `sha256,${sha256('known-c')}`] })
    await importList(handle.db, { name: 'stock', lines: ['algorithm,hash', `sha256,${sha256('stock')}`] })
    await handle.db.updateTable('hash_lists').set({ ignore: true }).where('name', '=', 'stock').execute()
  })
  afterAll(async () => {
    await matcher?.close()
    await handle?.close()
  })

  /** A job whose pages each show the media given (by seed; a known seed's media matches the list), recorded as the pipeline records them. */
  async function crawl(pages: readonly (readonly string[])[]): Promise<{ jobId: number; pages: number[]; media: Map<string, number> }> {
    const db = handle.db
    const job = await db.insertInto('crawl_jobs').values({ name: 'suspects', seeds: '[]', options: '{}', status: 'finished' }).returning('id').executeTakeFirstOrThrow()
    const media = new Map<string, number>()
    const pageIds: number[] = []
    for (const [p, seeds] of pages.entries()) {
      const page = await db.insertInto('pages').values({ job_id: job.id, url: `http://127.0.0.1/${job.id}/${p}.html`, depth: 0, media_found: seeds.length }).returning('id').executeTakeFirstOrThrow()
      pageIds.push(page.id)
      for (const seed of seeds) {
        if (!media.has(seed)) {
          // A known picture is the same content (one media row) in every job; the others are new in each.
          const m = await db.insertInto('media').values({ sha256: Buffer.from(seed.startsWith('known') || seed === 'stock' ? sha256(seed) : sha256(`${seed}-${job.id}`), 'hex'), md5: randomBytes(16), sha1: randomBytes(20), bytes: 1 })
            .onConflict((oc) => oc.column('sha256').doUpdateSet({ bytes: 1 })).returning('id').executeTakeFirstOrThrow()
          media.set(seed, m.id)
        }
        const fetch = await db.insertInto('media_fetches').values({ job_id: job.id, url: `http://127.0.0.1/${job.id}/${seed}.jpg`, media_id: media.get(seed)!, state: 'done' })
          .onConflict((oc) => oc.columns(['job_id', 'url']).doUpdateSet({ state: 'done' })).returning('id').executeTakeFirstOrThrow()
        await db.insertInto('sightings').values({ job_id: job.id, page_id: page.id, fetch_id: fetch.id, via: 'img' }).execute()
      }
    }
    // The batch's matches, recorded with the review policy's decision, then the suspects of the batch.
    const ids = [...media.values()]
    const rows = await db.selectFrom('media').where('id', 'in', ids).select(['id', 'sha256']).execute()
    const found = await matcher.match(rows.map((r) => ({ algorithm: 'sha256' as const, hash: Buffer.from(r.sha256).toString('hex') })))
    await recordMatches(db, rows.map((r, i) => ({ mediaId: r.id, jobId: job.id, matches: found[i]! })).filter((x) => x.matches.length > 0))
    return { jobId: job.id, pages: pageIds, media }
  }

  const suspectsOf = async (jobId: number) => (await handle.db.selectFrom('suspects').where('job_id', '=', jobId).select(['media_id', 'page_id', 'beside_media_id']).orderBy('media_id').execute())

  it('queues, once, the media that match nothing on pages with a confirmed match; not beside an ignore list\'s match, not a stock image, not on a page with no match', async () => {
    const c = await crawl([['known-a', 'x1', 'x2', 'stock'], ['x1', 'x3'], ['stock', 'x4'], ['x5']])
    expect(await queueSuspects(handle.db, [...c.media.values()], { jobId: c.jobId })).toBe(2)
    expect(await suspectsOf(c.jobId)).toEqual([
      { media_id: c.media.get('x1'), page_id: c.pages[0], beside_media_id: c.media.get('known-a') },
      { media_id: c.media.get('x2'), page_id: c.pages[0], beside_media_id: c.media.get('known-a') },
    ])
    // Asked again (the next batch on the same pages): nothing twice.
    expect(await queueSuspects(handle.db, [...c.media.values()], { jobId: c.jobId })).toBe(0)
  })

  it('over a whole job (what a crawl worker runs): the pages where a confirmed match was seen, and only that job\'s', async () => {
    const c = await crawl([['known-a', 'j1'], ['j2', 'j3'], ['known-b', 'j2']])
    const other = await crawl([['known-a', 'k1']])
    expect(await queueJobSuspects(handle.db, c.jobId)).toBe(2)
    expect((await suspectsOf(c.jobId)).map((x) => x.media_id)).toEqual([c.media.get('j1'), c.media.get('j2')])
    expect(await suspectsOf(other.jobId)).toEqual([])
    expect(await queueJobSuspects(handle.db, c.jobId)).toBe(0)
  })

  it('bounds suspects per page and per job, follows the per-list mode, and queues nothing when off', async () => {
    await handle.db.updateTable('suspect_policy').set({ per_page: 2, per_job: 3 }).execute()
    try {
      const c = await crawl([['known-a', 'a1', 'a2', 'a3'], ['known-b', 'b1', 'b2'], ['known-a', 'c1']])
      expect(await queueSuspects(handle.db, [...c.media.values()], { jobId: c.jobId })).toBe(3)
      const queued = await suspectsOf(c.jobId)
      expect(queued.filter((s) => s.page_id === c.pages[0])).toHaveLength(2)
      expect(queued).toHaveLength(3)
      // The job at its bound: its sweep queues nothing; given room, the rest. (That the sweep then
      // reads nothing is a cost, which only the bench's pg_stat_statements shows.)
      expect(await queueJobSuspects(handle.db, c.jobId)).toBe(0)
      await handle.db.updateTable('suspect_policy').set({ per_page: 10, per_job: 100 }).execute()
      expect(await queueJobSuspects(handle.db, c.jobId)).toBe(3)
      expect(await suspectsOf(c.jobId)).toHaveLength(6)

      await handle.db.updateTable('suspect_policy').set({ per_page: 10, per_job: 100, mode: 'per-list' }).execute()
      const perList = await crawl([['known-a', 'p1']])
      expect(await queueSuspects(handle.db, [...perList.media.values()], { jobId: perList.jobId })).toBe(0)
      await handle.db.updateTable('hash_lists').set({ suspects: true }).where('name', '=', 'known').execute()
      expect(await queueSuspects(handle.db, [...perList.media.values()], { jobId: perList.jobId })).toBe(1)

      await handle.db.updateTable('suspect_policy').set({ mode: 'off' }).execute()
      const off = await crawl([['known-a', 'o1']])
      expect(await queueSuspects(handle.db, [...off.media.values()], { jobId: off.jobId })).toBe(0)
    } finally {
      await handle.db.updateTable('suspect_policy').set({ per_page: 10, per_job: 500, mode: 'on' }).execute()
      await handle.db.updateTable('hash_lists').set({ suspects: false }).where('name', '=', 'known').execute()
    }
    expect(await loadSuspectPolicy(handle.db)).toMatchObject({ mode: 'on', perPage: 10, perJob: 500, twoAnalysts: true, previewsBeforeBreak: 50 })
  })

  it('a pending match anchors nothing until it is confirmed', async () => {
    await handle.db.updateTable('hash_lists').set({ review_mode: 'review-required' }).where('name', '=', 'known').execute()
    try {
      const c = await crawl([['known-c', 'w1']])
      expect(await queueSuspects(handle.db, [...c.media.values()], { jobId: c.jobId })).toBe(0)
      await handle.db.updateTable('matches').set({ status: 'confirmed' }).where('media_id', '=', c.media.get('known-c')!).execute()
      expect(await queueSuspects(handle.db, [c.media.get('known-c')!])).toBe(1)
    } finally {
      await handle.db.updateTable('hash_lists').set({ review_mode: 'verified' }).where('name', '=', 'known').execute()
    }
  })

  it('a classified suspect\'s hashes go into the classification\'s list once, with provenance, and match', async () => {
    const c = await crawl([['known-a', 'z1']])
    await queueSuspects(handle.db, [...c.media.values()], { jobId: c.jobId })
    const suspect = await handle.db.selectFrom('suspects').where('media_id', '=', c.media.get('z1')!).select('id').executeTakeFirstOrThrow()
    const added = await addClassifiedEntries(handle.db, { suspectId: suspect.id, classification: 'harmful-abusive-material', analysts: ['ann', 'ben'] })
    expect(added).toMatchObject({ list: 'classified-harmful-abusive-material', entries: 3 })
    const list = await handle.db.selectFrom('hash_lists').where('id', '=', added.listId).select(['classification']).executeTakeFirstOrThrow()
    expect(list.classification).toBe('harmful-abusive-material')
    const provenance = await handle.db.selectFrom('list_entry_provenance').where('suspect_id', '=', suspect.id).select(['media_id', 'page_url', 'classified_by']).execute()
    expect(provenance).toEqual(Array.from({ length: 3 }, () => ({ media_id: c.media.get('z1'), page_url: `http://127.0.0.1/${c.jobId}/0.html`, classified_by: ['ann', 'ben'] })))
    // Again (a retry after a crash): nothing added twice.
    expect(await addClassifiedEntries(handle.db, { suspectId: suspect.id, classification: 'harmful-abusive-material', analysts: ['ann', 'ben'] })).toMatchObject({ entries: 0 })
    const sha = await handle.db.selectFrom('media').where('id', '=', c.media.get('z1')!).select('sha256').executeTakeFirstOrThrow()
    const [found] = await matcher.match([{ algorithm: 'sha256', hash: Buffer.from(sha.sha256).toString('hex') }])
    expect(found!.map((m) => [m.list, m.externalId, m.classification])).toEqual([['classified-harmful-abusive-material', `suspect:${suspect.id}`, 'harmful-abusive-material']])
  })
})
