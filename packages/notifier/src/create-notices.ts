import { type Database, type Kysely, SETTINGS, type Transaction, sql, withDefaults } from '@arachnid/core'
import { type NoticeIncident, type NoticeMatch, type Reporter, noticeKey, referenceFor } from './compose-notice.js'
import { type NoticeEmail, type NoticeMailContext, composeNoticeEmail, queuedDetail } from './notice-mail.js'
import type { Provider } from './provider-directory.js'
import { type ProviderLookup, recordLookup, recordNotAsked } from './provider-resolver.js'

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
 * The notice key of each request, in one query for all their URLs: the URL itself the first time;
 * after a removal, the same URL serving the material again is a new notice whose key names the
 * removed one (so it too is created once); undefined while the URL's latest notice stands.
 */
async function keysFor(db: Kysely<Database>, requests: readonly NoticeRequest[]): Promise<(string | undefined)[]> {
  const latest = await db.selectFrom('notices').select(['id', 'media_url', 'status', 'removed_at'])
    .where('id', 'in', (eb) => eb.selectFrom('notices').where('media_url', 'in', [...new Set(requests.map((r) => r.url))]).groupBy('media_url').select((e) => e.fn.max('id').as('id')))
    .execute()
  const byUrl = new Map(latest.map((n) => [n.media_url, n]))
  return requests.map((request) => {
    const notice = byUrl.get(request.url)
    if (!notice) return noticeKey(request.url)
    if (notice.status === 'removed' && notice.removed_at && request.detectedAt > notice.removed_at) return `${noticeKey(request.url)}:after:${notice.id}`
    return undefined
  })
}

/**
 * Flags a notice as a re-upload when the same content (same media row, i.e. same sha256) was
 * removed at the same provider before. Runs when the notice gets its provider (createNotices does
 * the same within its insert).
 */
export async function flagReupload(trx: Transaction<Database>, noticeId: number, mediaId: number, providerId: number): Promise<boolean> {
  const earlier = await trx.selectFrom('notices').select(['id', 'reference']).where('media_id', '=', mediaId).where('provider_id', '=', providerId)
    .where('status', '=', 'removed').where('id', '<>', noticeId).orderBy('removed_at', 'desc').limit(1).executeTakeFirst()
  if (!earlier) return false
  await trx.updateTable('notices').set({ reupload_of: earlier.id }).where('id', '=', noticeId).execute()
  await trx.insertInto('notice_events').values({ notice_id: noticeId, kind: 'reupload', detail: JSON.stringify({ of: earlier.reference }) }).execute()
  return true
}

/** A notice about to be inserted, with everything its statement needs. */
interface PlannedNotice {
  readonly request: NoticeRequest
  readonly key: string
  readonly reference: string
  readonly host: string
  readonly provider: Provider | undefined
  readonly lookupError: unknown
  readonly incident: NoticeIncident
  readonly email: NoticeEmail | undefined
}

/**
 * Creates one notice per matched media URL and, with it, its email in the outbox (when a provider
 * is known; otherwise the host joins the unassigned list and the worker retries it). The notice's
 * idempotency key is derived from the URL, so a second crawl of the same URL, or a retry after a
 * crash, creates nothing new; of several requests for one URL, the first is noticed.
 *
 * A constant number of statements for the whole batch (a crawl's media batch had about eight per
 * notice): the keys in one query; the notices, their events, their emails and re-upload flags in
 * one statement (atomic as the transaction per notice was); the unassigned hosts in one more.
 */
export async function createNotices(
  db: Kysely<Database>,
  lookup: ProviderLookup,
  requests: readonly NoticeRequest[],
  reporter: Reporter,
  options: CreateNoticesOptions = {},
): Promise<CreateNoticesResult> {
  if (requests.length === 0) return { created: 0, unassigned: 0, reuploads: 0, references: [] }
  const o = withDefaults(DEFAULT_CREATE_OPTIONS, options)
  const context: NoticeMailContext = { reporter, ack: o.ack, templates: o.templates }
  const keys = await keysFor(db, requests)
  const planned: PlannedNotice[] = []
  // One after the other, a URL's second request would find the first one's notice standing.
  const urls = new Set<string>()
  for (const [i, request] of requests.entries()) {
    const key = keys[i]
    if (key === undefined || urls.has(request.url)) continue
    urls.add(request.url)
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
    // The email is made from the incident as it will be stored (JSON), as a later email about it is.
    const email = provider === undefined ? undefined
      : composeNoticeEmail({ reference, idempotency_key: key, incident: JSON.parse(JSON.stringify(incident)) as Record<string, unknown> }, provider, context, FIRST_EMAIL)
    planned.push({ request, key, reference, host, provider, lookupError, incident, email })
  }
  if (planned.length === 0) return { created: 0, unassigned: 0, reuploads: 0, references: [] }
  const inserted = await insertNotices(db, planned, o.recheckIntervalSeconds)
  let created = 0
  let unassigned = 0
  let reuploads = 0
  const references: string[] = []
  const notAsked: string[] = []
  for (const notice of planned) {
    const row = inserted.get(notice.key)
    if (row === undefined) continue
    created++
    references.push(notice.reference)
    if (row.reupload) reuploads++
    if (notice.provider !== undefined) continue
    unassigned++
    // The directory alone not naming a provider is no failed lookup: the notifier's full lookup
    // (DNS, RDAP) takes the host on its next pass instead of after a retry delay.
    if (notice.lookupError === undefined && lookup.asksRdap === false) notAsked.push(notice.host)
    else await recordLookup(db, notice.host, { error: notice.lookupError }, o.retryBaseSeconds)
  }
  await recordNotAsked(db, notAsked)
  return { created, unassigned, reuploads, references }
}

