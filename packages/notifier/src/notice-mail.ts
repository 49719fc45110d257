import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Database, Transaction } from '@arachnid/core'
import type { AckLinks } from './ack-links.js'
import { type EmailKind, type NoticeIncident, type NoticeTemplates, type Reporter, composeNotice } from './compose-notice.js'
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
export function incidentOf(notice: NoticeForMail): NoticeIncident {
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

/**
 * Puts one email about a notice into the outbox, inside the caller's transaction. The idempotency
 * key names the notice, the kind and the sequence number, so the same email is never queued twice.
 * Returns false when it was already queued.
 */
export async function enqueueNoticeEmail(
  trx: Transaction<Database>,
  notice: NoticeForMail,
  recipient: Provider,
  context: NoticeMailContext,
  email: { readonly kind: EmailKind; readonly sequence: number; readonly hostedBy?: string; readonly firstNoticeAt?: Date | null },
): Promise<boolean> {
  const incident = incidentOf(notice)
  const composed = composeNotice([incident], recipient, context.reporter, {
    kind: email.kind, sequence: email.sequence, hostedBy: email.hostedBy, firstNoticeAt: email.firstNoticeAt,
    ackUrl: email.kind === 'escalation' ? undefined : context.ack?.url(notice.reference), templates: context.templates,
  })
  const inserted = await trx.insertInto('outbox').values({
    notice_id: notice.id, idempotency_key: `${notice.idempotency_key}:${email.kind}:${email.sequence}`, kind: email.kind,
    to_address: recipient.abuseEmail, provider_id: recipient.id,
    subject: composed.subject, text_body: composed.text, html_body: composed.html, attachments: JSON.stringify(composed.attachments),
    status: 'pending', message_id: messageIdFor(notice.reference, email.kind, email.sequence, context.reporter),
    in_reply_to: email.kind === 'notice' ? null : messageIdFor(notice.reference, 'notice', 1, context.reporter),
  }).onConflict((oc) => oc.column('idempotency_key').doNothing()).returning('id').executeTakeFirst()
  if (inserted) {
    await trx.insertInto('notice_events').values({
      notice_id: notice.id, kind: 'queued',
      detail: JSON.stringify({ email: email.kind, sequence: email.sequence, to: recipient.abuseEmail, provider: recipient.name }),
    }).execute()
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
