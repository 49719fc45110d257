import { CriticalError, type Database, type Kysely, type Logger, type OutboxRow, NonRetryableError, RetryableError, SETTINGS, describeError, sql, withDefaults } from '@arachnid/core'
import type { MailTransport } from './mail-transport.js'

/** What to do with an email in doubt: the choices of ARACHNID_IN_DOUBT. */
export const IN_DOUBT_POLICIES = SETTINGS.inDoubtPolicy.check.values
export type InDoubtPolicy = (typeof IN_DOUBT_POLICIES)[number]

export interface OutboxDeliveryOptions {
  /** From address of every email. */
  readonly from: string
  /** Rows claimed per round. Default 25. */
  readonly batchSize?: number
  /** Attempts before a row is marked failed. Default 8. */
  readonly maxAttempts?: number
  /** First retry delay; doubles each attempt. Default 30 s. */
  readonly retryBaseMs?: number
  /** Largest retry delay. Default 6 h. */
  readonly retryMaxMs?: number
  /** How long a claimed row stays leased to this worker. Default: ARACHNID_OUTBOX_LEASE's (120 s). */
  readonly leaseMs?: number
  /** Emails per hour at most to one abuse address (the provider's desk). Default: ARACHNID_PROVIDER_RATE's (1000). */
  readonly ratePerHour?: number
  /**
   * A row whose sender died after handing SMTP the end of the message but before recording the
   * answer: 'resend' (same Message-ID, so never lost and rarely doubled) or 'hold' for an operator
   * (never doubled, but not sent until released). Default: ARACHNID_IN_DOUBT's (resend).
   */
  readonly inDoubt?: InDoubtPolicy
  readonly logger?: Logger
}

/** The defaults: lease, rate and in-doubt policy are settings (the CLI passes the configured values); batch and backoff are the outbox's own. */
export const DEFAULT_OUTBOX_OPTIONS: Required<Omit<OutboxDeliveryOptions, 'from' | 'logger'>> = {
  batchSize: 25, maxAttempts: 8, retryBaseMs: 30_000, retryMaxMs: 6 * 3_600_000,
  leaseMs: SETTINGS.outboxLeaseSeconds.default * 1000, ratePerHour: SETTINGS.providerRatePerHour.default, inDoubt: SETTINGS.inDoubtPolicy.default,
}

export interface DeliveryResult {
  sent: number
  retrying: number
  failed: number
  /** Due but held back by the per-provider rate limit. */
  deferred?: number
  /** Found in doubt (sender died mid-commit) and resent or held per policy. */
  inDoubt?: number
}

/** The columns a claim returns, typed from the schema (raw SQL may hand jsonb back as text). */
type ClaimedRow = Pick<OutboxRow, 'id' | 'notice_id' | 'idempotency_key' | 'kind' | 'to_address' | 'subject' | 'text_body'
  | 'html_body' | 'message_id' | 'in_reply_to' | 'in_doubt' | 'attempts'> & { attachments: OutboxRow['attachments'] | string }

/**
 * Delivers the transactional outbox. Each send goes through three recorded states, so a crash at
 * any point is recoverable: `sending` (claimed with a lease; `FOR UPDATE SKIP LOCKED`, so workers
 * never share a row), `committing` (written just before SMTP's end-of-data, while the server
 * waits), `sent` (after the server's 250). A lease that expires in `sending` means nothing reached
 * the server: the row is sent again. One that expires in `committing` is in doubt: resent with
 * the same Message-ID, or held, per policy. Failures back off exponentially; the per-address rate
 * limit leaves the rest of a provider's emails for later.
 */
export class OutboxDelivery {
  readonly #db: Kysely<Database>
  readonly #transport: MailTransport
  readonly #options: OutboxDeliveryOptions & typeof DEFAULT_OUTBOX_OPTIONS

  constructor(db: Kysely<Database>, transport: MailTransport, options: OutboxDeliveryOptions) {
    this.#db = db
    this.#transport = transport
    this.#options = withDefaults(DEFAULT_OUTBOX_OPTIONS, options)
  }

