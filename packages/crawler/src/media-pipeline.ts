import { createHash } from 'node:crypto'
import { CriticalError, type Database, type Kysely, type Logger, NonRetryableError, describeError, hexToBytes, sql } from '@arachnid/core'
import type { ImageHasher, ImageHashes } from '@arachnid/hasher'
import { type KnownMatch, type MatchService, type Probe, queueJobSuspects, recordMatches } from '@arachnid/matcher'
import { type VideoHashes, looksLikeVideo } from '@arachnid/video'
import type { DiscoveredMedia } from './discover.js'
import { recordSkips } from './frontier.js'
import type { HostClock } from './host-clock.js'
import { type BoundedFetcher, evidenceHeaders } from '@arachnid/net'
import { DEFAULT_URL_POLICY, refuseMediaUrl, type SkipReason, type UrlPolicyOptions } from './url-policy.js'

/** What hashing a media gives: an image's hashes, or a video's (its file hashes and one PDQ per second). */
export type MediaHashes = ImageHashes | VideoHashes

export function isVideoHashes(hashes: MediaHashes): hashes is VideoHashes {
  return hashes.format === 'video' && Array.isArray(hashes.frames) && 'durationSeconds' in hashes
}

/** Hashes a video's bytes in memory (the video package's VideoHasher, with ffmpeg). */
export interface VideoHasherLike {
  hash(bytes: Uint8Array): Promise<VideoHashes>
}

/** The file extensions of video URLs, for choosing a fetch's byte bound before the bytes say what they are. */
const VIDEO_URL = /\.(mp4|m4v|webm|mov|mkv|avi|mpg|mpeg|ts|m2ts|flv|ogv|3gp)$/i

/** A media URL whose content matched, handed to the match intake. */
export interface MatchedMedia {
  readonly jobId: number
  readonly fetchId: number
  readonly mediaId: number
  readonly url: string
  readonly finalUrl: string
  readonly serverIp: string | null
  readonly pageUrls: readonly string[]
  readonly detectedAt: Date
  readonly hashes: MediaHashes
  readonly matches: readonly KnownMatch[]
}

/**
 * Where a batch's matched media go: matches recorded, the review policy applied, notices created
 * for what it lets through. The notifier's `MatchIntake` is one; the crawler takes it injected, so
 * it does not depend on the notifier.
 */
export interface MatchIntake {
  intake(items: readonly MatchedMedia[]): Promise<{ readonly notices: { readonly created: number } }>
}

export interface MediaCounters {
  mediaQueued: number
  media: number
  mediaErrors: number
  /** Distinct contents (sha256) among the media hashed: the job's figure counts the same across all its workers. */
  distinctMedia: number
  bytes: number
  matchedMedia: number
  exactMatches: number
  nearMatches: number
  notices: number
  errors: Record<string, number>
}

export interface MediaPipelineOptions {
  readonly maxMediaBytes: number
  /**
   * Bytes allowed for a video (a response whose Content-Type is video/*, or whose URL ends in a
   * video extension); other media stay within maxMediaBytes. Default: maxMediaBytes.
   */
  readonly maxVideoBytes?: number
  readonly requestTimeoutMs: number
  readonly maxRedirects: number
  /** Media fetched and hashed at once by this worker. */
  readonly concurrency: number
  /** Media leased and matched together in one lookup. */
  readonly batchSize: number
  readonly leaseMs: number
  readonly maxLeases: number
  /** The deny list and third-party fetch rules apply to media as to pages. Default DEFAULT_URL_POLICY. */
  readonly urlPolicy?: UrlPolicyOptions
}

export interface MediaPipelineDeps {
  readonly db: Kysely<Database>
  readonly hasher: ImageHasher
  /** Hashes videos. Without it a video fails as the image hasher fails it (UNSUPPORTED_FORMAT). */
  readonly videoHasher?: VideoHasherLike
  readonly matcher: MatchService
  readonly fetcher: BoundedFetcher
  readonly logger?: Logger
  /** Where matched media go. Without it, matches are recorded (with the review policy's decision) and nothing is noticed. */
  readonly intake?: MatchIntake
  /** Politeness: each media request takes its host's turn here (robots.txt and pages share the clock). */
  readonly clock?: HostClock
}

interface Leased { id: number; url: string; attempts: number }
/** What a successful fetch leaves as evidence on its media_fetches row (written with the batch's done mark). */
interface Evidence { fetchedAt: Date; status: number; finalUrl: string; serverIp: string | null; bytes: number; contentType: string | null; headers: string }
interface Hashed { fetchId: number; mediaId: number; sha256: string; url: string; finalUrl: string; serverIp: string | null; hashes: MediaHashes; evidence: Evidence }

