import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decideStatus, DEFAULT_REVIEW_POLICY, importList, listLists, Matcher, notifiableMedia, recordMatches } from '@arachnid/matcher'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/** Benign synthetic hashes: a digest of a seed string. */
const sha256 = (seed: string) => createHash('sha256').update(seed).digest('hex')

describe.each(dialects)('ignore lists on %s', (dialect) => {
  let handle: TestDatabase
  beforeAll(async () => { handle = await openTestDatabase(dialect) })
  afterAll(async () => { await handle?.close() })

  const newMedia = async () => (await handle.db.insertInto('media')
    .values({ sha256: randomBytes(32), md5: randomBytes(16), sha1: randomBytes(20), bytes: 1 })
    .returning('id').executeTakeFirstOrThrow()).id

  it('records a media matching a known list and an ignore list as suppressed, audited and not notifiable; unflagged, the next media matches normally', async () => {
    const stock = sha256('stock-image')
    const known = sha256('known-entry')
    await importList(handle.db, { name: 'known', lines: ['algorithm,hash', `sha256,${stock}`, `sha256,${known}`] })
    await importList(handle.db, { name: 'stock-photos', lines: ['algorithm,hash', `sha256,${stock}`] })
    await handle.db.updateTable('hash_lists').set({ ignore: true }).where('name', '=', 'stock-photos').execute()
    expect((await listLists(handle.db)).find((l) => l.name === 'stock-photos')?.ignore).toBe(true)

    const matcher = new Matcher(handle.db)
    try {
      // The matcher matches the ignore list like any other, and says which match is the ignore list's.
      const [found, plain] = await matcher.match([{ algorithm: 'sha256', hash: stock }, { algorithm: 'sha256', hash: known }])
      expect(found!.map((m) => [m.list, m.ignore === true]).sort()).toEqual([['known', false], ['stock-photos', true]])
      expect(plain!.every((m) => m.ignore === undefined)).toBe(true)

      const media = await newMedia()
      const recorded = await recordMatches(handle.db, [{ mediaId: media, jobId: null, matches: found! }])
      expect(recorded).toHaveLength(2)
      for (const r of recorded) expect(r).toMatchObject({ status: 'rejected', reason: 'ignored', suppressedBy: 'stock-photos' })
      const rows = await handle.db.selectFrom('matches').where('media_id', '=', media).select(['status', 'review_reason', 'suppressed_by']).execute()
      expect(rows).toEqual([
        { status: 'rejected', review_reason: 'ignored', suppressed_by: 'stock-photos' },
        { status: 'rejected', review_reason: 'ignored', suppressed_by: 'stock-photos' },
      ])
      // No notice: the notifier's intake notices only what notifiableMedia returns; no review queue (nothing pending).
      expect(await notifiableMedia(handle.db, [media])).toEqual(new Set())
      const audit = await handle.db.selectFrom('audit_log').where('subject', '=', `media:${media}`).selectAll().execute()
      expect(audit).toHaveLength(1)
      expect(audit[0]).toMatchObject({ actor: 'matcher', action: 'ignore-suppressed', actor_id: null })
      expect((audit[0]!.detail as { ignoreList: string; matches: unknown[] })).toMatchObject({ ignoreList: 'stock-photos' })
      expect((audit[0]!.detail as { matches: unknown[] }).matches).toHaveLength(2)

      // An ordinary match of another media in the same batch is not touched.
      const other = await newMedia()
      const both = await recordMatches(handle.db, [{ mediaId: other, jobId: null, matches: plain! }])
      expect(both).toHaveLength(1)
      expect(both[0]).toMatchObject({ status: 'auto-confirmed', reason: 'exact' })
      expect(both[0]!.suppressedBy).toBeUndefined()

      // The flag removed: the next media matching the same hash is recorded normally and notifiable.
      await handle.db.updateTable('hash_lists').set({ ignore: false }).where('name', '=', 'stock-photos').execute()
      const [again] = await matcher.match([{ algorithm: 'sha256', hash: stock }])
      expect(again!.some((m) => m.ignore)).toBe(false)
      const next = await newMedia()
      const normal = await recordMatches(handle.db, [{ mediaId: next, jobId: null, matches: again! }])
      expect(normal.map((r) => r.status)).toEqual(['auto-confirmed', 'auto-confirmed'])
      expect(await notifiableMedia(handle.db, [next, media])).toEqual(new Set([next]))
    } finally {
      await matcher.close()
    }
  })

  it('decideStatus rejects an ignored match before anything else', () => {
    const match = { knownHashId: 1, listId: 1, list: 'l', listVersion: 1, algorithm: 'sha256' as const, hash: sha256('x'), distance: 0, category: null, externalId: null }
    expect(decideStatus(match, { policy: DEFAULT_REVIEW_POLICY, listMode: 'verified', mediaQuality: 100, entryQuality: null, suppressed: false, ignoredBy: 'stock' }))
      .toEqual({ status: 'rejected', reason: 'ignored' })
    expect(decideStatus(match, { policy: DEFAULT_REVIEW_POLICY, listMode: 'verified', mediaQuality: 100, entryQuality: null, suppressed: false }))
      .toEqual({ status: 'auto-confirmed', reason: 'exact' })
  })
})
