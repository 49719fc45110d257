import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { noticeStats, percentile, setProviderRule } from '@arachnid/notifier'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

describe('percentile', () => {
  it('interpolates between closest ranks, as percentile_cont does', () => {
    expect(percentile([], 0.5)).toBeNull()
    expect(percentile([5], 0.9)).toBe(5)
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5)
    expect(percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9)).toBe(91)
  })
})

describe.each(dialects)('removal statistics on %s', (dialect) => {
  let handle: TestDatabase
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    const media = await handle.db.insertInto('media').values({ sha256: Buffer.alloc(32, 9), md5: Buffer.alloc(16), sha1: Buffer.alloc(20), bytes: 1 }).returning('id').executeTakeFirstOrThrow()
    const fast = (await setProviderRule(handle.db, { pattern: 'fast.test', name: 'Fast Host', abuseEmail: 'abuse@fast.test' })).providerId
    const slow = (await setProviderRule(handle.db, { pattern: 'slow.test', name: 'Slow Host', abuseEmail: 'abuse@slow.test' })).providerId
    const t0 = new Date('2026-11-01T00:00:00Z').getTime()
    const hours = (h: number) => new Date(t0 + h * 3_600_000)
    // [provider, hours from first notice sent to removal (null: open), re-upload]
    const plan: [number | null, number | null, boolean][] = [
      [fast, 2, false], [fast, 10, false], [fast, 30, false], [fast, null, false], [fast, 4, true],
      [slow, 80, false], [slow, null, false], [slow, null, false], [null, null, false],
    ]
    let i = 0
    let first: number | undefined
    for (const [provider, removedAfter, reupload] of plan) {
      i++
      const notice = await handle.db.insertInto('notices').values({
        reference: `ARN-STATS-${String(i).padStart(5, '0')}`, media_url: `http://x.test/${i}.jpg`, media_id: media.id, provider_id: provider,
        status: removedAfter === null ? 'open' : 'removed', idempotency_key: `k${i}`, detected_at: hours(-1), created_at: hours(-1),
        removed_at: removedAfter === null ? null : hours(removedAfter), reupload_of: reupload ? first ?? null : null,
      }).returning('id').executeTakeFirstOrThrow()
      first ??= notice.id
      if (provider !== null) {
        await handle.db.insertInto('outbox').values({
          notice_id: notice.id, idempotency_key: `k${i}:notice:1`, kind: 'notice', to_address: 'a@b.test', subject: 's', text_body: 't', html_body: 'h',
          status: 'sent', message_id: `<m${i}@x>`, sent_at: hours(0),
        }).execute()
      }
    }
  })
  afterAll(async () => {
    await handle?.close()
  })

  it('measures time to removal from the first notice, per provider and overall', async () => {
    const stats = await noticeStats(handle.db)
    expect(stats.providers.map((p) => p.provider)).toEqual(['(unassigned)', 'Fast Host', 'Slow Host'])
    expect(stats.providers[1]).toEqual({
      provider: 'Fast Host', notices: 5, removed: 4, open: 1, medianHoursToRemoval: 7, p90HoursToRemoval: 24.0,
      removedWithin24h: 0.6, removedWithin72h: 0.8, reuploads: 1,
    })
    expect(stats.providers[2]).toMatchObject({ notices: 3, removed: 1, open: 2, medianHoursToRemoval: 80, removedWithin24h: 0, removedWithin72h: 0 })
    expect(stats.providers[0]).toMatchObject({ notices: 1, removed: 0, open: 1, medianHoursToRemoval: null })
    // Overall: removal hours 2, 4, 10, 30, 80 over 9 notices.
    expect(stats.overall).toEqual({
      provider: '(all)', notices: 9, removed: 5, open: 4, medianHoursToRemoval: 10, p90HoursToRemoval: 60,
      removedWithin24h: 0.333, removedWithin72h: 0.444, reuploads: 1,
    })
  })
})
