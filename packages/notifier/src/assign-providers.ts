import { type Database, type Kysely, type Logger, sql, withDefaults } from '@arachnid/core'
import { DEFAULT_CREATE_OPTIONS, flagReupload } from './create-notices.js'
import { type NoticeMailContext, enqueueNoticeEmail } from './notice-mail.js'
import { type ProviderResolver, recordLookup } from './provider-resolver.js'

export interface AssignResult {
  /** Hosts tried in this pass. */
  hosts: number
  /** Notices that got a provider (and their first email queued). */
  assigned: number
  /** Hosts still without a provider. */
  unassigned: number
}

export interface AssignProvidersOptions {
  /** Seconds before a host still unresolved is tried again (doubling). Default: as for new notices (DEFAULT_CREATE_OPTIONS). */
  readonly retryBaseSeconds?: number
  /** Hosts tried per pass. Default 500. */
  readonly limit?: number
  readonly logger?: Logger
}

export const DEFAULT_ASSIGN_OPTIONS = { retryBaseSeconds: DEFAULT_CREATE_OPTIONS.retryBaseSeconds, limit: 500 } as const

/**
 * Retries the unassigned list: for each host with open notices and no provider whose retry time
 * has come, asks the resolver again; on success the notices get their provider and their first
 * email, in one transaction each.
 */
export async function assignProviders(
  db: Kysely<Database>,
  resolver: ProviderResolver,
  mail: NoticeMailContext,
  options: AssignProvidersOptions = {},
): Promise<AssignResult> {
  const o = withDefaults(DEFAULT_ASSIGN_OPTIONS, options)
  const result: AssignResult = { hosts: 0, assigned: 0, unassigned: 0 }
  await resolver.reload()
  const hosts = await db.selectFrom('notices as n')
    .leftJoin('provider_lookups as l', 'l.host', 'n.host')
    .where('n.provider_id', 'is', null).where('n.status', '=', 'open').where('n.host', 'is not', null)
    .where((eb) => eb.or([eb('l.host', 'is', null), eb('l.status', '=', 'resolved'), eb('l.next_attempt_at', '<=', sql<Date>`now()`)]))
    .select(['n.host', sql<string | null>`min(n.incident->>'serverIp')`.as('server_ip')]).groupBy('n.host').orderBy('n.host').limit(o.limit).execute()
  for (const { host, server_ip: serverIp } of hosts) {
    if (host === null) continue
    result.hosts++
    let provider
    try {
      provider = await resolver.resolve(host, serverIp)
    } catch (error) {
      await recordLookup(db, host, { error }, o.retryBaseSeconds)
      options.logger?.warn({ host, error: (error as Error).message }, 'provider lookup failed; host stays unassigned')
      result.unassigned++
      continue
    }
    if (!provider) {
      await recordLookup(db, host, { error: undefined }, o.retryBaseSeconds)
      result.unassigned++
      continue
    }
    await recordLookup(db, host, { providerId: provider.id, addresses: provider.addresses }, o.retryBaseSeconds)
    const notices = await db.selectFrom('notices').select(['id', 'reference', 'idempotency_key', 'incident', 'media_id'])
      .where('host', '=', host).where('provider_id', 'is', null).where('status', '=', 'open').execute()
    for (const notice of notices) {
      const done = await db.transaction().execute(async (trx) => {
        const claimed = await trx.updateTable('notices').set({ provider_id: provider.id }).where('id', '=', notice.id).where('provider_id', 'is', null).returning('id').executeTakeFirst()
        if (!claimed) return false
        await trx.insertInto('notice_events').values({ notice_id: notice.id, kind: 'assigned', detail: JSON.stringify({ provider: provider.name, to: provider.abuseEmail, via: provider.matchedBy }) }).execute()
        await enqueueNoticeEmail(trx, notice, provider, mail, { kind: 'notice', sequence: 1 })
        await flagReupload(trx, notice.id, notice.media_id, provider.id)
        return true
      })
      if (done) result.assigned++
    }
  }
  return result
}
