import { type Database, type Kysely, bytesToHex } from '@arachnid/core'
import { type KnownMatch, type RecordedMatch, type ReviewPolicy, notifiableMedia, recordMatches } from '@arachnid/matcher'
import type { Reporter } from './compose-notice.js'
import { type CreateNoticesOptions, type CreateNoticesResult, type NoticeRequest, createNotices } from './create-notices.js'
import { ProviderDirectory } from './provider-directory.js'
import type { ProviderLookup } from './provider-resolver.js'

/** A media whose content matched list entries, with the URL it was just fetched from (what a crawl hands over). */
export interface FetchedMatch extends Omit<NoticeRequest, 'matches'> {
  readonly matches: readonly KnownMatch[]
}

/** A media already stored whose content matched list entries (a retro-hunt, the matching service): its URLs come from the stored evidence. */
export interface StoredMatch {
  readonly mediaId: number
  /** The crawl job the matches are recorded for; null outside a crawl. */
  readonly jobId: number | null
  readonly matches: readonly KnownMatch[]
}

export interface StoredIntakeOptions {
  /** Checks a URL live before its notice (the Rechecker's check); without it, every URL is noticed. */
  readonly recheck?: (url: string, mediaId: number) => Promise<{ readonly outcome: 'present' | 'gone' | 'inconclusive'; readonly reason: string }>
  /** The retro-hunt the rechecks are recorded for. */
  readonly huntId?: number
}

export interface IntakeResult {
  /** The matches recorded now, each with the policy's decision (a match recorded before is not recorded again). */
  readonly recorded: readonly RecordedMatch[]
  /** The media, of those given, that may be noticed now: a match auto-confirmed by the policy, or confirmed by an analyst. */
  readonly notifiable: readonly number[]
  /** The notices created for them (none for a URL already noticed). */
  readonly notices: CreateNoticesResult
}

export interface MatchIntakeOptions {
  /** Who sends the notices, as they name it. */
  readonly reporter: Reporter
  /**
   * Provider lookup for new notices. Default: the local provider directory, read on the first
   * intake and again on the first one after it is `directoryMaxAgeMs` old (see DIRECTORY_MAX_AGE_MS).
   */
  readonly lookup?: ProviderLookup
  /** How long the default directory is used before it is read again, in ms. Default DIRECTORY_MAX_AGE_MS; 0 reads it for every intake. */
  readonly directoryMaxAgeMs?: number
  /** Acknowledgement links, templates, recheck interval of the notices (createNotices' options). */
  readonly notices?: CreateNoticesOptions
  /** The review policy. Default: the one in the database, read for each intake (every worker routes alike). */
  readonly policy?: ReviewPolicy
  /** Told of every intake's notices, e.g. to deliver at once what has a provider. */
  readonly onNotices?: (result: CreateNoticesResult) => void
}

const NO_NOTICES: CreateNoticesResult = { created: 0, unassigned: 0, reuploads: 0, references: [] }

/**
 * How long an intake keeps the provider directory it read (a crawl's batches came one after the
 * other, each reading the whole directory again). How it stays fresh: a rule an operator adds is
 * used from the next read on, at most this long after; a notice created meanwhile for a host no
 * rule named yet is unassigned, and the notifier's full lookup, which reads the directory on every
 * pass, assigns it. A rule changed or removed applies to notices created after the next read.
 */
export const DIRECTORY_MAX_AGE_MS = 30_000

/**
 * The one home of "matched media -> recorded matches -> review policy -> notices". The crawler
 * hands it what a batch matched (injected, so the crawler does not depend on the notifier); the
 * analysts' confirmations, a retro-hunt (new list entries against media already seen) and the
 * matching service come through it too. Matches are recorded once per media and list entry with
 * the review policy's decision; the media the policy lets through (or an analyst confirmed) get
 * one notice per URL, with its email in the outbox; the rest wait in the review queue.
 *
 * A crawl's batch costs a handful of statements whatever it holds: the matches' read and insert,
 * the notifiable media, the notice keys, the notices with their events and emails (and the
 * unassigned hosts, when a notice has no provider).
 *
 * @example
 * const intake = new MatchIntake(db, { reporter: { name: 'Arachnid', from: 'notices@example.org' } })
 * const { recorded, notices } = await intake.intake(matchedMediaOfOneBatch)
 */
