import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from '@arachnid/core'
import { importList, Matcher } from '@arachnid/matcher'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

const h256 = (s: string) => createHash('sha256').update(s).digest('hex')

describe.each(dialects)('change-log follower on %s', (dialect) => {
  let handle: TestDatabase
  beforeAll(async () => { handle = await openTestDatabase(dialect) })
  afterAll(async () => { await handle?.close() })

  const head = async () => {
    const row = await handle.db.selectFrom('hash_list_changes').select((eb) => eb.fn.max('id').as('id')).executeTakeFirstOrThrow()
    return String(row.id)
  }

  /**
   * Changes the matcher reads and skips: activations of a version already superseded and additions
   * to it, as a poller finds them after two imports of one list in quick succession.
   */
  async function skippedChanges(listId: number, versionId: number, count: number): Promise<void> {
    await sql`insert into hash_list_changes (list_id, version_id, kind, first_id, last_id)
      select ${listId}::int, ${versionId}::int, case when n % 2 = 0 then 'activate' else 'add' end,
        case when n % 2 = 0 then null else v.first_id end, case when n % 2 = 0 then null else v.last_id end
      from generate_series(1, ${count}::int) as n, hash_list_versions v where v.id = ${versionId}::int`.execute(handle.db)
  }

  it('reads past 1,500 changes it skips, applies the change after them, and never reads a skipped one again', async () => {
    const first = await importList(handle.db, { name: 'followed', lines: ['algorithm,hash', `pdq,${h256('v1')}`] })
    await importList(handle.db, { name: 'followed', lines: ['algorithm,hash', `pdq,${h256('v2')}`] })
    const v1 = await handle.db.selectFrom('hash_list_versions').where('list_id', '=', first.listId).where('version', '=', 1)
      .select('id').executeTakeFirstOrThrow()
    const matcher = new Matcher(handle.db, { refreshIntervalMs: 0 })
    await matcher.refresh()
    expect(matcher.stats().changeId).toBe(await head())

    // Skipped changes last in the log: the cursor still moves past them, so the next poll does not read them again.
    await skippedChanges(first.listId, v1.id, 10)
    await matcher.refresh()
    expect(matcher.stats().changeId).toBe(await head())

    // More than one page (1,000) of skipped changes, then one that matters.
    await skippedChanges(first.listId, v1.id, 1500)
    await importList(handle.db, { name: 'followed', mode: 'append', lines: ['algorithm,hash', `pdq,${h256('appended')}`] })
    await matcher.refresh()
    expect(matcher.stats().changeId).toBe(await head())
    const [appended, current, superseded] = await matcher.match([
      { algorithm: 'pdq', hash: h256('appended') }, { algorithm: 'pdq', hash: h256('v2') }, { algorithm: 'pdq', hash: h256('v1') },
    ])
    expect(appended).toEqual([expect.objectContaining({ list: 'followed', listVersion: 2, distance: 0 })])
    expect(current).toHaveLength(1)
    expect(superseded).toEqual([])
    // The appended row came in as a delta, not by loading the version again.
    expect(matcher.stats().versionLoads).toBe(1)
    expect(matcher.stats().entries.pdq).toBe(2)
  }, 120_000)
})
