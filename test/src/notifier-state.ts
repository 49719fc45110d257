import type { Database, Kysely } from '@arachnid/core'

/**
 * Empties what the notifier writes as it works: notices (and, by cascade, their outbox emails,
 * events and disputes) and the host lookups. With `rdapCache`, also the cached RDAP answers and
 * the providers RDAP named (rows no directory rule points at). Directory rules, media and lists
 * stay. For a `beforeEach`, so a test sees only what it made, whichever tests ran before it.
 */
export async function clearNotifierState(db: Kysely<Database>, options: { readonly rdapCache?: boolean } = {}): Promise<void> {
  await db.deleteFrom('notices').execute()
  await db.deleteFrom('provider_lookups').execute()
  if (options.rdapCache) {
    await db.deleteFrom('rdap_cache').execute()
    await db.deleteFrom('providers').where('id', 'not in', db.selectFrom('provider_rules').select('provider_id')).execute()
  }
}