export class MatchIntake {
  readonly #db: Kysely<Database>
  readonly #options: MatchIntakeOptions
  /** The default lookup as last read, and when (see DIRECTORY_MAX_AGE_MS). */
  #directory: { readonly at: number; readonly loading: Promise<ProviderDirectory> } | undefined

  constructor(db: Kysely<Database>, options: MatchIntakeOptions) {
    this.#db = db
    this.#options = options
  }

  /** Media just fetched: the notices name the URL each was fetched from, and the pages it was seen on. */
  async intake(items: readonly FetchedMatch[]): Promise<IntakeResult> {
    const { recorded, notifiable } = await this.#record(items)
    const requests = items.filter((item) => notifiable.has(item.mediaId)).map((item) => ({ ...item, matches: item.matches.map(noticeMatch) }))
    return { recorded, notifiable: [...notifiable], notices: await this.#notify(requests) }
  }

  /**
   * Media seen before (a retro-hunt): the notices name every URL each was fetched from, from the
   * stored evidence. With `recheck`, each URL not noticed yet is fetched again first (bounded, and
   * hashed): one whose content is gone gets no notice and is recorded as gone (with `huntId`, in
   * retro_hunt_urls); one still there, or that could not be told, is noticed.
   */
  async intakeStored(items: readonly StoredMatch[], options: StoredIntakeOptions = {}): Promise<IntakeResult & { readonly gone: number }> {
    const { recorded, notifiable } = await this.#record(items)
    const requests: NoticeRequest[] = []
    let gone = 0
    for (const item of items) {
      if (!notifiable.has(item.mediaId)) continue
      const stored = await storedNoticeRequests(this.#db, item.mediaId, item.matches.map(noticeMatch), item.jobId)
      if (options.recheck === undefined) {
        requests.push(...stored)
        continue
      }
      const noticed = stored.length === 0 ? new Set<string>() : new Set((await this.#db.selectFrom('notices').where('media_url', 'in', stored.map((r) => r.url)).select('media_url').execute()).map((n) => n.media_url))
      for (const request of stored) {
        // Already noticed: its own rechecks follow it; createNotices adds nothing for it.
        if (noticed.has(request.url)) continue
        const check = await options.recheck(request.url, item.mediaId)
        if (options.huntId !== undefined) {
          await this.#db.insertInto('retro_hunt_urls').values({ hunt_id: options.huntId, media_id: item.mediaId, url: request.url, outcome: check.outcome, reason: check.reason })
            .onConflict((oc) => oc.columns(['hunt_id', 'media_id', 'url']).doNothing()).execute()
        }
        if (check.outcome === 'gone') gone++
        else requests.push(request)
      }
    }
    return { recorded, notifiable: [...notifiable], notices: await this.#notify(requests), gone }
  }

  /**
   * A media whose waiting matches an analyst confirmed: one notice per URL it was fetched from
   * (from the stored evidence, detected when last fetched, so confirming again creates nothing
   * new), naming the confirmed matches. The caller records the confirmation afterwards.
   */
  async confirmed(mediaId: number, matchIds: readonly number[]): Promise<CreateNoticesResult> {
    const matches = matchIds.length === 0 ? [] : await this.#db.selectFrom('matches as m').innerJoin('hash_lists as l', 'l.id', 'm.list_id')
      .where('m.id', 'in', [...matchIds]).select(['l.name', 'm.algorithm', 'm.distance', 'm.category', 'm.external_id', 'm.timestamps', 'm.share']).orderBy('m.distance').execute()
    const noticed = matches.map((m) => ({
      list: m.name, algorithm: m.algorithm, distance: m.distance, category: m.category, externalId: m.external_id,
      ...(m.timestamps ? { timestamps: m.timestamps.map(Number) } : {}), ...(m.share === null ? {} : { share: Number(m.share) }),
    }))
    return this.#notify(await storedNoticeRequests(this.#db, mediaId, noticed, null))
  }

  async #record(items: readonly { readonly mediaId: number; readonly jobId?: number | null; readonly matches: readonly KnownMatch[] }[]): Promise<{ recorded: RecordedMatch[]; notifiable: Set<number> }> {
    const matched = items.filter((item) => item.matches.length > 0)
    if (matched.length === 0) return { recorded: [], notifiable: new Set() }
    const recorded = await recordMatches(this.#db, matched.map((item) => ({ mediaId: item.mediaId, jobId: item.jobId ?? null, matches: item.matches })), { policy: this.#options.policy })
    // Decided by the policy now, or earlier (a match recorded before, an analyst's confirmation).
    const notifiable = await notifiableMedia(this.#db, matched.map((item) => item.mediaId))
    return { recorded, notifiable }
  }

  async #notify(requests: readonly NoticeRequest[]): Promise<CreateNoticesResult> {
    if (requests.length === 0) return NO_NOTICES
    const lookup = this.#options.lookup ?? await this.#defaultLookup()
    const result = await createNotices(this.#db, lookup, requests, this.#options.reporter, this.#options.notices)
    this.#options.onNotices?.(result)
    return result
  }

  /** The local provider directory, read again once it is older than the intake's maximum age; a failed read is not kept. */
  async #defaultLookup(): Promise<ProviderDirectory> {
    const now = Date.now()
    const maxAge = this.#options.directoryMaxAgeMs ?? DIRECTORY_MAX_AGE_MS
    if (this.#directory === undefined || now - this.#directory.at >= maxAge) {
      const loading = ProviderDirectory.load(this.#db)
      this.#directory = { at: now, loading }
      loading.catch(() => {
        if (this.#directory?.loading === loading) this.#directory = undefined
      })
    }
    return this.#directory.loading
  }
}

function noticeMatch(m: KnownMatch): NoticeRequest['matches'][number] {
  return {
    list: m.list, algorithm: m.algorithm, distance: m.distance, category: m.category, externalId: m.externalId,
    ...(m.timestamps ? { timestamps: m.timestamps } : {}), ...(m.share === undefined ? {} : { share: m.share }),
  }
}

/** The notice requests for a stored media: one per URL it was fetched from, with the evidence of its latest successful fetch. */
async function storedNoticeRequests(db: Kysely<Database>, mediaId: number, matches: NoticeRequest['matches'], jobId: number | null): Promise<NoticeRequest[]> {
  const media = await db.selectFrom('media').select(['sha256', 'md5', 'sha1', 'blockhash', 'pdq']).where('id', '=', mediaId).executeTakeFirstOrThrow()
  // The latest successful fetch of each URL: its evidence goes into the notice, and its time is the
  // detection time (so noticing again later names the same detection and creates nothing new).
  const fetches = await db.selectFrom('media_fetches').where('media_id', '=', mediaId).where('error_code', 'is', null)
    .select(['id', 'url', 'final_url', 'server_ip', 'fetched_at']).orderBy('id', 'desc').execute()
  const latest = new Map<string, (typeof fetches)[number]>()
  for (const f of fetches) if (!latest.has(f.url)) latest.set(f.url, f)
  const pages = latest.size === 0 ? [] : await db.selectFrom('sightings as s').innerJoin('pages as p', 'p.id', 's.page_id')
    .where('s.fetch_id', 'in', [...latest.values()].map((f) => f.id)).select(['s.fetch_id', 'p.url']).execute()
  const hex = (b: Uint8Array | null) => (b ? bytesToHex(b) : undefined)
  return [...latest.values()].map((f) => ({
    mediaId, jobId, url: f.url, finalUrl: f.final_url ?? f.url, serverIp: f.server_ip, detectedAt: f.fetched_at,
    pageUrls: pages.filter((p) => p.fetch_id === f.id).map((p) => p.url),
    hashes: { sha256: bytesToHex(media.sha256), md5: bytesToHex(media.md5), sha1: bytesToHex(media.sha1), blockhash: hex(media.blockhash), pdq: hex(media.pdq) },
    matches,
  }))
}
