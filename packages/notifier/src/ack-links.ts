import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { type Database, type Kysely, NonRetryableError, sql } from '@arachnid/core'

export const ACK_ANSWERS = ['removed', 'dispute'] as const
export type AckAnswer = (typeof ACK_ANSWERS)[number]

export interface AckLinkOptions {
  /** HMAC-SHA256 key; keep it secret (ARACHNID_ACK_SECRET). */
  readonly secret: string
  /** Public base URL of the endpoint; links are `<base>/ack/<token>`. */
  readonly baseUrl: string
  /** Hours a link stays valid. Default 720 (30 days). */
  readonly ttlHours?: number
}

export const DEFAULT_ACK_TTL_HOURS = 720

/**
 * Signed, expiring acknowledgement links. The token names one notice reference and an expiry;
 * the signature covers both, so a link opens that notice only, and only until it expires.
 *
 * @example
 * const links = new AckLinks({ secret: process.env.ARACHNID_ACK_SECRET!, baseUrl: 'https://arachnid.example/' })
 * links.url('ARN-ABCDE-FGHJK') // https://arachnid.example/ack/QVJOLUFC....<sig>
 */
export class AckLinks {
  readonly #secret: string
  readonly #base: string
  readonly #ttlMs: number

  constructor(options: AckLinkOptions) {
    if (options.secret.length < 16) throw new NonRetryableError('ACK_SECRET', 'the acknowledgement secret must be at least 16 characters')
    this.#secret = options.secret
    this.#base = options.baseUrl.replace(/\/+$/, '')
    this.#ttlMs = (options.ttlHours ?? DEFAULT_ACK_TTL_HOURS) * 3_600_000
  }

