import type { AddressInfo } from 'node:net'
import { type ParsedMail, simpleParser } from 'mailparser'
import { SMTPServer } from 'smtp-server'

export interface ReceivedEmail {
  readonly envelopeTo: string[]
  readonly raw: Buffer
  readonly parsed: ParsedMail
}

/**
 * A real SMTP server on loopback that keeps what it receives, for tests to read.
 * `rejectNext(n)` makes it answer the next n messages with a temporary failure (451).
 */
export class SmtpSink {
  readonly received: ReceivedEmail[] = []
  #server: SMTPServer | undefined
  #port = 0
  #reject = 0

  get url(): string {
    return `smtp://127.0.0.1:${this.#port}`
  }

  get port(): number {
    return this.#port
  }

  async start(port = 0): Promise<this> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = []
        stream.on('data', (c: Buffer) => chunks.push(c))
        stream.on('end', () => {
          if (this.#reject > 0) {
            this.#reject--
            const error = Object.assign(new Error('try again later'), { responseCode: 451 })
            return callback(error)
          }
          const raw = Buffer.concat(chunks)
          simpleParser(raw).then((parsed) => {
            this.received.push({ envelopeTo: session.envelope.rcptTo.map((r) => r.address), raw, parsed })
            callback()
          }, callback)
        })
      },
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    this.#port = (server.server.address() as AddressInfo).port
    this.#server = server
    return this
  }

  rejectNext(count: number): void {
    this.#reject = count
  }

  async stop(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
