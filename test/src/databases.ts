import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { type ArachnidDatabase, type DialectName, DIALECT_NAMES, openDatabase } from '@arachnid/core'

/** Server used for the real-Postgres half of the suite. Each suite gets its own fresh database on it. */
export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

let probe: Promise<string | undefined> | undefined

/** undefined when Postgres answers, otherwise why not. */
function probePostgres(): Promise<string | undefined> {
  probe ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 })
    try {
      await client.connect()
      await client.query('select 1')
      return undefined
    } catch (error) {
      return (error as Error).message
    } finally {
      await client.end().catch(() => {})
    }
  })()
  return probe
}

/**
 * The dialects this run tests. Postgres is skipped with a warning when unreachable, except under
 * CI=true, where a missing Postgres is a failure.
 */
export async function dialectsUnderTest(): Promise<DialectName[]> {
  const why = await probePostgres()
  if (why === undefined) return [...DIALECT_NAMES]
  if (process.env.CI === 'true') throw new Error(`CI=true but Postgres at ${TEST_POSTGRES_URL} is unreachable: ${why}`)
  console.warn(`[test] Postgres unreachable (${why}); running the PGlite half only`)
  return ['pglite']
}

export interface TestDatabase extends ArachnidDatabase {
  /** The connection string of the fresh database (postgres only). */
  readonly url: string | undefined
}

/** A fresh, migrated database: PGlite in memory, or a new database on the test Postgres server. */
export async function openTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  if (dialect === 'pglite') {
    const handle = await openDatabase({})
    return { ...handle, url: undefined }
  }
  const name = `arachnid_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL })
  await admin.connect()
  try {
    await admin.query(`create database ${name}`)
  } finally {
    await admin.end()
  }
  const url = new URL(TEST_POSTGRES_URL)
  url.pathname = `/${name}`
  const handle = await openDatabase({ databaseUrl: url.toString(), poolSize: 5 })
  return {
    ...handle,
    url: url.toString(),
    async close() {
      await handle.close()
      const dropper = new pg.Client({ connectionString: TEST_POSTGRES_URL })
      await dropper.connect()
      try {
        await dropper.query(`drop database if exists ${name} with (force)`)
      } finally {
        await dropper.end()
      }
    },
  }
}
