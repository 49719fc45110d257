import { type Database, type Kysely, SETTINGS, type Transaction, sql, withDefaults } from '@arachnid/core'
import { type NoticeIncident, type NoticeMatch, type Reporter, noticeKey, referenceFor } from './compose-notice.js'
import { type NoticeMailContext, enqueueNoticeEmail } from './notice-mail.js'
import type { Provider } from './provider-directory.js'
import { type ProviderLookup, recordLookup } from './provider-resolver.js'

/** A matched media URL to notify about (the crawler's MatchedMedia has this shape). */
export interface NoticeRequest {
  readonly mediaId: number
  /** The crawl job that found it (recorded with the notice, so the job's figures count it once). */
  readonly jobId?: number | null
  readonly url: string
  readonly finalUrl: string
  readonly pageUrls: readonly string[]
  readonly serverIp: string | null
  readonly detectedAt: Date
  readonly hashes: NoticeIncident['hashes']
  readonly matches: readonly NoticeMatch[]
}

export interface CreateNoticesResult {
  /** Notices created now (a URL already noticed is not noticed again). */
  readonly created: number
  /** Of those, how many had no provider yet and wait in the unassigned list. */
  readonly unassigned: number
  /** Of those, how many are the same content again at a provider that had removed it. */
  readonly reuploads: number
  readonly references: readonly string[]
}

export interface CreateNoticesOptions {
  /** Acknowledgement links and templates for the emails. */
  readonly ack?: NoticeMailContext['ack']
  readonly templates?: NoticeMailContext['templates']
  /** Seconds until the first recheck. Default: ARACHNID_RECHECK_INTERVAL's default (86400). */
  readonly recheckIntervalSeconds?: number
  /** Seconds before an unassigned host is tried again (doubling). Default 300. */
  readonly retryBaseSeconds?: number
}

/** The defaults: the recheck interval is a setting (the CLI passes the configured value); the retry base is the notifier's own. */
export const DEFAULT_CREATE_OPTIONS = { recheckIntervalSeconds: SETTINGS.recheckIntervalSeconds.default, retryBaseSeconds: 300 } as const

/**
 * The notice key for a URL: the URL itself the first time; after a removal, the same URL serving
 * the material again is a new notice whose key names the removed one (so it too is created once).
 */
async function keyFor(db: Kysely<Database>, request: NoticeRequest): Promise<string | undefined> {
  const latest = await db.selectFrom('notices').select(['id', 'status', 'removed_at']).where('media_url', '=', request.url).orderBy('id', 'desc').limit(1).executeTakeFirst()
  if (!latest) return noticeKey(request.url)
  if (latest.status === 'removed' && latest.removed_at && request.detectedAt > latest.removed_at) return `${noticeKey(request.url)}:after:${latest.id}`
  return undefined
}

/**
 * Flags a notice as a re-upload when the same content (same media row, i.e. same sha256) was
 * removed at the same provider before. Runs when the notice gets its provider.
 */
export async function flagReupload(trx: Transaction<Database>, noticeId: number, mediaId: number, providerId: number): Promise<boolean> {
  const earlier = await trx.selectFrom('notices').select(['id', 'reference']).where('media_id', '=', mediaId).where('provider_id', '=', providerId)
    .where('status', '=', 'removed').where('id', '<>', noticeId).orderBy('removed_at', 'desc').limit(1).executeTakeFirst()
  if (!earlier) return false
  await trx.updateTable('notices').set({ reupload_of: earlier.id }).where('id', '=', noticeId).execute()
  await trx.insertInto('notice_events').values({ notice_id: noticeId, kind: 'reupload', detail: JSON.stringify({ of: earlier.reference }) }).execute()
  return true
}

/**
 * Creates one notice per matched media URL and, in the same transaction, its email in the outbox
 * (when a provider is known; otherwise the host joins the unassigned list and the worker retries
 * it). The notice's idempotency key is derived from the URL, so a second crawl of the same URL, or
 * a retry after a crash, creates nothing new.
 */
