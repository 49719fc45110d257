import { createHash } from 'node:crypto'
import { type Database, type Kysely, type Logger, SETTINGS, type Transaction, bytesToHex, describeError, sql, withDefaults } from '@arachnid/core'
import type { ImageHasher } from '@arachnid/hasher'
import { AddressGuard, BoundedFetcher, resolveThrough } from '@arachnid/net'
import { hammingDistance } from '@arachnid/hasher'
import { type VideoFrameHash, vpdqMatch } from '@arachnid/video'
import type { HostResolver } from './host-resolver.js'
import { type NoticeMailContext, enqueueNoticeEmail } from './notice-mail.js'
import type { Provider } from './provider-directory.js'
import type { ProviderResolver } from './provider-resolver.js'

export const CHECK_OUTCOMES = ['present', 'gone', 'inconclusive'] as const
export type CheckOutcome = (typeof CHECK_OUTCOMES)[number]

export interface CheckResult {
  readonly outcome: CheckOutcome
  /** Why: 'same-content', 'similar-content', 'http-404', 'http-410', 'dns', 'refused', 'content-changed', or the error code. */
  readonly reason: string
  readonly status?: number
}

/** Options of the rechecks; each one that is a setting defaults to that setting's default (the CLI passes the configured values). */
export interface RecheckOptions {
  /** Seconds between checks of an open notice. Default: ARACHNID_RECHECK_INTERVAL's. */
  readonly intervalSeconds?: number
  /** Consecutive "gone" checks that confirm a removal. Default: ARACHNID_REMOVAL_CHECKS's. */
  readonly removalChecks?: number
  /** Reminders after which the upstream network is notified too (and again every as many). Default: ARACHNID_ESCALATE_AFTER's. */
  readonly escalateAfter?: number
  /** Notices checked per claim. Default 20. */
  readonly batchSize?: number
  /** Bytes read of a re-fetched media URL. Default: ARACHNID_MAX_MEDIA_BYTES's. */
  readonly maxBytes?: number
  /** Bytes read of a re-fetched video. Default: ARACHNID_MAX_VIDEO_BYTES's. */
  readonly maxVideoBytes?: number
  /** Time per re-fetch. Default: ARACHNID_REQUEST_TIMEOUT_MS's. */
  readonly timeoutMs?: number
  /** Redirects followed per re-fetch. Default: ARACHNID_MAX_REDIRECTS's. */
  readonly maxRedirects?: number
  /** Addresses or CIDRs the recheck may contact although private (tests: '127.0.0.1/32'). Default none. */
  readonly allowAddresses?: readonly string[]
  /** Contact private, loopback and link-local addresses. Default: ARACHNID_ALLOW_PRIVATE's (false). */
  readonly allowPrivate?: boolean
  /** Largest distances at which re-fetched content still counts as the same material. Defaults: the match thresholds' settings. */
  readonly blockhashThreshold?: number
  readonly pdqThreshold?: number
  readonly pdqMinQuality?: number
  readonly logger?: Logger
}

export const DEFAULT_RECHECK_OPTIONS: Required<Omit<RecheckOptions, 'logger'>> = {
  intervalSeconds: SETTINGS.recheckIntervalSeconds.default, removalChecks: SETTINGS.removalChecks.default,
  escalateAfter: SETTINGS.escalateAfterReminders.default, batchSize: 20,
  maxBytes: SETTINGS.maxMediaBytes.default, maxVideoBytes: SETTINGS.maxVideoBytes.default, timeoutMs: SETTINGS.requestTimeoutMs.default, maxRedirects: SETTINGS.maxRedirects.default,
  allowAddresses: [], allowPrivate: SETTINGS.allowPrivate.default,
  blockhashThreshold: SETTINGS.blockhashThreshold.default, pdqThreshold: SETTINGS.pdqThreshold.default, pdqMinQuality: SETTINGS.pdqMinQuality.default,
}

export interface RecheckResult {
  checked: number
  present: number
  gone: number
  inconclusive: number
  removed: number
  reminders: number
  escalations: number
}

export interface RecheckDependencies {
  readonly db: Kysely<Database>
  /** DNS for the re-fetch (and the escalation's address). */
  readonly hosts: HostResolver
  readonly hasher: ImageHasher
  /**
   * Hashes a re-fetched video (the video package's VideoHasher). Without it a noticed video is
   * present while its bytes are the same, and inconclusive once they differ (never "gone" because
   * the image hasher cannot read it).
   */
  readonly videoHasher?: { hash(bytes: Uint8Array): Promise<{ readonly sha256: string; readonly frames: readonly VideoFrameHash[] }> }
  readonly mail: NoticeMailContext
  /** For escalation to the upstream network; without it there is no escalation. */
  readonly providers?: ProviderResolver
}

