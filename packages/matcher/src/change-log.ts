import type { Insertable } from 'kysely'
import { type Database, type HashListChangeTable, type Transaction, sql } from '@arachnid/core'

/** Advisory lock key every change-log writer takes, so change ids are handed out in commit order. */
export const CHANGE_LOG_LOCK = 0x4152_4348

/**
 * Appends changes to the log. Must be the last statement of the transaction: the advisory lock is
 * held until commit, so a reader that sees change N has also seen every change below N (ids from an
 * identity column alone could commit out of order and a poller would skip the late one).
 */
export async function recordChanges(trx: Transaction<Database>, changes: readonly Insertable<HashListChangeTable>[]): Promise<void> {
  if (changes.length === 0) return
  await sql`select pg_advisory_xact_lock(${CHANGE_LOG_LOCK})`.execute(trx)
  await trx.insertInto('hash_list_changes').values([...changes]).execute()
}
