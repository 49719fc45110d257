import { mkdir, open, rename, stat, unlink } from 'node:fs/promises'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import nodemailer from 'nodemailer'
import MailComposer from 'nodemailer/lib/mail-composer'
import SMTPConnection from 'nodemailer/lib/smtp-connection'
import { NonRetryableError, RetryableError } from '@arachnid/core'

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
  /** Message-ID of the email this one follows up (reminders thread under the first notice). */
  readonly inReplyTo?: string | null
  readonly headers?: Readonly<Record<string, string>>
}

/** Hooks a transport calls while sending; the outbox uses them to record how far a send got. */
export interface SendHooks {
  /**
   * Called when everything but the final commit (SMTP's end-of-data dot, the .eml rename) has
   * been handed over. If it throws, the send is abandoned before the point of no return.
   */
  beforeCommit?(): Promise<void>
}

/** Where outbox emails go: the part of a mail system the notifier uses. */
export interface MailTransport {
  readonly name: string
  send(email: OutgoingEmail, hooks?: SendHooks): Promise<void>
  close(): Promise<void>
}

function toMailOptions(email: OutgoingEmail) {
  return {
    from: email.from, to: email.to, subject: email.subject, text: email.text, html: email.html,
    messageId: email.messageId,
    ...(email.inReplyTo ? { inReplyTo: email.inReplyTo, references: [email.inReplyTo] } : {}),
    headers: { 'X-Arachnid-Key': email.idempotencyKey, ...email.headers },
    attachments: email.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
  }
}

function buildMessage(email: OutgoingEmail): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    new MailComposer(toMailOptions(email)).compile().build((error, message) => error ? reject(error) : resolve(message))
  })
}

/**
 * SMTP (SMTP_URL, smtp:// or smtps://, user and password in the URL when needed) over nodemailer's
 * SMTP connection, one connection per email. Once the server has accepted the envelope and DATA,
 * the message is streamed in full, then `beforeCommit` runs while the server waits, and only then
 * is the end-of-data dot sent: a process that dies
 * before that point leaves no email at the server (an SMTP server discards unfinished DATA).
 */
/** The SMTP transport's own defaults: time per SMTP exchange (connect, greeting, each answer). */
export const DEFAULT_SMTP_OPTIONS = { timeoutMs: 30_000 } as const

export class SmtpTransport implements MailTransport {
  readonly name: string
  readonly #url: URL
  readonly #timeoutMs: number

  constructor(smtpUrl: string, options: { readonly timeoutMs?: number } = {}) {
    this.#url = new URL(smtpUrl)
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_SMTP_OPTIONS.timeoutMs
    this.name = `smtp ${this.#url.host}`
  }

  async send(email: OutgoingEmail, hooks: SendHooks = {}): Promise<void> {
    const message = await buildMessage(email)
    const secure = this.#url.protocol === 'smtps:'
    const connection = new SMTPConnection({
      host: this.#url.hostname, port: Number(this.#url.port || (secure ? 465 : 25)), secure,
      connectionTimeout: this.#timeoutMs, greetingTimeout: this.#timeoutMs, socketTimeout: this.#timeoutMs,
      name: 'arachnid.invalid',
    })
    let closed = false
    const close = () => {
      if (!closed) connection.close()
      closed = true
    }
    try {
      await new Promise<void>((resolve, reject) => {
        connection.once('error', reject)
        connection.connect(() => {
          connection.removeListener('error', reject)
          resolve()
        })
      })
      connection.on('error', () => {}) // errors after connect arrive through the send callback
      if (this.#url.username) {
        await new Promise<void>((resolve, reject) => connection.login({ user: decodeURIComponent(this.#url.username), pass: decodeURIComponent(this.#url.password) }, (e) => e ? reject(e) : resolve()))
      }
      const body = new PassThrough()
      // nodemailer pipes the body only once the server has answered DATA with 354: before that
      // nothing of the message is at the server, and the row must stay in `sending`.
      const dataAccepted = new Promise<void>((resolve) => body.once('resume', () => resolve()))
      const sent = new Promise<void>((resolve, reject) => {
        connection.send({ from: addressOf(email.from), to: [addressOf(email.to)] }, body, (error) => error ? reject(error) : resolve())
      })
      sent.catch(() => {})
      // An envelope refused (or a connection lost) before DATA ends the send here, not yet committing.
      await Promise.race([dataAccepted, sent])
      body.write(message)
      try {
        await hooks.beforeCommit?.()
      } catch (error) {
        // Abandon before the dot: the server never gets a complete message.
        close()
        throw error
      }
      body.end()
      await sent
      connection.quit()
      closed = true
    } catch (error) {
      close()
      if (error instanceof NonRetryableError || error instanceof RetryableError) throw error
      const code = (error as { responseCode?: number }).responseCode
      if (code !== undefined && code >= 500) throw new NonRetryableError('SMTP_REJECTED', `SMTP refused the email: ${(error as Error).message}`, { cause: error })
      throw new RetryableError('SMTP', `SMTP delivery failed: ${(error as Error).message}`, { cause: error })
    }
  }

  async close(): Promise<void> {}
}

function addressOf(value: string): string {
  return /<([^>]+)>/.exec(value)?.[1] ?? value.trim()
}

/**
 * Writes each email as an RFC 5322 .eml file named after its idempotency key. The file appears
 * atomically (write, then rename: the rename is the commit), and a key whose file already exists
 * is not written again, so a resend after a crash is a no-op.
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

  async send(email: OutgoingEmail, hooks: SendHooks = {}): Promise<void> {
    const file = this.fileFor(email.idempotencyKey)
    if (await stat(file).then(() => true, () => false)) return
    await mkdir(this.#dir, { recursive: true })
    const info = await this.#composer.sendMail(toMailOptions(email))
    const temp = `${file}.${process.pid}.tmp`
    const handle = await open(temp, 'w')
    try {
      await handle.writeFile(info.message as Buffer)
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await hooks.beforeCommit?.()
    } catch (error) {
      await unlink(temp).catch(() => {})
      throw error
    }
    await rename(temp, file)
  }

  async close(): Promise<void> {
    this.#composer.close()
  }
}
