/** The web servers' shared state: what must hold across `serve` processes on one database. */
import type { ColumnType } from 'kysely'
import type { CreatedAt } from './column-types.js'

/**
 * One failed (or still being checked) login per row, by account name: the lockout counts them
 * within its window, so it holds across every `serve` process on the database, as sessions do.
 * Rows older than the window are deleted as logins go on.
 */
export interface LoginFailureTable {
  id: ColumnType<string, never, never>
  name: string
  at: CreatedAt
}

/** Login throttling. */
export interface WebTables {
  login_failures: LoginFailureTable
}