export async function createNotices(
  db: Kysely<Database>,
  lookup: ProviderLookup,
  requests: readonly NoticeRequest[],
  reporter: Reporter,
  options: CreateNoticesOptions = {},
): Promise<CreateNoticesResult> {
  const o = withDefaults(DEFAULT_CREATE_OPTIONS, options)
  const context: NoticeMailContext = { reporter, ack: o.ack, templates: o.templates }
  let created = 0
  let unassigned = 0
  let reuploads = 0
  const references: string[] = []
  for (const request of requests) {
    const key = await keyFor(db, request)
    if (key === undefined) continue
    const reference = referenceFor(key)
    const host = new URL(request.finalUrl).hostname
    let provider: Provider | undefined
    let lookupError: unknown
    try {
      provider = await lookup.resolve(host, request.serverIp)
    } catch (error) {
      lookupError = error
    }
    const incident: NoticeIncident = {
      reference, mediaUrl: request.url, finalUrl: request.finalUrl, pageUrls: request.pageUrls,
      serverIp: request.serverIp, detectedAt: request.detectedAt,
      hashes: { sha256: request.hashes.sha256, md5: request.hashes.md5, sha1: request.hashes.sha1, blockhash: request.hashes.blockhash, pdq: request.hashes.pdq },
      matches: request.matches.map((m) => ({
        list: m.list, algorithm: m.algorithm, distance: m.distance, category: m.category, externalId: m.externalId,
        // Where in a video the match lies, so every reminder says it too.
        ...(m.timestamps && m.timestamps.length > 0 ? { timestamps: [...m.timestamps] } : {}), ...(m.share === undefined ? {} : { share: m.share }),
      })),
    }
    const outcome = await db.transaction().execute(async (trx) => {
      const notice = await trx.insertInto('notices').values({
        reference, media_url: request.url, media_id: request.mediaId, job_id: request.jobId ?? null, provider_id: provider?.id ?? null,
        status: 'open', idempotency_key: key, detected_at: request.detectedAt, host, incident: JSON.stringify(incident),
        next_check_at: sql<Date>`now() + make_interval(secs => ${o.recheckIntervalSeconds})` as never,
      }).onConflict((oc) => oc.column('idempotency_key').doNothing()).returning(['id', 'reference', 'idempotency_key', 'incident']).executeTakeFirst()
      if (notice === undefined) return undefined
      await trx.insertInto('notice_events').values({ notice_id: notice.id, kind: 'created', detail: JSON.stringify({ url: request.url, provider: provider?.name ?? null }) }).execute()
      if (provider === undefined) return { reupload: false }
      await enqueueNoticeEmail(trx, notice, provider, context, { kind: 'notice', sequence: 1 })
      return { reupload: await flagReupload(trx, notice.id, request.mediaId, provider.id) }
    })
    if (outcome === undefined) continue
    created++
    references.push(reference)
    if (outcome.reupload) reuploads++
    if (provider === undefined) {
      unassigned++
      // The directory alone not naming a provider is no failed lookup: the notifier's full lookup
      // (DNS, RDAP) takes the host on its next pass instead of after a retry delay.
      const notAsked = lookupError === undefined && lookup.asksRdap === false
      await recordLookup(db, host, notAsked ? { notAsked: true } : { error: lookupError }, o.retryBaseSeconds)
    }
  }
  return { created, unassigned, reuploads, references }
}

export interface NoticeListing {
  readonly reference: string
  readonly mediaUrl: string
  readonly provider: string | null
  readonly to: string | null
  readonly status: string
  readonly delivery: string | null
  readonly detectedAt: Date
  readonly sentAt: Date | null
  readonly reminders: number
  readonly escalations: number
  readonly ack: string | null
  readonly removedAt: Date | null
  readonly reupload: boolean
}

/** Notices with their provider and delivery state, newest first. */
export async function listNotices(db: Kysely<Database>, options: { open?: boolean; limit?: number } = {}): Promise<NoticeListing[]> {
  let query = db.selectFrom('notices as n')
    .leftJoin('providers as p', 'p.id', 'n.provider_id')
    .leftJoin('outbox as o', (join) => join.onRef('o.notice_id', '=', 'n.id').on('o.kind', '=', 'notice'))
    .select(['n.reference', 'n.media_url', 'p.name', 'o.to_address', 'n.status', 'o.status as delivery', 'n.detected_at', 'o.sent_at',
      'n.reminders', 'n.escalations', 'n.ack_status', 'n.removed_at', 'n.reupload_of'])
    .orderBy('n.id', 'desc').limit(options.limit ?? 1000)
  if (options.open) query = query.where('n.status', '=', 'open')
  const rows = await query.execute()
  return rows.map((r) => ({
    reference: r.reference, mediaUrl: r.media_url, provider: r.name, to: r.to_address, status: r.status,
    delivery: r.delivery, detectedAt: r.detected_at, sentAt: r.sent_at, reminders: r.reminders, escalations: r.escalations,
    ack: r.ack_status, removedAt: r.removed_at, reupload: r.reupload_of !== null,
  }))
}
