import { type Kysely, sql } from 'kysely'
import type { Migration } from 'kysely/migration'

/**
 * A migration made of single SQL statements, run in order. PGlite runs one statement per query
 * through the extended protocol, so statements are never joined.
 */
export function statements(list: readonly string[]): Migration {
  return {
    async up(db: Kysely<any>) {
      for (const statement of list) await sql.raw(statement).execute(db)
    },
  }
}