  token(reference: string, now: Date = new Date()): string {
    const expires = Math.floor((now.getTime() + this.#ttlMs) / 1000)
    const payload = Buffer.from(`${reference}.${expires}`).toString('base64url')
    return `${payload}.${this.#sign(payload)}`
  }

  url(reference: string, now: Date = new Date()): string {
    return `${this.#base}/ack/${this.token(reference, now)}`
  }

  /** The reference a token names; throws ACK_INVALID (forged, altered) or ACK_EXPIRED. */
  verify(token: string, now: Date = new Date()): { reference: string; expiresAt: Date } {
    const [payload, signature, extra] = token.split('.')
    if (!payload || !signature || extra !== undefined) throw new NonRetryableError('ACK_INVALID', 'not an acknowledgement token')
    const expected = Buffer.from(this.#sign(payload))
    const given = Buffer.from(signature)
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw new NonRetryableError('ACK_INVALID', 'bad signature')
    const match = /^(ARN-[A-Z0-9-]+)\.(\d+)$/.exec(Buffer.from(payload, 'base64url').toString('utf8'))
    if (!match) throw new NonRetryableError('ACK_INVALID', 'malformed token')
    const expiresAt = new Date(Number(match[2]) * 1000)
    if (expiresAt.getTime() <= now.getTime()) throw new NonRetryableError('ACK_EXPIRED', 'the link has expired')
    return { reference: match[1]!, expiresAt }
  }

  #sign(payload: string): string {
    return createHmac('sha256', this.#secret).update(`arachnid-ack|${payload}`).digest('base64url')
  }
}

/** What a provider sees of a notice: nothing beyond it. */
export interface AckView {
  readonly reference: string
  readonly mediaUrl: string
  readonly status: string
  readonly ackStatus: AckAnswer | null
}

export async function ackView(db: Kysely<Database>, reference: string): Promise<AckView | undefined> {
  const row = await db.selectFrom('notices').select(['reference', 'media_url', 'status', 'ack_status']).where('reference', '=', reference).executeTakeFirst()
  return row && { reference: row.reference, mediaUrl: row.media_url, status: row.status, ackStatus: row.ack_status }
}

/** Longest provider message kept with a dispute, in characters. */
export const DISPUTE_MESSAGE_MAX = 2000

/**
 * Records a provider's answer in the notice's history. "removed" also makes the notice due for a
 * recheck now, so the claim is verified; the notice is closed only by the rechecks. "dispute" puts
 * the notice in the analysts' review queue (`notice_disputes`) with the provider's words
 * (`message`, at most DISPUTE_MESSAGE_MAX characters), until an analyst upholds or withdraws it.
 */
export async function recordAck(db: Kysely<Database>, reference: string, answer: AckAnswer, detail: Record<string, unknown> & { readonly message?: string } = {}): Promise<AckView | undefined> {
  const message = typeof detail.message === 'string' ? detail.message.trim().slice(0, DISPUTE_MESSAGE_MAX) : ''
  const via = typeof detail.via === 'string' ? detail.via : 'link'
  return db.transaction().execute(async (trx) => {
    const notice = await trx.updateTable('notices').set({
      ack_status: answer, ack_at: sql<Date>`now()` as never,
      ...(answer === 'removed' ? { next_check_at: sql<Date>`least(next_check_at, now())` as never } : {}),
    }).where('reference', '=', reference).returning(['id', 'reference', 'media_url', 'media_id', 'status', 'ack_status']).executeTakeFirst()
    if (!notice) return undefined
    await trx.insertInto('notice_events').values({ notice_id: notice.id, kind: 'ack', detail: JSON.stringify({ ...detail, answer, ...(message ? { message } : {}) }) }).execute()
    if (answer === 'dispute') {
      await trx.insertInto('notice_disputes').values({ notice_id: notice.id, media_id: notice.media_id, message: message || null, via }).execute()
    }
    return { reference: notice.reference, mediaUrl: notice.media_url, status: notice.status, ackStatus: notice.ack_status }
  })
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-robots-tag': 'noindex',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; form-action 'self'",
  })
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`)
}

// Room for a dispute's words (up to DISPUTE_MESSAGE_MAX characters, percent-encoded).
async function readForm(req: IncomingMessage, limit = 24 * 1024): Promise<URLSearchParams> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new NonRetryableError('ACK_TOO_LARGE', 'request body too large')
    chunks.push(chunk as Buffer)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

/**
 * The acknowledgement endpoint as a node:http request listener (mount it at the site root, or
 * under a prefix with `basePath`): GET /ack/<token> shows the notice and two buttons, POST records
 * "removed" or "dispute". A bad token gets the same 404 as an unknown path; an expired one 410.
 *
 * @example
 * http.createServer(createAckHandler({ db, links })).listen(8080)
 */
export function createAckHandler(options: { readonly db: Kysely<Database>; readonly links: AckLinks; readonly basePath?: string }): RequestListener {
  const prefix = `${(options.basePath ?? '').replace(/\/+$/, '')}/ack/`
  return (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://ack.invalid')
      if (!url.pathname.startsWith(prefix)) return page(res, 404, 'Not found', '')
      let reference: string
      try {
        reference = options.links.verify(url.pathname.slice(prefix.length)).reference
      } catch (error) {
        if ((error as NonRetryableError).code === 'ACK_EXPIRED') return page(res, 410, 'This link has expired', '<p>Please use the link in the most recent email about this notice.</p>')
        return page(res, 404, 'Not found', '')
      }
      if (req.method === 'POST') {
        const form = await readForm(req)
        const answer = form.get('answer')
        if (answer !== 'removed' && answer !== 'dispute') return page(res, 400, 'Unknown answer', '<p>Answer "removed" or "dispute".</p>')
        const message = answer === 'dispute' ? form.get('message') ?? '' : ''
        if (message.length > DISPUTE_MESSAGE_MAX) return page(res, 400, 'Too long', `<p>Please say it in at most ${DISPUTE_MESSAGE_MAX} characters.</p>`)
        const view = await recordAck(options.db, reference, answer, { via: 'link', ...(message.trim() ? { message } : {}) })
        if (!view) return page(res, 404, 'Not found', '')
        return page(res, 200, 'Thank you', `<p>Your answer "${escapeHtml(answer)}" was recorded for notice ${escapeHtml(view.reference)}.</p>`
          + (answer === 'removed' ? '<p>The address will be checked again; the notice closes once the material is gone.</p>' : '<p>An analyst will review the notice.</p>'))
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return page(res, 405, 'Method not allowed', '')
      const view = await ackView(options.db, reference)
      if (!view) return page(res, 404, 'Not found', '')
      const form = (answer: AckAnswer, label: string, extra = '') => `<form method="post"><input type="hidden" name="answer" value="${answer}">${extra}<button type="submit">${label}</button></form>`
      const words = `<p><label for="message">Why (read by an analyst; optional)</label><br><textarea id="message" name="message" rows="5" cols="60" maxlength="${DISPUTE_MESSAGE_MAX}"></textarea></p>`
      return page(res, 200, `Notice ${view.reference}`,
        `<p>Media URL: <code>${escapeHtml(view.mediaUrl)}</code></p><p>Status: ${escapeHtml(view.status)}${view.ackStatus ? `; your last answer: ${escapeHtml(view.ackStatus)}` : ''}</p>`
        + form('removed', 'The material has been removed') + form('dispute', 'We dispute this notice', words))
    })().catch((error: unknown) => {
      const tooLarge = (error as NonRetryableError).code === 'ACK_TOO_LARGE'
      if (!res.headersSent) page(res, tooLarge ? 413 : 500, tooLarge ? 'Too large' : 'Error', '')
      else res.destroy()
    })
  }
}