const FIRST_EMAIL = { kind: 'notice', sequence: 1 } as const

/**
 * Inserts the planned notices in one statement (data-modifying CTEs): each notice, flagged as a
 * re-upload when the same content was removed at the same provider before; its 'created' event;
 * its email in the outbox with a 'queued' event; a 'reupload' event. A key already taken (another
 * worker noticed the URL first) inserts nothing of its notice: the unique key decides, as before.
 * Rows go in in key order, so two workers inserting overlapping keys at once wait on each other
 * at most one way, never in a cycle. Returns the notices inserted, by key.
 */
async function insertNotices(db: Kysely<Database>, planned: readonly PlannedNotice[], recheckIntervalSeconds: number): Promise<Map<string, { reupload: boolean }>> {
  const input = JSON.stringify(planned.map(({ request, key, reference, host, provider, incident, email }) => ({
    reference, media_url: request.url, media_id: request.mediaId, job_id: request.jobId ?? null, provider_id: provider?.id ?? null,
    idempotency_key: key, detected_at: request.detectedAt.toISOString(), host, incident,
    created: { url: request.url, provider: provider?.name ?? null },
    email: email ?? null,
    queued: provider === undefined ? null : queuedDetail(FIRST_EMAIL, provider),
  })))
  const { rows } = await sql<{ idempotency_key: string; reupload_of: number | null }>`
    with planned_notices as (
      select * from jsonb_to_recordset(${input}::jsonb) as x(reference text, media_url text, media_id integer, job_id integer, provider_id integer,
        idempotency_key text, detected_at timestamptz, host text, incident jsonb, created jsonb, email jsonb, queued jsonb)
    ), n as (
      insert into notices (reference, media_url, media_id, job_id, provider_id, status, idempotency_key, detected_at, host, incident, next_check_at, reupload_of)
      select x.reference, x.media_url, x.media_id, x.job_id, x.provider_id, 'open', x.idempotency_key, x.detected_at, x.host, x.incident,
        now() + make_interval(secs => ${recheckIntervalSeconds}), earlier.id
      from planned_notices x left join lateral (
        select e.id from notices e where e.media_id = x.media_id and e.provider_id = x.provider_id and e.status = 'removed'
        order by e.removed_at desc limit 1
      ) earlier on true
      order by x.idempotency_key
      on conflict (idempotency_key) do nothing
      returning id, idempotency_key, reupload_of
    ), mail as (
      insert into outbox (notice_id, idempotency_key, kind, to_address, provider_id, subject, text_body, html_body, attachments, status, message_id, in_reply_to)
      select n.id, m.idempotency_key, m.kind, m.to_address, m.provider_id, m.subject, m.text_body, m.html_body, m.attachments, 'pending', m.message_id, m.in_reply_to
      from n join planned_notices x on x.idempotency_key = n.idempotency_key
        cross join lateral jsonb_to_record(x.email) as m(idempotency_key text, kind text, to_address text, provider_id integer, subject text,
          text_body text, html_body text, attachments jsonb, message_id text, in_reply_to text)
      where x.email is not null
      order by m.idempotency_key
      on conflict (idempotency_key) do nothing
      returning notice_id
    ), events as (
      insert into notice_events (notice_id, kind, detail)
      select notice_id, kind, detail from (
        select n.id as notice_id, 1 as step, 'created' as kind, x.created as detail from n join planned_notices x on x.idempotency_key = n.idempotency_key
        union all
        select n.id, 2, 'queued', x.queued from mail join n on n.id = mail.notice_id join planned_notices x on x.idempotency_key = n.idempotency_key
        union all
        select n.id, 3, 'reupload', jsonb_build_object('of', e.reference) from n join notices e on e.id = n.reupload_of
      ) ev
      order by notice_id, step
    )
    select idempotency_key, reupload_of from n`.execute(db)
  return new Map(rows.map((r) => [r.idempotency_key, { reupload: r.reupload_of !== null }]))
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