interface DueNotice {
  id: number
  reference: string
  idempotency_key: string
  incident: Record<string, unknown> | null
  media_url: string
  media_id: number
  provider_id: number | null
  host: string | null
  consecutive_gone: number
  reminders: number
  escalations: number
}

/**
 * Rechecks open notices on their schedule: re-fetches the media URL (bounded, address-checked),
 * hashes what comes back and compares it with the noticed content. Removal is confirmed after N
 * consecutive checks find it gone (404/410, name no longer resolving, connection refused, or
 * content whose hashes no longer match). Still there: a reminder with the same reference, and
 * after every K reminders an escalation to the upstream network's abuse contact.
 */
export class Rechecker {
  readonly #deps: RecheckDependencies
  readonly #options: Required<Omit<RecheckOptions, 'logger'>> & Pick<RecheckOptions, 'logger'>
  readonly #fetcher: BoundedFetcher

  constructor(deps: RecheckDependencies, options: RecheckOptions = {}) {
    this.#deps = deps
    this.#options = withDefaults(DEFAULT_RECHECK_OPTIONS, options)
    this.#fetcher = new BoundedFetcher(new AddressGuard({
      allow: this.#options.allowAddresses, allowPrivate: this.#options.allowPrivate,
      // Rechecks ask the same DNS servers that provider lookups do, never the system's resolver.
      resolve: resolveThrough((host) => deps.hosts.addresses(host)),
    }))
  }

  close(): void {
    this.#fetcher.close()
  }

  /** Checks every open notice that is due now, each at most once. */
  async checkDue(): Promise<RecheckResult> {
    const result: RecheckResult = { checked: 0, present: 0, gone: 0, inconclusive: 0, removed: 0, reminders: 0, escalations: 0 }
    const seen = new Set<number>()
    for (;;) {
      const due = (await this.#claim()).filter((n) => !seen.has(n.id))
      if (due.length === 0) return result
      for (const notice of due) {
        seen.add(notice.id)
        await this.#recheck(notice, result)
      }
    }
  }

  /** Re-fetches a URL and compares it with the media's hashes. */
  async check(url: string, mediaId: number): Promise<CheckResult> {
    const media = await this.#deps.db.selectFrom('media').select(['sha256', 'blockhash', 'pdq', 'kind', 'frames', 'frame_qualities']).where('id', '=', mediaId).executeTakeFirstOrThrow()
    const video = media.kind === 'video'
    let body: Buffer
    try {
      body = (await this.#fetcher.fetch(url, { maxBytes: video ? Math.max(this.#options.maxBytes, this.#options.maxVideoBytes) : this.#options.maxBytes, timeoutMs: this.#options.timeoutMs, maxRedirects: this.#options.maxRedirects })).body
    } catch (error) {
      const status = (error as { response?: { statusCode?: number } }).response?.statusCode
      if (status === 404 || status === 410) return { outcome: 'gone', reason: `http-${status}`, status }
      const cause = (error as Error).cause as NodeJS.ErrnoException | undefined
      if (cause?.code === 'ENOTFOUND') return { outcome: 'gone', reason: 'dns' }
      if (cause?.code === 'ECONNREFUSED') return { outcome: 'gone', reason: 'refused' }
      return { outcome: 'inconclusive', reason: describeError(error).code, ...(status ? { status } : {}) }
    }
    if (video) return this.#compareVideo(body, media)
    let hashes
    try {
      hashes = await this.#deps.hasher.hash(body)
    } catch (error) {
      // Something that is no longer a decodable image (a "removed" page, say) is not the material.
      const code = describeError(error).code
      if (['CORRUPT', 'EMPTY', 'UNSUPPORTED_FORMAT'].includes(code)) return { outcome: 'gone', reason: 'content-changed', status: 200 }
      return { outcome: 'inconclusive', reason: code, status: 200 }
    }
    if (hashes.sha256 === bytesToHex(media.sha256)) return { outcome: 'present', reason: 'same-content', status: 200 }
    const close = (stored: Uint8Array | null, fresh: string, threshold: number) => stored !== null && fresh.length === stored.length * 2 && hammingDistance(bytesToHex(stored), fresh) <= threshold
    if (close(media.blockhash, hashes.blockhash, this.#options.blockhashThreshold)
      || (hashes.pdqQuality >= this.#options.pdqMinQuality && close(media.pdq, hashes.pdq, this.#options.pdqThreshold))) {
      return { outcome: 'present', reason: 'similar-content', status: 200 }
    }
    return { outcome: 'gone', reason: 'content-changed', status: 200 }
  }

  /**
   * A noticed video against what its URL serves now: the same bytes, or a video whose frames match
   * the stored ones by vPDQ's rule (a re-encode at the same URL), is still the material.
   */
  async #compareVideo(body: Buffer, media: { sha256: Uint8Array; frames: Uint8Array | null; frame_qualities: Uint8Array | null }): Promise<CheckResult> {
    if (createHash('sha256').update(body).digest('hex') === bytesToHex(media.sha256)) return { outcome: 'present', reason: 'same-content', status: 200 }
    const videoHasher = this.#deps.videoHasher
    if (videoHasher === undefined) return { outcome: 'inconclusive', reason: 'no-video-hasher', status: 200 }
    let fresh
    try {
      fresh = await videoHasher.hash(body)
    } catch (error) {
      const code = describeError(error).code
      // What is no longer a decodable video (a "removed" page, an image) is not the material.
      if (['CORRUPT', 'EMPTY', 'UNSUPPORTED_FORMAT', 'NO_VIDEO_STREAM'].includes(code)) return { outcome: 'gone', reason: 'content-changed', status: 200 }
      return { outcome: 'inconclusive', reason: code, status: 200 }
    }
    const stored = media.frames ?? new Uint8Array(0)
    const known = Array.from({ length: Math.floor(stored.length / 32) }, (_, i) => ({
      pdq: bytesToHex(stored.subarray(i * 32, i * 32 + 32)), quality: media.frame_qualities?.[i] ?? 0,
    }))
    const match = vpdqMatch(fresh.frames, known, { distance: this.#options.pdqThreshold, qualityMin: this.#options.pdqMinQuality })
    return match.matched ? { outcome: 'present', reason: 'similar-content', status: 200 } : { outcome: 'gone', reason: 'content-changed', status: 200 }
  }

  async #claim(): Promise<DueNotice[]> {
    // The claim pushes next_check_at ahead (a lease), so another worker skips these notices; the
    // check sets the real next time. A worker that dies leaves them due again after the lease.
    const { rows } = await sql<DueNotice>`
      update notices set next_check_at = now() + make_interval(secs => ${Math.max(60, this.#options.timeoutMs / 1000 * 4)})
      where id in (
        select id from notices where status = 'open' and next_check_at <= now()
        order by next_check_at, id limit ${this.#options.batchSize}
        for update skip locked)
      returning id, reference, idempotency_key, incident, media_url, media_id, provider_id, host, consecutive_gone, reminders, escalations`.execute(this.#deps.db)
    return rows
  }

  async #recheck(notice: DueNotice, result: RecheckResult): Promise<void> {
    const check = await this.check(notice.media_url, notice.media_id)
    result.checked++
    result[check.outcome]++
    const { db } = this.#deps
    const interval = this.#options.intervalSeconds
    const next = sql<Date>`now() + make_interval(secs => ${interval})` as never
    const provider = notice.provider_id === null ? undefined : await db.selectFrom('providers').select(['id', 'name', 'abuse_email']).where('id', '=', notice.provider_id).executeTakeFirst()
    // Escalation needs RDAP (network I/O): decided before the transaction.
    const reminder = check.outcome === 'present' && provider !== undefined && !(await this.#hasUnsentEmail(notice.id))
    const escalate = reminder && (notice.reminders + 1) % this.#options.escalateAfter === 0
    const upstream = escalate ? await this.#upstream(notice, provider!.abuse_email) : undefined
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('notice_events').values({ notice_id: notice.id, kind: 'check', detail: JSON.stringify(check) }).execute()
      const common = { checks: sql<number>`checks + 1` as never, last_check_at: sql<Date>`now()` as never, last_check_result: `${check.outcome}:${check.reason}` }
      if (check.outcome === 'gone') {
        const gone = notice.consecutive_gone + 1
        const confirmed = gone >= this.#options.removalChecks
        const updated = await trx.updateTable('notices').set({
          ...common, consecutive_gone: gone, first_gone_at: sql<Date>`coalesce(first_gone_at, now())` as never,
          ...(confirmed
            ? { status: 'removed', removed_at: sql<Date>`coalesce(first_gone_at, now())` as never, next_check_at: null }
            : { next_check_at: next }),
        }).where('id', '=', notice.id).returning(['removed_at']).executeTakeFirstOrThrow()
        if (confirmed) {
          result.removed++
          await trx.insertInto('notice_events').values({ notice_id: notice.id, kind: 'removed', detail: JSON.stringify({ at: updated.removed_at, checks: gone, reason: check.reason }) }).execute()
          // Nothing more to say about material that is gone: reminders not yet sent are dropped.
          await trx.updateTable('outbox').set({ status: 'failed', last_error: 'cancelled: the material was removed' })
            .where('notice_id', '=', notice.id).where('status', 'in', ['pending', 'held']).execute()
        }
        return
      }
      if (check.outcome === 'inconclusive') {
        await trx.updateTable('notices').set({ ...common, next_check_at: next }).where('id', '=', notice.id).execute()
        return
      }
      await trx.updateTable('notices').set({ ...common, consecutive_gone: 0, first_gone_at: null, next_check_at: next }).where('id', '=', notice.id).execute()
      if (!reminder) return
      const firstNoticeAt = await this.#firstSent(trx, notice.id)
      const recipient: Provider = { id: provider!.id, name: provider!.name, abuseEmail: provider!.abuse_email, matchedBy: 'notice' }
      const sequence = notice.reminders + 1
      if (await enqueueNoticeEmail(trx, notice, recipient, this.#deps.mail, { kind: 'reminder', sequence, firstNoticeAt })) {
        await trx.updateTable('notices').set({ reminders: sequence }).where('id', '=', notice.id).execute()
        await trx.insertInto('notice_events').values({ notice_id: notice.id, kind: 'reminder', detail: JSON.stringify({ sequence }) }).execute()
        result.reminders++
      }
      if (!escalate) return
      if (!upstream) {
        await trx.insertInto('notice_events').values({ notice_id: notice.id, kind: 'escalation', detail: JSON.stringify({ skipped: 'no upstream abuse contact found' }) }).execute()
        return
      }
      const escalation = notice.escalations + 1
      if (await enqueueNoticeEmail(trx, notice, upstream, this.#deps.mail, { kind: 'escalation', sequence: escalation, hostedBy: provider!.name, firstNoticeAt })) {
        await trx.updateTable('notices').set({ escalations: escalation }).where('id', '=', notice.id).execute()
        await trx.insertInto('notice_events').values({ notice_id: notice.id, kind: 'escalation', detail: JSON.stringify({ sequence: escalation, to: upstream.abuseEmail, provider: upstream.name }) }).execute()
        result.escalations++
      }
    })
    this.#options.logger?.debug({ reference: notice.reference, ...check }, 'recheck')
  }

  /** The provider's email not yet out (pending, sending, held): no second one is queued behind it. */
  async #hasUnsentEmail(noticeId: number): Promise<boolean> {
    const row = await this.#deps.db.selectFrom('outbox').select('id').where('notice_id', '=', noticeId)
      .where('kind', 'in', ['notice', 'reminder']).where('status', 'in', ['pending', 'sending', 'committing', 'held']).limit(1).executeTakeFirst()
    return row !== undefined
  }

  async #firstSent(trx: Transaction<Database>, noticeId: number): Promise<Date | null> {
    const row = await trx.selectFrom('outbox').select(sql<Date | null>`min(sent_at)`.as('at')).where('notice_id', '=', noticeId).where('kind', '=', 'notice').executeTakeFirst()
    return row?.at ? new Date(row.at) : null
  }

  async #upstream(notice: DueNotice, providerEmail: string): Promise<Provider | undefined> {
    if (!this.#deps.providers) return undefined
    try {
      const serverIp = (notice.incident as { serverIp?: string | null } | null)?.serverIp ?? null
      const addresses = notice.host ? await this.#deps.hosts.addresses(notice.host).catch(() => []) : []
      for (const ip of [...addresses, ...(serverIp ? [serverIp] : [])]) {
        const upstream = await this.#deps.providers.upstream(ip, providerEmail)
        if (upstream) return upstream
      }
    } catch (error) {
      this.#options.logger?.warn({ reference: notice.reference, error: describeError(error).message }, 'upstream lookup failed; escalation waits for the next reminder')
    }
    return undefined
  }
}
