import { type Database, type Kysely, type Logger, describeError, sql } from '@arachnid/core'
import type { MailTransport } from './mail-transport.js'

export interface OutboxDeliveryOptions {
  /** From address of every email. */
  readonly from: string
  /** Rows claimed per round. Default 25. */
  readonly batchSize?: number
  /** Attempts before a row is marked failed. Default 8. */
  readonly maxAttempts?: number
  /** First retry delay; doubles each attempt. Default 30 s. */
  readonly retryBaseMs?: number
  /** How long a claimed row stays leased to this worker. Default 120 s. */
  readonly leaseMs?: number
  readonly logger?: Logger
}

export const DEFAULT_OUTBOX_OPTIONS: Required<Omit<OutboxDeliveryOptions, 'from' | 'logger'>> = { batchSize: 25, maxAttempts: 8, retryBaseMs: 30_000, leaseMs: 120_000 }

export interface DeliveryResult {
  sent: number
  retrying: number
  failed: number
}

interface ClaimedRow {
  id: number
  idempotency_key: string
  to_address: string
  subject: string
  text_body: string
  html_body: string
  attachments: { filename: string; contentType: string; content: string }[] | string
  message_id: string
  attempts: number
}

/**
 * Delivers the transactional outbox. Rows are claimed with a lease (`FOR UPDATE SKIP LOCKED`,
 * so several workers never take the same row); a row is marked sent only after the transport
 * accepted it; a failed row is retried with exponential backoff; a worker that died leaves its
 * lease to expire and the row is taken again.
 */
export class OutboxDelivery {
  readonly #db: Kysely<Database>
  readonly #transport: MailTransport
  readonly #options: OutboxDeliveryOptions & typeof DEFAULT_OUTBOX_OPTIONS

  constructor(db: Kysely<Database>, transport: MailTransport, options: OutboxDeliveryOptions) {
    this.#db = db
    this.#transport = transport
    this.#options = { ...DEFAULT_OUTBOX_OPTIONS, ...options }
  }

  /**
   * Delivers everything due when the pass starts; returns the counts. A row that fails is due
   * again only after the pass, so one pass tries each email at most once.
   */
  async deliverDue(): Promise<DeliveryResult> {
    const result: DeliveryResult = { sent: 0, retrying: 0, failed: 0 }
    const passStart = new Date()
    for (;;) {
      const rows = await this.#claim(passStart)
      if (rows.length === 0) return result
      for (const row of rows) await this.#deliver(row, result)
    }
  }

  async #claim(dueBy: Date): Promise<ClaimedRow[]> {
    const { rows } = await sql<ClaimedRow>`
      update outbox set status = 'sending', attempts = attempts + 1,
        lease_until = now() + make_interval(secs => ${this.#options.leaseMs / 1000})
      where id in (
        select id from outbox
        where (status = 'pending' and next_attempt_at <= ${dueBy}) or (status = 'sending' and lease_until < now())
        order by id limit ${this.#options.batchSize}
        for update skip locked)
      returning id, idempotency_key, to_address, subject, text_body, html_body, attachments, message_id, attempts`.execute(this.#db)
    return rows
  }

  async #deliver(row: ClaimedRow, result: DeliveryResult): Promise<void> {
    try {
      await this.#transport.send({
        from: this.#options.from, to: row.to_address, subject: row.subject, text: row.text_body, html: row.html_body,
        messageId: row.message_id, idempotencyKey: row.idempotency_key,
        attachments: typeof row.attachments === 'string' ? JSON.parse(row.attachments) : row.attachments,
      })
    } catch (error) {
      const { message } = describeError(error)
      const failed = row.attempts >= this.#options.maxAttempts
      const delayMs = this.#options.retryBaseMs * 2 ** Math.min(row.attempts - 1, 16)
      await this.#db.updateTable('outbox').set({
        status: failed ? 'failed' : 'pending', last_error: message.slice(0, 1000), lease_until: null,
        next_attempt_at: sql<Date>`greatest(now(), ${new Date()}::timestamptz) + make_interval(secs => ${delayMs / 1000})`,
      }).where('id', '=', row.id).execute()
      if (failed) result.failed++
      else result.retrying++
      this.#options.logger?.warn({ key: row.idempotency_key, attempts: row.attempts, error: message }, failed ? 'notice delivery failed for good' : 'notice delivery will be retried')
      return
    }
    await this.#db.updateTable('outbox').set({ status: 'sent', sent_at: sql<Date>`now()`, lease_until: null, last_error: null })
      .where('id', '=', row.id).execute()
    result.sent++
  }
}
