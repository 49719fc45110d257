import type { Database, Kysely } from '@arachnid/core'
import { type NoticeIncident, type NoticeMatch, type Reporter, composeNotice, noticeKey, referenceFor } from './compose-notice.js'
import type { ProviderDirectory } from './provider-directory.js'

/** A matched media URL to notify about (the crawler's MatchedMedia has this shape). */
export interface NoticeRequest {
  readonly mediaId: number
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
  /** Of those, how many had no provider in the directory and wait in the unassigned list. */
  readonly unassigned: number
  readonly references: readonly string[]
}

/**
 * Creates one notice per matched media URL and, in the same transaction, its email in the outbox.
 * The notice's idempotency key is derived from the URL, so a second crawl of the same URL, or a
 * retry after a crash, creates nothing new.
 */
export async function createNotices(
  db: Kysely<Database>,
  directory: ProviderDirectory,
  requests: readonly NoticeRequest[],
  reporter: Reporter,
): Promise<CreateNoticesResult> {
  let created = 0
  let unassigned = 0
  const references: string[] = []
  for (const request of requests) {
    const key = noticeKey(request.url)
    const reference = referenceFor(key)
    const provider = directory.resolve(new URL(request.finalUrl).hostname, request.serverIp)
    const inserted = await db.transaction().execute(async (trx) => {
      const notice = await trx.insertInto('notices').values({
        reference, media_url: request.url, media_id: request.mediaId, provider_id: provider?.id ?? null,
        status: 'open', idempotency_key: key, detected_at: request.detectedAt,
      }).onConflict((oc) => oc.column('idempotency_key').doNothing()).returning('id').executeTakeFirst()
      if (notice === undefined) return false
      if (provider !== undefined) {
        const incident: NoticeIncident = {
          reference, mediaUrl: request.url, finalUrl: request.finalUrl, pageUrls: request.pageUrls,
          serverIp: request.serverIp, detectedAt: request.detectedAt,
          hashes: { sha256: request.hashes.sha256, md5: request.hashes.md5, sha1: request.hashes.sha1, blockhash: request.hashes.blockhash, pdq: request.hashes.pdq },
          matches: request.matches,
        }
        const email = composeNotice([incident], provider, reporter)
        await trx.insertInto('outbox').values({
          notice_id: notice.id, idempotency_key: `${key}:notice:1`, kind: 'notice', to_address: provider.abuseEmail,
          subject: email.subject, text_body: email.text, html_body: email.html, attachments: JSON.stringify(email.attachments),
          status: 'pending', message_id: `<${reference}.notice.1@arachnid.invalid>`,
        }).execute()
      }
      return true
    })
    if (inserted) {
      created++
      references.push(reference)
      if (provider === undefined) unassigned++
    }
  }
  return { created, unassigned, references }
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
}

/** Notices with their provider and delivery state, newest first. */
export async function listNotices(db: Kysely<Database>, options: { open?: boolean; limit?: number } = {}): Promise<NoticeListing[]> {
  let query = db.selectFrom('notices as n')
    .leftJoin('providers as p', 'p.id', 'n.provider_id')
    .leftJoin('outbox as o', (join) => join.onRef('o.notice_id', '=', 'n.id').on('o.kind', '=', 'notice'))
    .select(['n.reference', 'n.media_url', 'p.name', 'o.to_address', 'n.status', 'o.status as delivery', 'n.detected_at', 'o.sent_at'])
    .orderBy('n.id', 'desc').limit(options.limit ?? 1000)
  if (options.open) query = query.where('n.status', '=', 'open')
  const rows = await query.execute()
  return rows.map((r) => ({
    reference: r.reference, mediaUrl: r.media_url, provider: r.name, to: r.to_address, status: r.status,
    delivery: r.delivery, detectedAt: r.detected_at, sentAt: r.sent_at,
  }))
}
