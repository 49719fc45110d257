import { createHmac, timingSafeEqual } from 'node:crypto'
import formbody from '@fastify/formbody'
import { type Database, type Kysely, NonRetryableError, sql } from '@arachnid/core'
import { type SafeHtml, html, sendHtml } from '@arachnid/web/html'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'

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

/** Bounds of the acknowledgement page's form: room for a dispute's words, percent-encoded. */
const ACK_BODY_LIMIT = 24 * 1024

/** The page a provider sees: nothing of the review server's look, and no script, style or image. */
function page(title: string, body: SafeHtml = html``): SafeHtml {
  return html`<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`
}

const PAGE_HEADERS = {
  // The page is reached from an email and holds a signed link: it sends no Referer anywhere, and
  // loads nothing at all (a CSP stricter than the review pages').
  helmet: {
    contentSecurityPolicy: { useDefaults: false, directives: { 'default-src': ["'none'"], 'form-action': ["'self'"], 'frame-ancestors': ["'none'"], 'base-uri': ["'none'"] } },
    referrerPolicy: { policy: 'no-referrer' as const },
  },
}

export interface AckHandlerOptions {
  readonly db: Kysely<Database>
  readonly links: AckLinks
}

/**
 * The acknowledgement page as a Fastify plugin; register it under `/ack` (the links' path):
 * GET /ack/<token> shows the notice and two buttons, POST records "removed" or "dispute" (with the
 * provider's words, at most DISPUTE_MESSAGE_MAX characters). A bad token gets the same 404 as an
 * unknown page; an expired one 410. The form is checked by a JSON schema; a bad answer gets this
 * page's own 400. Failures it does not expect go to the app's error handler.
 *
 * @example
 * const app = await createWebApp({ logger })
 * await app.register(createAckHandler({ db, links }), { prefix: '/ack' })
 */
export function createAckHandler(options: AckHandlerOptions): FastifyPluginAsync {
  const { db, links } = options
  return async (app) => {
    if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) await app.register(formbody)
    const notFound = (reply: FastifyReply) => sendHtml(reply, page('Not found'), 404)
    /** The notice a token names; undefined when it has answered already (404, 410). */
    const referenceOf = (token: string, reply: FastifyReply): string | undefined => {
      try {
        return links.verify(token).reference
      } catch (error) {
        if ((error as NonRetryableError).code === 'ACK_EXPIRED') sendHtml(reply, page('This link has expired', html`<p>Please use the link in the most recent email about this notice.</p>`), 410)
        else notFound(reply)
        return undefined
      }
    }
    const params = { type: 'object', properties: { token: { type: 'string', maxLength: 1000 } } } as const

    app.get<{ Params: { token: string } }>('/:token', { ...PAGE_HEADERS, schema: { params } }, async (request, reply) => {
      const reference = referenceOf(request.params.token, reply)
      if (reference === undefined) return reply
      const view = await ackView(db, reference)
      if (!view) return notFound(reply)
      const form = (answer: AckAnswer, label: string, extra = html``) => html`<form method="post"><input type="hidden" name="answer" value="${answer}">${extra}<button type="submit">${label}</button></form>`
      const words = html`<p><label for="message">Why (read by an analyst; optional)</label><br><textarea id="message" name="message" rows="5" cols="60" maxlength="${DISPUTE_MESSAGE_MAX}"></textarea></p>`
      return sendHtml(reply, page(`Notice ${view.reference}`, html`<p>Media URL: <code>${view.mediaUrl}</code></p><p>Status: ${view.status}${view.ackStatus ? html`; your last answer: ${view.ackStatus}` : ''}</p>${
        form('removed', 'The material has been removed')}${form('dispute', 'We dispute this notice', words)}`))
    })
    app.post<{ Params: { token: string }; Body: { answer?: AckAnswer; message?: string } }>('/:token', {
      ...PAGE_HEADERS,
      bodyLimit: ACK_BODY_LIMIT,
      attachValidation: true,
      schema: {
        params,
        body: { type: 'object', required: ['answer'], properties: { answer: { type: 'string', enum: ACK_ANSWERS }, message: { type: 'string', maxLength: DISPUTE_MESSAGE_MAX } } },
      },
    }, async (request, reply) => {
      const reference = referenceOf(request.params.token, reply)
      if (reference === undefined) return reply
      if (request.validationError) {
        const fields = (request.validationError.validation as { instancePath?: string }[]).map((v) => v.instancePath)
        return fields.includes('/message')
          ? sendHtml(reply, page('Too long', html`<p>Please say it in at most ${DISPUTE_MESSAGE_MAX} characters.</p>`), 400)
          : sendHtml(reply, page('Unknown answer', html`<p>Answer "removed" or "dispute".</p>`), 400)
      }
      const answer = request.body.answer!
      const message = answer === 'dispute' ? request.body.message ?? '' : ''
      const view = await recordAck(db, reference, answer, { via: 'link', ...(message.trim() ? { message } : {}) })
      if (!view) return notFound(reply)
      return sendHtml(reply, page('Thank you', html`<p>Your answer "${answer}" was recorded for notice ${view.reference}.</p>${answer === 'removed'
        ? html`<p>The address will be checked again; the notice closes once the material is gone.</p>`
        : html`<p>An analyst will review the notice.</p>`}`))
    })
    app.route({ method: ['PUT', 'DELETE', 'PATCH'], url: '/:token', ...PAGE_HEADERS, handler: async (_request, reply) => sendHtml(reply, page('Method not allowed'), 405) })
  }
}