const EXACT = new Set(['sha256', 'md5', 'sha1'])
/** A worker looks for the job's suspects at most this often while its batches find matches. */
const SUSPECT_SWEEP_MS = 60_000

/**
 * Media of one job, shared by every worker through the media_fetches table: found URLs are rows
 * (one per URL per job), leased in batches, fetched and hashed in memory, matched in one lookup
 * per batch, and marked done only after their matches and notices are recorded, so a worker that
 * dies mid-batch leaves the batch to be leased again, and re-doing it doubles nothing.
 */
export class MediaPipeline {
  readonly counters: MediaCounters
  readonly #deps: MediaPipelineDeps
  readonly #jobId: number
  readonly #options: MediaPipelineOptions
  readonly #worker: string
  readonly #knownContent = new Map<string, Promise<MediaHashes>>()
  #suspectsDue = false
  #suspectsSweptAt = performance.now()

  constructor(deps: MediaPipelineDeps, jobId: number, options: MediaPipelineOptions, worker: string, counters: MediaCounters) {
    this.#deps = deps
    this.#jobId = jobId
    this.#options = options
    this.#worker = worker
    this.counters = counters
  }

  /**
   * The media found on a page that the URL policy lets through, one per URL (the last place it was
   * found on the page names the sighting); refusals are counted by reason in the job's skips.
   */
  async allowed(found: readonly DiscoveredMedia[]): Promise<{ url: string; via: string }[]> {
    const policy = { ...DEFAULT_URL_POLICY, ...this.#options.urlPolicy }
    const skips = new Map<SkipReason, { count: number; example: string }>()
    const media = new Map<string, string>()
    for (const m of found) {
      let reason: SkipReason | undefined
      try {
        reason = refuseMediaUrl(new URL(m.url), policy)
      } catch {
        continue
      }
      if (reason === undefined) {
        media.set(m.url, m.via)
        continue
      }
      const entry = skips.get(reason) ?? { count: 0, example: m.url }
      entry.count++
      skips.set(reason, entry)
    }
    if (skips.size > 0) await recordSkips(this.#deps.db, this.#jobId, skips)
    return [...media].map(([url, via]) => ({ url, via }))
  }

  /** Media URLs registered elsewhere (the page writer's statement), for this worker's figures. */
  queued(count: number): void {
    this.counters.mediaQueued += count
  }

  /** Registers the media found on a page (or given as seeds when pageId is null) and their sightings. */
  async register(pageId: number | null, found: readonly DiscoveredMedia[]): Promise<void> {
    const media = await this.allowed(found)
    if (media.length === 0) return
    const rows = await this.#deps.db.insertInto('media_fetches')
      .values(media.map((m) => ({ job_id: this.#jobId, url: m.url, state: 'pending' as const })))
      .onConflict((oc) => oc.columns(['job_id', 'url']).doUpdateSet((eb) => ({ url: eb.ref('excluded.url') })))
      .returning(['id', 'url', sql<boolean>`(xmax = 0)`.as('inserted')]).execute()
    if (pageId !== null) {
      const via = new Map(media.map((m) => [m.url, m.via]))
      await this.#deps.db.insertInto('sightings')
        .values(rows.map((r) => ({ job_id: this.#jobId, page_id: pageId, fetch_id: r.id, via: via.get(r.url) ?? 'link' })))
        .onConflict((oc) => oc.columns(['page_id', 'fetch_id']).doNothing()).execute()
    }
    this.counters.mediaQueued += rows.filter((r) => r.inserted).length
  }

  /** Whether any media of the job is still pending or leased (by any worker). */
  async hasOpenWork(): Promise<boolean> {
    const open = await this.#deps.db.selectFrom('media_fetches').select('id').where('job_id', '=', this.#jobId)
      .where('state', 'in', ['pending', 'leased']).limit(1).executeTakeFirst()
    return open !== undefined
  }

  /**
   * Processes batches until `pagesDone()` is true and no media of the job is open. Several
   * loops run at once so that fetching one batch overlaps matching another.
   */
  async run(pagesDone: () => boolean, stopped: () => boolean): Promise<void> {
    // Each loop fetches and hashes a batch, then waits on its match and records; more loops, each
    // with a little concurrency, keep the network, the hasher and the database busy at once.
    const loops = Math.max(1, Math.min(8, Math.ceil(this.#options.concurrency / 2)))
    await Promise.all(Array.from({ length: loops }, () => this.#loop(pagesDone, stopped, Math.max(1, Math.floor(this.#options.concurrency / loops)))))
    // This worker's part is done: what was seen beside the job's matches waits for analysts now.
    await this.#sweepSuspects()
  }

  /**
   * Media beside a confirmed match that match nothing wait for analysts to classify them (the
   * suspect policy's rules and bounds; nothing when it is off): over the whole job, at most once a
   * minute while batches find matches, and when the worker's part ends.
   */
  async #sweepSuspects(): Promise<void> {
    this.#suspectsDue = false
    this.#suspectsSweptAt = performance.now()
    await queueJobSuspects(this.#deps.db, this.#jobId)
  }

  async #loop(pagesDone: () => boolean, stopped: () => boolean, concurrency: number): Promise<void> {
    for (;;) {
      if (stopped()) return
      const batch = await this.#lease(Math.max(8, Math.ceil(this.#options.batchSize / 2)))
      if (batch.length === 0) {
        if (pagesDone() && !(await this.hasOpenWork())) return
        await new Promise((resolve) => setTimeout(resolve, 100))
        continue
      }
      await this.#processBatch(batch, concurrency, stopped)
    }
  }

  async #lease(limit: number): Promise<Leased[]> {
    const { rows } = await sql<Leased>`
      update media_fetches set state = 'leased', attempts = attempts + 1, leased_by = ${this.#worker},
        lease_until = now() + make_interval(secs => ${this.#options.leaseMs / 1000})
      where id in (
        -- Pending media, and media whose lease ran out, each read in id order from the
        -- (job_id, state, id) index. One condition with an OR was read along the primary key
        -- instead, past every media the job had done: 5 ms a lease at 15,000 done, growing with the job.
        select id from (
          select id from (
            select id from media_fetches where job_id = ${this.#jobId} and state = 'pending'
            order by id limit ${limit} for update skip locked) pending
          union all
          select id from (
            select id from media_fetches where job_id = ${this.#jobId} and state = 'leased' and lease_until < now()
            order by id limit ${limit} for update skip locked) expired
        ) open order by id limit ${limit})
      returning id, url, attempts`.execute(this.#deps.db)
    const given = rows.filter((r) => r.attempts > this.#options.maxLeases)
    for (const row of given) await this.#fail(row, 'LEASE_EXPIRED', `leased ${row.attempts - 1} times without finishing`, {})
    return rows.filter((r) => r.attempts <= this.#options.maxLeases)
  }

  async #processBatch(batch: Leased[], concurrency: number, stopped: () => boolean): Promise<void> {
    const hashed: Hashed[] = []
    const db = this.#deps.db
    const delays = this.#deps.clock ? await this.#deps.clock.delays(batch.map((item) => hostOf(item.url))) : new Map<string, number>()
    // A batch can outlast its lease (a host's politeness delay, a slow server): keep the lease
    // while this worker is on it, so no other worker takes the same media meanwhile.
    const open = new Set(batch.map((item) => item.id))
    const renew = setInterval(() => {
      if (open.size === 0) return
      void db.updateTable('media_fetches').set({ lease_until: sql<Date>`now() + make_interval(secs => ${this.#options.leaseMs / 1000})` })
        .where('id', 'in', [...open]).where('state', '=', 'leased').where('leased_by', '=', this.#worker).execute().catch(() => {})
    }, Math.max(200, this.#options.leaseMs / 3))
    let next = 0
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, batch.length) }, async () => {
        while (next < batch.length) {
          const item = batch[next++]!
          if (stopped() && (delays.get(hostOf(item.url)) ?? 0) > 0) {
            // Stopping: what still waits for its host's turn goes back to the queue.
            await this.#release(item)
            open.delete(item.id)
            continue
          }
          const result = await this.#fetchAndHash(item).catch(async (error) => {
            // The process cannot go on: stop the batch (the leases return to the queue) rather than record it against the media.
            if (error instanceof CriticalError) throw error
            const { code, message } = describeError(error)
            await this.#fail(item, code, message, {})
            return undefined
          })
          if (result) hashed.push(result)
          else open.delete(item.id)
        }
      }))
      if (hashed.length > 0) await this.#store(hashed)
      if (hashed.length > 0) await this.#match(hashed)
      // Done only once matched and recorded (a worker that dies before leaves the batch to be taken
      // again); each fetch's evidence and media go with the done mark, in one statement per batch.
      if (hashed.length > 0) await this.#done(hashed)
      // After the done mark: the sweep reads each fetch's media from it.
      if (this.#suspectsDue && performance.now() - this.#suspectsSweptAt > SUSPECT_SWEEP_MS) await this.#sweepSuspects()
    } finally {
      clearInterval(renew)
    }
  }

  /** Marks a batch's hashed media done, with each fetch's evidence and media, in one statement. */
  async #done(hashed: readonly Hashed[]): Promise<void> {
    const rows = JSON.stringify(hashed.map((h) => ({
      id: h.fetchId, media_id: h.mediaId, fetched_at: h.evidence.fetchedAt.toISOString(), status: h.evidence.status, final_url: h.evidence.finalUrl,
      server_ip: h.evidence.serverIp, bytes: h.evidence.bytes, content_type: h.evidence.contentType, headers: JSON.parse(h.evidence.headers) as unknown,
    })))
    await retryDeadlock(() => sql`update media_fetches f set state = 'done', lease_until = null, error_code = null, error_message = null,
        media_id = v.media_id, fetched_at = v.fetched_at, status = v.status, final_url = v.final_url, server_ip = v.server_ip,
        bytes = v.bytes, content_type = v.content_type, headers = v.headers
      from jsonb_to_recordset(${rows}::jsonb) as v(id integer, media_id integer, fetched_at timestamptz, status integer, final_url text,
        server_ip text, bytes integer, content_type text, headers jsonb)
      where f.id = v.id`.execute(this.#deps.db))
  }

  async #release(item: Leased): Promise<void> {
    await this.#deps.db.updateTable('media_fetches').set({ state: 'pending', lease_until: null, leased_by: null, attempts: sql<number>`greatest(attempts - 1, 0)` })
      .where('id', '=', item.id).where('leased_by', '=', this.#worker).execute()
  }

  async #fetchAndHash(task: Leased): Promise<Hashed | undefined> {
    const o = this.#options
    const clock = this.#deps.clock
    // Politeness: the request (and each redirect hop) takes its host's turn as it goes out.
    // (The batch's hosts' delays are known to the clock already: a host without one costs nothing.)
    const beforeRequest = clock ? (url: URL) => clock.turn(url) : undefined
    let fetched
    try {
      const maxVideoBytes = this.#deps.videoHasher ? o.maxVideoBytes ?? o.maxMediaBytes : o.maxMediaBytes
      fetched = await this.#deps.fetcher.fetch(task.url, {
        maxBytes: o.maxMediaBytes, timeoutMs: o.requestTimeoutMs, maxRedirects: o.maxRedirects, beforeRequest,
        // A video has its own bound, chosen from what the server says it is (or the URL's extension).
        maxBytesFor: (headers, url) => (isVideoResponse(headers['content-type'], url) ? maxVideoBytes : o.maxMediaBytes),
      })
    } catch (error) {
      const { code, message } = describeError(error)
      const response = (error as { response?: { statusCode: number; url: string; ip?: string; headers: Record<string, string> } }).response
      await this.#fail(task, code, message, {
        status: response?.statusCode ?? null, final_url: response?.url ?? null, server_ip: response?.ip ?? null,
        headers: response ? JSON.stringify(evidenceHeaders(response.headers)) : null,
      })
      return undefined
    }
    this.counters.bytes += fetched.body.length
    const evidence: Evidence = {
      fetchedAt: new Date(), status: fetched.statusCode, finalUrl: fetched.url, serverIp: fetched.ip ?? null, bytes: fetched.body.length,
      contentType: typeof fetched.headers['content-type'] === 'string' ? fetched.headers['content-type'] : null,
      headers: JSON.stringify(evidenceHeaders(fetched.headers)),
    }
    const sha256 = createHash('sha256').update(fetched.body).digest('hex')
    // The same bytes under several URLs (mirrors) are hashed and stored once, even when they
    // arrive at once: the second waits for the first's result (or its failure, which is its own too).
    let pending = this.#knownContent.get(sha256)
    const first = pending === undefined
    if (pending === undefined) {
      pending = this.#hash(fetched.body, evidence.contentType ?? undefined)
      this.#knownContent.set(sha256, pending)
      pending.catch(() => this.#knownContent.delete(sha256))
    }
    let known: MediaHashes
    try {
      known = await pending
    } catch (error) {
      const { code, message } = describeError(error)
      await this.#fail(task, code, message, {
        fetched_at: evidence.fetchedAt, status: evidence.status, final_url: evidence.finalUrl, server_ip: evidence.serverIp, bytes: evidence.bytes,
        content_type: evidence.contentType, headers: evidence.headers,
      })
      return undefined
    }
    // Distinct contents this worker hashed (whether or not an earlier job had): with one worker, the job's figure.
    if (first) this.counters.distinctMedia++
    this.counters.media++
    // Its media row is written with the batch's (#store): the id is set there.
    return { fetchId: task.id, mediaId: 0, sha256, url: task.url, finalUrl: fetched.url, serverIp: fetched.ip ?? null, hashes: known, evidence }
  }

  async #hash(bytes: Buffer, contentType: string | undefined): Promise<MediaHashes> {
    const video = this.#deps.videoHasher
    if (video !== undefined && looksLikeVideo(bytes, contentType)) {
      if (this.#options.maxVideoBytes !== undefined && bytes.length > this.#options.maxVideoBytes) {
        throw new NonRetryableError('TOO_LARGE', `video of ${bytes.length} bytes exceeds ${this.#options.maxVideoBytes}`)
      }
      return video.hash(bytes)
    }
    if (bytes.length > this.#options.maxMediaBytes) {
      // Fetched within the video bound (the server said video/*), but not a video.
      throw new NonRetryableError('TOO_LARGE', `${bytes.length} bytes of what is not a video exceeds ${this.#options.maxMediaBytes}`)
    }
    return this.#deps.hasher.hash(bytes)
  }

  /**
   * The media rows of a batch's contents, one statement for the batch: each distinct content
   * (sha256) once, kept if already there. An image's row has its hashes; a video's its file
   * hashes, duration and frames (one PDQ per second with quality and timestamp), never its bytes.
   * Sets each item's mediaId.
   */
  async #store(hashed: Hashed[]): Promise<void> {
    const distinct = new Map<string, MediaHashes>()
    for (const h of hashed) distinct.set(h.sha256, h.hashes)
    // In sha256 order: two loops (or workers) storing batches that share contents lock the same
    // media rows in the same order, where opposite orders deadlocked on Postgres (seen in CI).
    const rows = [...distinct.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, hashes]) => {
      const files = { sha256: hexToBytes(hashes.sha256), md5: hexToBytes(hashes.md5), sha1: hexToBytes(hashes.sha1), width: hashes.width, height: hashes.height, bytes: hashes.bytes }
      if (isVideoHashes(hashes)) {
        const qualities = hashes.frames.map((f) => f.quality)
        return {
          ...files, blockhash: null, pdq: null, pdq_quality: videoQuality(qualities), format: hashes.container.split(',')[0] ?? 'video',
          kind: 'video' as const, duration_seconds: hashes.durationSeconds, frames: Buffer.concat(hashes.frames.map((f) => Buffer.from(f.pdq, 'hex'))),
          frame_qualities: Uint8Array.from(qualities), frame_timestamps: hashes.frames.map((f) => f.timestamp),
        }
      }
      return {
        ...files, blockhash: hexToBytes(hashes.blockhash), pdq: hexToBytes(hashes.pdq), pdq_quality: hashes.pdqQuality, format: hashes.format,
        kind: 'image' as const, duration_seconds: null, frames: null, frame_qualities: null, frame_timestamps: null,
      }
    })
    const stored = await retryDeadlock(() => this.#deps.db.insertInto('media').values(rows)
      .onConflict((oc) => oc.column('sha256').doUpdateSet((eb) => ({ sha256: eb.ref('excluded.sha256') })))
      .returning(['id', 'sha256']).execute())
    const ids = new Map(stored.map((r) => [Buffer.from(r.sha256).toString('hex'), r.id]))
    for (const h of hashed) h.mediaId = ids.get(h.sha256)!
  }

  async #fail(task: Leased, code: string, message: string, evidence: Record<string, unknown>): Promise<void> {
    this.counters.mediaErrors++
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1
    this.#deps.logger?.debug({ url: task.url, code, message }, 'media not hashed')
    await this.#deps.db.updateTable('media_fetches')
      .set({ ...evidence, error_code: code, error_message: message.slice(0, 1000), state: 'done', lease_until: null } as never)
      .where('id', '=', task.id).execute()
  }

  /** One lookup for the whole batch; what matched goes to the intake (matches recorded once, notices for what the policy lets through). */
  async #match(batch: Hashed[]): Promise<void> {
    const probes: Probe[] = []
    const owner: number[] = []
    batch.forEach((item, i) => {
      const h = item.hashes
      if (isVideoHashes(h)) {
        // The file exactly, then its frames: near image entries, and known videos by vPDQ's rule.
        for (const algorithm of ['sha256', 'md5', 'sha1'] as const) { probes.push({ algorithm, hash: h[algorithm] }); owner.push(i) }
        probes.push({ algorithm: 'vpdq', hash: h.sha256, frames: h.frames }); owner.push(i)
        // A letterboxed copy matches by its frames with the bars cut off (vPDQ's own frames do not).
        if (h.unbarredFrames) { probes.push({ algorithm: 'vpdq', hash: h.sha256, frames: h.unbarredFrames }); owner.push(i) }
        return
      }
      for (const algorithm of ['sha256', 'md5', 'sha1', 'blockhash'] as const) { probes.push({ algorithm, hash: h[algorithm] }); owner.push(i) }
      // Rotated and mirrored copies match through the dihedral hashes, when the hasher gives them.
      probes.push({ algorithm: 'pdq', hash: h.pdq, quality: h.pdqQuality, dihedral: h.pdqDihedral }); owner.push(i)
    })
    const results = await this.#deps.matcher.match(probes)
    const perItem: KnownMatch[][] = batch.map(() => [])
    results.forEach((found, p) => {
      const list = perItem[owner[p]!]!
      for (const m of found) if (!list.some((x) => x.knownHashId === m.knownHashId)) list.push(m)
    })
    const matched = batch.map((item, i) => ({ item, matches: perItem[i]! })).filter((x) => x.matches.length > 0)
    if (matched.length === 0) return
    this.#suspectsDue = true
    const intake = this.#deps.intake
    if (intake === undefined) {
      await recordMatches(this.#deps.db, matched.map((x) => ({ mediaId: x.item.mediaId, jobId: this.#jobId, matches: x.matches })))
    } else {
      const pages = await this.#deps.db.selectFrom('sightings as s').innerJoin('pages as p', 'p.id', 's.page_id')
        .where('s.fetch_id', 'in', matched.map((x) => x.item.fetchId)).select(['s.fetch_id', 'p.url']).execute()
      const detectedAt = new Date()
      // Only media the review policy auto-confirmed (or an analyst confirmed) are noticed; the rest
      // wait in the review queue, and an analyst's confirmation notices them.
      const outcome = await intake.intake(matched.map(({ item, matches }) => ({
        jobId: this.#jobId, fetchId: item.fetchId, mediaId: item.mediaId, url: item.url, finalUrl: item.finalUrl,
        serverIp: item.serverIp, detectedAt, hashes: item.hashes, matches,
        pageUrls: pages.filter((p) => p.fetch_id === item.fetchId).map((p) => p.url),
      })))
      this.counters.notices += outcome.notices.created
    }
    for (const x of matched) {
      this.counters.matchedMedia++
      if (x.matches.some((m) => EXACT.has(m.algorithm))) this.counters.exactMatches++
      else this.counters.nearMatches++
    }
  }
}

/** Whether a response is to be read as a video: its Content-Type says video/*, or its URL ends in a video extension. */
function isVideoResponse(contentType: string | string[] | undefined, url: URL): boolean {
  const type = (Array.isArray(contentType) ? contentType[0] : contentType)?.toLowerCase() ?? ''
  return type.startsWith('video/') || VIDEO_URL.test(url.pathname)
}

/**
 * A video's PDQ quality, for the review policy (which holds low-quality content for an analyst): the
 * median of its frames' qualities; null when it has no frame.
 */
function videoQuality(qualities: readonly number[]): number | null {
  if (qualities.length === 0) return null
  const sorted = [...qualities].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

/** The host (with a port that is not the scheme's default) a URL is fetched from: the politeness clock's key. */
function hostOf(url: string): string {
  try {
    return new URL(url).host.toLowerCase()
  } catch {
    return ''
  }
}

/**
 * Runs one statement (never a transaction's), again when Postgres chose it as a deadlock's victim
 * (SQLSTATE 40P01): the statement was rolled back whole, so running it again is safe. Up to 3 tries.
 * A batch's media insert and another batch's done marks (the foreign key's share lock on media rows)
 * can wait on each other in a crawl; seen in CI, it ended the crawl.
 */
async function retryDeadlock<T>(statement: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement()
    } catch (error) {
      if (attempt >= 3 || (error as { code?: unknown }).code !== '40P01') throw error
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 30))
    }
  }
}
