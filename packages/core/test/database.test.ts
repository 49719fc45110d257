import { describe, expect, it } from 'vitest'
import { MIGRATIONS, migrateToLatest, sql } from '@arachnid/core'
import { dialectsUnderTest, openTestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

describe.each(dialects)('database on %s', (dialect) => {
  it('applies every migration once and again without change', async () => {
    const handle = await openTestDatabase(dialect)
    try {
      expect(handle.dialect).toBe(dialect)
      // openDatabase migrated already: a second run has nothing to do.
      expect(await migrateToLatest(handle.db)).toEqual([])
      const tables = await sql<{ table_name: string }>`
        select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(handle.db)
      const names = tables.rows.map((r) => r.table_name)
      for (const table of ['crawl_jobs', 'pages', 'media', 'media_fetches', 'sightings', 'hash_lists', 'hash_list_versions',
        'known_hashes', 'matches', 'providers', 'provider_rules', 'notices', 'outbox']) {
        expect(names).toContain(table)
      }
      const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(handle.db)
      expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(MIGRATIONS).sort())
    } finally {
      await handle.close()
    }
  })

  it('stores hashes as bytea and reads them back as bytes', async () => {
    const handle = await openTestDatabase(dialect)
    try {
      const sha256 = new Uint8Array(32).map((_, i) => i)
      const inserted = await handle.db.insertInto('media')
        .values({ sha256, md5: new Uint8Array(16), sha1: new Uint8Array(20), bytes: 10 })
        .returning(['id', 'sha256']).executeTakeFirstOrThrow()
      expect(Buffer.from(inserted.sha256).toString('hex')).toBe(Buffer.from(sha256).toString('hex'))
      // The unique sha256 is what makes "one row per content" hold.
      await expect(handle.db.insertInto('media').values({ sha256, md5: new Uint8Array(16), sha1: new Uint8Array(20), bytes: 10 }).execute())
        .rejects.toThrow()
    } finally {
      await handle.close()
    }
  })
})

describe('the embedded database', () => {
  it('starts with a 32MB buffer cache (at 128MB every command paid about 0.5 s more to initialise it)', async () => {
    const handle = await openTestDatabase('pglite')
    try {
      const { rows } = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(handle.db)
      expect(rows[0]?.shared_buffers).toBe('32MB')
      // PGlite's own start parameters are kept: one of them, for example.
      const { rows: path } = await sql<{ search_path: string }>`show search_path`.execute(handle.db)
      expect(path[0]?.search_path).toBe('public')
    } finally {
      await handle.close()
    }
  })
})
