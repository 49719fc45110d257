import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Database, Transaction } from '@arachnid/core'
import type { AckLinks } from './ack-links.js'
import { type ComposedEmail, type EmailKind, type NoticeIncident, type NoticeTemplates, type Reporter, composeNotice } from './compose-notice.js'
import type { Provider } from './provider-directory.js'

/** What every notice email needs besides the notice: who reports, how to acknowledge, which words. */
export interface NoticeMailContext {
  readonly reporter: Reporter
  /** Without it, emails carry no acknowledgement link. */
  readonly ack?: AckLinks
  readonly templates?: NoticeTemplates
}

/** The notice fields an email is made from. */
export interface NoticeForMail {
  readonly id: number
  readonly reference: string
  readonly idempotency_key: string
  readonly incident: Record<string, unknown> | null
}

/** The stored incident back as a NoticeIncident (dates were stored as ISO strings). */
export function incidentOf(notice: Pick<NoticeForMail, 'reference' | 'incident'>): NoticeIncident {
  const stored = notice.incident as (Omit<NoticeIncident, 'detectedAt'> & { detectedAt: string }) | null
  if (!stored) throw new Error(`notice ${notice.reference} has no stored incident`)
  return { ...stored, detectedAt: new Date(stored.detectedAt) }
}

function domainOf(from: string): string {
  const address = /<([^>]+)>/.exec(from)?.[1] ?? from
  return address.split('@')[1]?.trim() || 'arachnid.invalid'
}

/** The Message-ID of a notice's email: stable, so a resend after a crash carries the same one. */
export function messageIdFor(reference: string, kind: EmailKind, sequence: number, reporter: Reporter): string {
  return `<${reference}.${kind}.${sequence}@${domainOf(reporter.from)}>`
}

/** What the outbox holds of one email about a notice, composed (the notice's row id and the status aside). */
export interface NoticeEmail {
  readonly idempotency_key: string
  readonly kind: EmailKind
  readonly to_address: string
  readonly provider_id: number
  readonly subject: string
  readonly text_body: string
  readonly html_body: string
  readonly attachments: ComposedEmail['attachments']
  readonly message_id: string
  readonly in_reply_to: string | null
}

/**
 * Composes one email about a notice as the outbox keeps it. The idempotency key names the notice,
 * the kind and the sequence number, so the same email is never queued twice. Needs no notice id:
 * createNotices composes a batch's first emails before their notices exist, and inserts both in
 * one statement.
 */
export function composeNoticeEmail(
  notice: Omit<NoticeForMail, 'id'>,
  recipient: Provider,
  context: NoticeMailContext,
  email: { readonly kind: EmailKind; readonly sequence: number; readonly hostedBy?: string; readonly firstNoticeAt?: Date | null },
): NoticeEmail {
  const incident = incidentOf(notice)
  const composed = composeNotice([incident], recipient, context.reporter, {
    kind: email.kind, sequence: email.sequence, hostedBy: email.hostedBy, firstNoticeAt: email.firstNoticeAt,
    ackUrl: email.kind === 'escalation' ? undefined : context.ack?.url(notice.reference), templates: context.templates,
  })
  return {
    idempotency_key: `${notice.idempotency_key}:${email.kind}:${email.sequence}`, kind: email.kind,
    to_address: recipient.abuseEmail, provider_id: recipient.id,
    subject: composed.subject, text_body: composed.text, html_body: composed.html, attachments: composed.attachments,
    message_id: messageIdFor(notice.reference, email.kind, email.sequence, context.reporter),
    in_reply_to: email.kind === 'notice' ? null : messageIdFor(notice.reference, 'notice', 1, context.reporter),
  }
}

/** The detail of the 'queued' event that follows an email into the outbox. */
export function queuedDetail(email: { readonly kind: EmailKind; readonly sequence: number }, recipient: Provider): Record<string, unknown> {
  return { email: email.kind, sequence: email.sequence, to: recipient.abuseEmail, provider: recipient.name }
}

/**
 * Puts one email about a notice into the outbox, inside the caller's transaction (see
 * composeNoticeEmail), with a 'queued' event. Returns false when it was already queued.
 */
export async function enqueueNoticeEmail(
  trx: Transaction<Database>,
  notice: NoticeForMail,
  recipient: Provider,
  context: NoticeMailContext,
  email: { readonly kind: EmailKind; readonly sequence: number; readonly hostedBy?: string; readonly firstNoticeAt?: Date | null },
): Promise<boolean> {
  const row = composeNoticeEmail(notice, recipient, context, email)
  const inserted = await trx.insertInto('outbox').values({ ...row, notice_id: notice.id, attachments: JSON.stringify(row.attachments), status: 'pending' })
    .onConflict((oc) => oc.column('idempotency_key').doNothing()).returning('id').executeTakeFirst()
  if (inserted) {
    await trx.insertInto('notice_events').values({ notice_id: notice.id, kind: 'queued', detail: JSON.stringify(queuedDetail(email, recipient)) }).execute()
  }
  return inserted !== undefined
}

/** Reads intro.txt and intro.html from a template folder (either may be missing). */
export async function loadNoticeTemplates(dir: string): Promise<NoticeTemplates> {
  const read = (name: string) => readFile(path.join(dir, name), 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  const [introText, introHtml] = await Promise.all([read('intro.txt'), read('intro.html')])
  return { ...(introText ? { introText: introText.trimEnd() } : {}), ...(introHtml ? { introHtml: introHtml.trimEnd() } : {}) }
}