  /**
   * Delivers everything due when the pass starts; returns the counts. A row that fails is due
   * again only after the pass, so one pass tries each email at most once.
   */
  async deliverDue(): Promise<DeliveryResult> {
    const result: Required<DeliveryResult> = { sent: 0, retrying: 0, failed: 0, deferred: 0, inDoubt: 0 }
    const passStart = new Date()
    result.inDoubt = await this.#recoverInDoubt()
    for (;;) {
      const rows = await this.#claim(passStart)
      if (rows.length === 0) break
      for (const row of rows) await this.#deliver(row, result)
    }
    const deferred = await this.#db.selectFrom('outbox').select(sql<number>`count(*)::int`.as('n'))
      .where('status', '=', 'pending').where('next_attempt_at', '<=', passStart).executeTakeFirstOrThrow()
    result.deferred = Number(deferred.n)
    return result
  }

  /** Rows left in `committing` by a sender that died: the server may or may not have the email. */
  async #recoverInDoubt(): Promise<number> {
    const hold = this.#options.inDoubt === 'hold'
    const rows = await this.#db.updateTable('outbox').set({
      status: hold ? 'held' : 'pending', in_doubt: true, lease_until: null, next_attempt_at: sql<Date>`now()` as never,
    }).where('status', '=', 'committing').where('lease_until', '<', sql<Date>`now()`).returning(['id', 'notice_id', 'idempotency_key', 'message_id']).execute()
    for (const row of rows) {
      await this.#db.insertInto('notice_events').values({ notice_id: row.notice_id, kind: 'in-doubt', detail: JSON.stringify({ key: row.idempotency_key, messageId: row.message_id, action: hold ? 'held' : 'resend' }) }).execute()
      this.#options.logger?.warn({ key: row.idempotency_key }, hold ? 'email in doubt after a crash: held for an operator' : 'email in doubt after a crash: sending again with the same Message-ID')
    }
    return rows.length
  }

  async #claim(dueBy: Date): Promise<ClaimedRow[]> {
    const { leaseMs, ratePerHour, batchSize } = this.#options
    return this.#db.transaction().execute(async (trx) => {
      // Claims are serialised so two workers cannot both fill the same provider's hourly quota.
      await sql`select pg_advisory_xact_lock(hashtext('arachnid.outbox.claim'))`.execute(trx)
      const { rows } = await sql<ClaimedRow>`
        update outbox set status = 'sending', attempts = attempts + 1,
          lease_until = now() + make_interval(secs => ${leaseMs / 1000})
        where id in (
          select c.id from (
            select o.id, o.to_address, row_number() over (partition by o.to_address order by o.id) as rn
            from outbox o
            where (o.status = 'pending' and o.next_attempt_at <= ${dueBy}) or (o.status = 'sending' and o.lease_until < now())
          ) c
          left join (
            select to_address, count(*)::int as n from outbox
            where (status = 'sent' and sent_at > now() - interval '1 hour') or (status in ('sending', 'committing') and lease_until >= now())
            group by to_address
          ) r on r.to_address = c.to_address
          where c.rn + coalesce(r.n, 0) <= ${ratePerHour}
          order by c.id limit ${batchSize})
        returning id, notice_id, idempotency_key, kind, to_address, subject, text_body, html_body, attachments, message_id, in_reply_to, in_doubt, attempts`.execute(trx)
      return rows
    })
  }

  async #deliver(row: ClaimedRow, result: Required<DeliveryResult>): Promise<void> {
    let committing = false
    try {
      await this.#transport.send({
        from: this.#options.from, to: row.to_address, subject: row.subject, text: row.text_body, html: row.html_body,
        messageId: row.message_id, idempotencyKey: row.idempotency_key, inReplyTo: row.in_reply_to,
        attachments: typeof row.attachments === 'string' ? JSON.parse(row.attachments) : row.attachments,
        ...(row.in_doubt ? { headers: { 'X-Arachnid-Resent': 'in-doubt' } } : {}),
      }, {
        beforeCommit: async () => {
          // `attempts` is the fencing token: a worker whose lease was taken over stops here.
          const owned = await this.#db.updateTable('outbox').set({
            status: 'committing', committing_at: sql<Date>`now()` as never,
            lease_until: sql<Date>`now() + make_interval(secs => ${this.#options.leaseMs / 1000})` as never,
          }).where('id', '=', row.id).where('status', '=', 'sending').where('attempts', '=', row.attempts).returning('id').executeTakeFirst()
          if (!owned) throw new RetryableError('LEASE_LOST', `outbox row ${row.id} was taken over by another worker`)
          committing = true
        },
      })
    } catch (error) {
      if ((error as RetryableError).code === 'LEASE_LOST') return
      // The process cannot go on: the pass stops here, and the row's lease runs out for the next one.
      if (error instanceof CriticalError) throw error
      await this.#failed(row, error, committing, result)
      return
    }
    // One statement records the send and its event (atomic on its own): with a transaction
    // around an update and an insert it was four round trips per email, the notifier's largest
    // share of a crawl's statements.
    const sequence = Number(row.idempotency_key.split(':').pop())
    const detail = JSON.stringify({ email: row.kind, sequence: Number.isFinite(sequence) ? sequence : null, to: row.to_address, messageId: row.message_id, inDoubt: row.in_doubt })
    await sql`
      with done as (
        update outbox set status = 'sent', sent_at = now(), lease_until = null, last_error = null
        where id = ${row.id} and status in ('sending', 'committing') and attempts = ${row.attempts}
        returning notice_id)
      insert into notice_events (notice_id, kind, detail) select notice_id, 'sent', ${detail}::jsonb from done`.execute(this.#db)
    result.sent++
  }

  async #failed(row: ClaimedRow, error: unknown, committing: boolean, result: Required<DeliveryResult>): Promise<void> {
    const { message } = describeError(error)
    // After the end-of-data, an answer from the server (4xx/5xx) means it did not take the email;
    // no answer at all (connection lost) means it may have.
    const answered = typeof ((error as Error).cause as { responseCode?: unknown } | undefined)?.responseCode === 'number'
    if (committing && !answered) {
      const hold = this.#options.inDoubt === 'hold'
      await this.#db.updateTable('outbox').set({ status: hold ? 'held' : 'pending', in_doubt: true, lease_until: null, last_error: message.slice(0, 1000), next_attempt_at: sql<Date>`now() + make_interval(secs => ${this.#options.retryBaseMs / 1000})` as never })
        .where('id', '=', row.id).execute()
      await this.#db.insertInto('notice_events').values({ notice_id: row.notice_id, kind: 'in-doubt', detail: JSON.stringify({ key: row.idempotency_key, messageId: row.message_id, action: hold ? 'held' : 'resend', error: message.slice(0, 300) }) }).execute()
      result.inDoubt++
      return
    }
    const failed = row.attempts >= this.#options.maxAttempts || error instanceof NonRetryableError
    const delayMs = Math.min(this.#options.retryBaseMs * 2 ** Math.min(row.attempts - 1, 20), this.#options.retryMaxMs)
    await this.#db.updateTable('outbox').set({
      status: failed ? 'failed' : 'pending', last_error: message.slice(0, 1000), lease_until: null,
      next_attempt_at: sql<Date>`now() + make_interval(secs => ${delayMs / 1000})` as never,
    }).where('id', '=', row.id).where('attempts', '=', row.attempts).execute()
    if (failed) result.failed++
    else result.retrying++
    this.#options.logger?.warn({ key: row.idempotency_key, attempts: row.attempts, error: message }, failed ? 'notice delivery failed for good' : 'notice delivery will be retried')
  }
}

/**
 * Releases held (in-doubt) emails of a notice for sending again; returns how many (0 when none of
 * its emails is held). A reference no notice has is a NonRetryableError NOT_FOUND: a typo must not
 * look like "nothing to release".
 */
export async function releaseHeld(db: Kysely<Database>, reference: string): Promise<number> {
  const notice = await db.selectFrom('notices').select('id').where('reference', '=', reference).executeTakeFirst()
  if (!notice) throw new NonRetryableError('NOT_FOUND', `no notice ${reference}`)
  const rows = await db.updateTable('outbox').set({ status: 'pending', next_attempt_at: sql<Date>`now()` as never })
    .where('status', '=', 'held').where('notice_id', 'in', db.selectFrom('notices').select('id').where('reference', '=', reference))
    .returning('id').execute()
  return rows.length
}
