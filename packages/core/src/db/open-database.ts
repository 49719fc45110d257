import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely'
import pg from 'pg'
import { CriticalError } from '../errors.js'
import { type CopyFrom, poolCopyFrom } from './copy-from.js'
import { lockDataDir } from './data-dir-lock.js'
import { migrateToLatest } from './migrations.js'
import type { Database } from './schema/index.js'

export const DIALECT_NAMES = ['pglite', 'postgres'] as const
export type DialectName = (typeof DIALECT_NAMES)[number]

export interface OpenDatabaseOptions {
  /** Postgres connection string; when empty the embedded PGlite database is used. */
  readonly databaseUrl?: string
  /** Folder of the embedded database (PGlite `dataDir`). Default: in memory. */
  readonly dataDir?: string
  /** Largest pool size for node-postgres. Default 10. */
  readonly poolSize?: number
  /** Apply pending migrations on open. Default true. */
  readonly migrate?: boolean
}

/** The database handle's own defaults. */
export const DEFAULT_DATABASE_OPTIONS = { poolSize: 10, migrate: true } as const

export interface ArachnidDatabase {
  readonly db: Kysely<Database>
  readonly dialect: DialectName
  /** Bulk loading with COPY FROM STDIN (Postgres only; PGlite loads through batched INSERTs). */
  readonly copyFrom?: CopyFrom
  /** The embedded database itself (PGlite only), for what must share its one connection (pg-boss). */
  readonly pglite?: PGlite
  /** Closes the connections this handle opened (never an injected client). */
  close(): Promise<void>
}

/**
 * The embedded database's buffer cache. Postgres in WASM initialises all of it at every start: at
 * PGlite's 128MB a start cost 1.3-1.75 s of CPU, at 32MB 0.95-1.0 s, and every `pnpm arachnid`
 * command on the embedded database pays it. The data files are real files read through the
 * kernel's page cache, so a smaller cache here costs little: the demo crawl took 28.4-30.0 s of
 * CPU at 32MB against 27.8-29.7 at 128MB.
 */
const EMBEDDED_SHARED_BUFFERS = '32MB'

/**
 * Opens the database: node-postgres when a URL is given, otherwise PGlite (Postgres in WASM,
 * one connection, data in a folder). Migrations are applied before it is returned.
 *
 * @example
 * const { db, close } = await openDatabase({ dataDir: '.arachnid/db' })
 */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<ArachnidDatabase> {
  let db: Kysely<Database>
  let dialect: DialectName
  let pglite: PGlite | undefined
  let copy: CopyFrom | undefined
  let unlock: (() => Promise<void>) | undefined
  if (options.databaseUrl) {
    dialect = 'postgres'
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? DEFAULT_DATABASE_OPTIONS.poolSize })
    copy = poolCopyFrom(pool)
    // An idle client's error (server restart) must not crash the process; the next query reports it.
    pool.on('error', () => {})
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  } else {
    dialect = 'pglite'
    if (options.dataDir) {
      await mkdir(path.dirname(path.resolve(options.dataDir)), { recursive: true })
      unlock = await lockDataDir(path.resolve(options.dataDir))
    }
    const startParams = [...PGlite.defaultStartParams, '-c', `shared_buffers=${EMBEDDED_SHARED_BUFFERS}`]
    pglite = options.dataDir ? new PGlite(options.dataDir, { startParams }) : new PGlite({ startParams })
    db = new Kysely<Database>({ dialect: new PGliteDialect({ pglite }) })
  }
  try {
    if (options.migrate ?? DEFAULT_DATABASE_OPTIONS.migrate) await migrateToLatest(db)
  } catch (error) {
    await db.destroy().catch(() => {})
    await unlock?.()
    if (error instanceof CriticalError) throw error
    const where = dialect === 'postgres' ? redactUrl(options.databaseUrl ?? '') : `PGlite ${options.dataDir ?? '(memory)'}`
    throw new CriticalError('DATABASE_UNAVAILABLE', `cannot open the database (${where}): ${(error as Error).message}`, { cause: error })
  }
  return {
    db, dialect, ...(pglite ? { pglite } : {}), ...(copy ? { copyFrom: copy } : {}),
    async close() {
      await db.destroy()
      await unlock?.()
    },
  }
}

/** A connection string without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparseable DATABASE_URL)'
  }
}
