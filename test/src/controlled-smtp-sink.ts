import type { AddressInfo } from 'node:net'
import { simpleParser } from 'mailparser'
import { SMTPServer } from 'smtp-server'
import type { ReceivedEmail } from './smtp-sink.js'

/**
 * Where the sink stops and waits: at MAIL FROM (nothing sent yet), at RCPT TO (nothing of the
 * message sent yet, but its recipient known), or after the end-of-data dot (message complete, reply withheld).
 */
export const HOLD_STAGES = ['mail', 'rcpt', 'data'] as const
export type HoldStage = (typeof HOLD_STAGES)[number]

/** One SMTP transaction as the server saw it, from MAIL FROM on. */
export interface SmtpTransaction {
  /** 1 for the first transaction since the sink started. */
  readonly n: number
  /** Envelope recipients accepted so far. */
  readonly to: string[]
  /** Message-ID of the message, once the server has the whole of it (end-of-data dot). */
  messageId?: string
  /** Whether the server got the whole message; false for a transaction abandoned on the way. */
  complete: boolean
}

/**
 * A real SMTP server on loopback that can stop in the middle of the n-th transaction, so a test
 * can kill the sender at a known point. At 'data' it behaves like a real MTA: the message is
 * stored as soon as the final dot arrives, and the 250 reply is what is withheld.
 */
export class ControlledSmtpSink {
  readonly received: ReceivedEmail[] = []
  /** Every transaction begun, complete or not, in order: what each sender attempted. */
  readonly transactions: SmtpTransaction[] = []
  #server: SMTPServer | undefined
  #port = 0
  #transactions = 0
  #hold: { stage: HoldStage; nth: number; reached: () => void; release?: () => void } | undefined

  get url(): string {
    return `smtp://127.0.0.1:${this.#port}`
  }

  /** Stops at `stage` of the nth transaction from now (1 = the next one); resolves once it is there. */
  holdAt(stage: HoldStage, nth: number): Promise<void> {
    return new Promise((resolve) => {
      this.#hold = { stage, nth: this.#transactions + nth, reached: resolve }
    })
  }

  /** Lets a held transaction go on (its client may be dead by now). */
  release(): void {
    const hold = this.#hold
    this.#hold = undefined
    hold?.release?.()
  }

  #maybeHold(stage: HoldStage, transaction: number, go: () => void): void {
    const hold = this.#hold
    if (!hold || hold.stage !== stage || hold.nth !== transaction) return go()
    hold.release = go
    hold.reached()
  }

  async start(): Promise<this> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onMailFrom: (_address, session, callback) => {
        const transaction = ++this.#transactions
        ;(session as unknown as { transaction: number }).transaction = transaction
        this.transactions.push({ n: transaction, to: [], complete: false })
        this.#maybeHold('mail', transaction, () => callback())
      },
      onRcptTo: (address, session, callback) => {
        const transaction = (session as unknown as { transaction: number }).transaction
        this.transactions.find((t) => t.n === transaction)?.to.push(address.address)
        this.#maybeHold('rcpt', transaction, () => callback())
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = []
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('end', () => {
          const raw = Buffer.concat(chunks)
          simpleParser(raw).then((parsed) => {
            this.received.push({ envelopeTo: session.envelope.rcptTo.map((r) => r.address), raw, parsed })
            const transaction = (session as unknown as { transaction: number }).transaction
            const record = this.transactions.find((t) => t.n === transaction)
            if (record) Object.assign(record, { messageId: parsed.messageId, complete: true })
            this.#maybeHold('data', transaction, () => callback())
          }, callback)
        })
      },
    })
    server.on('error', () => {}) // a client killed mid-transaction resets its connection
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    this.#port = (server.server.address() as AddressInfo).port
    this.#server = server
    return this
  }

  async stop(): Promise<void> {
    this.release()
    const server = this.#server
    this.#server = undefined
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
