import { mkdir, open, rename, stat } from 'node:fs/promises'
import path from 'node:path'
import nodemailer, { type Transporter } from 'nodemailer'
import { RetryableError } from '@arachnid/core'

export interface OutgoingEmail {
  readonly from: string
  readonly to: string
  readonly subject: string
  readonly text: string
  readonly html: string
  readonly messageId: string
  /** Stable key of this email; a transport that can, uses it to refuse a second copy. */
  readonly idempotencyKey: string
  readonly attachments: readonly { filename: string; contentType: string; content: string }[]
  readonly headers?: Readonly<Record<string, string>>
}

/** Where outbox emails go: the part of a mail system the notifier uses. */
export interface MailTransport {
  readonly name: string
  send(email: OutgoingEmail): Promise<void>
  close(): Promise<void>
}

function toNodemailer(email: OutgoingEmail) {
  return {
    from: email.from, to: email.to, subject: email.subject, text: email.text, html: email.html,
    messageId: email.messageId, headers: { 'X-Arachnid-Key': email.idempotencyKey, ...email.headers },
    attachments: email.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
  }
}

/** SMTP through nodemailer (SMTP_URL). */
export class SmtpTransport implements MailTransport {
  readonly name: string
  readonly #transport: Transporter

  constructor(smtpUrl: string) {
    this.#transport = nodemailer.createTransport(smtpUrl)
    const url = new URL(smtpUrl)
    this.name = `smtp ${url.host}`
  }

  async send(email: OutgoingEmail): Promise<void> {
    try {
      await this.#transport.sendMail(toNodemailer(email))
    } catch (error) {
      throw new RetryableError('SMTP', `SMTP delivery failed: ${(error as Error).message}`, { cause: error })
    }
  }

  async close(): Promise<void> {
    this.#transport.close()
  }
}

/**
 * Writes each email as an RFC 5322 .eml file named after its idempotency key. The file appears
 * atomically (write, then rename), and a key whose file already exists is not written again.
 */
export class EmlDirectoryTransport implements MailTransport {
  readonly name: string
  readonly #dir: string
  readonly #composer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' })

  constructor(dir: string) {
    this.#dir = dir
    this.name = `eml ${dir}`
  }

  fileFor(idempotencyKey: string): string {
    return path.join(this.#dir, `${idempotencyKey.replace(/[^a-zA-Z0-9._-]/g, '_')}.eml`)
  }

  async send(email: OutgoingEmail): Promise<void> {
    const file = this.fileFor(email.idempotencyKey)
    if (await stat(file).then(() => true, () => false)) return
    await mkdir(this.#dir, { recursive: true })
    const info = await this.#composer.sendMail(toNodemailer(email))
    const temp = `${file}.${process.pid}.tmp`
    const handle = await open(temp, 'w')
    try {
      await handle.writeFile(info.message as Buffer)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, file)
  }

  async close(): Promise<void> {
    this.#composer.close()
  }
}
