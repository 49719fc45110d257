import { type Database, type Kysely, RetryableError, SETTINGS, bytesToHex, describeError, sql, withDefaults } from '@arachnid/core'
import type { IndexKey } from './algorithms.js'
import { lookupEntries } from './exact-lookup.js'
import { bytesToWords } from './hamming.js'
import { type KnownMatch, distinctFrames, searchVideoFrames } from './matcher.js'
import { PerceptualIndex } from './perceptual-index.js'

/** Which entries a retro-hunt looks for: the ids a list's version gained (a whole version, or an append's range). */
export interface RetroHuntScope {
  readonly listId: number
  readonly versionId: number
  readonly firstId: number
  readonly lastId: number
  /** What started the hunt: 'import', 'append', 'classification', 'command'. */
  readonly trigger: string
}

export interface RetroHuntOptions {
  /** Largest PDQ distance for lists without their own. Default: ARACHNID_PDQ_THRESHOLD's. */
  readonly pdqThreshold?: number
  /** Largest blockhash distance for lists without their own. Default: ARACHNID_BLOCKHASH_THRESHOLD's. */
  readonly blockhashThreshold?: number
  /** Media (and video frames) of lower PDQ quality are not matched. Default: ARACHNID_PDQ_MIN_QUALITY's. */
  readonly pdqMinQuality?: number
  /** vPDQ's share for a video to match a known video. Default: ARACHNID_VIDEO_MATCH_SHARE's. */
  readonly videoMatchShare?: number
  /** Media read and searched per step. Default 20000. */
  readonly pageSize?: number
  /** Told after each step. */
  readonly onProgress?: (progress: RetroHuntProgress) => void
  /** Stops between steps: the hunt is recorded as interrupted, and what it handed over stays handed over. */
  readonly signal?: AbortSignal
}

export const DEFAULT_RETRO_HUNT_OPTIONS = {
  pdqThreshold: SETTINGS.pdqThreshold.default, blockhashThreshold: SETTINGS.blockhashThreshold.default,
  pdqMinQuality: SETTINGS.pdqMinQuality.default, videoMatchShare: SETTINGS.videoMatchShare.default, pageSize: 20_000,
} as const

export interface RetroHuntProgress {
  readonly huntId: number
  /** Media searched so far, and how many there are. */
  readonly scanned: number
  readonly total: number
  /** Media found to match a new entry so far. */
  readonly matchedMedia: number
}

/** A media seen before that matches new entries: its matches, as the matcher gives them (timestamps for a video). */
export interface RetroFinding {
  readonly mediaId: number
  readonly matches: readonly KnownMatch[]
}

/** What the caller did with a step's findings: matches recorded, notices created, URLs found gone. */
export interface FindingsOutcome {
  readonly newMatches: number
  readonly notices: number
  readonly gone: number
}

export interface RetroHuntResult {
  readonly huntId: number
  readonly listId: number
  /** New entries looked for. */
  readonly entries: number
  readonly mediaScanned: number
  readonly matchedMedia: number
  readonly newMatches: number
  readonly notices: number
  readonly gone: number
  readonly seconds: number
}

/**
 * Looks for a list's new entries among every media already seen, so a hash added today finds the
 * copies crawled last month without a second crawl. Exact entries (sha256, md5, sha1) are one join
 * each against the media table; perceptual ones (PDQ, blockhash, and known videos' frames) go into
 * an in-memory multi-index of the new entries only, which the stored hashes of every media (each
 * video's frames too) are searched against, page by page. Findings go to `handle` (the notifier's
 * intake: matches recorded once through the review policy, notices after a live recheck) as they
 * come; the hunt is a row in `retro_hunts` with what it scanned and found.
 *
 * Not found: rotated or mirrored copies (the media table keeps no dihedral hashes), and letterboxed
 * videos (their bar-cropped frames are not kept either).
 *
 * @example
 * const result = await retroHunt(db, { listId, versionId, firstId, lastId, trigger: 'import' },
 *   (findings) => intake.retroHunted(findings))
 */
export async function retroHunt(
  db: Kysely<Database>, scope: RetroHuntScope,
  handle: (findings: readonly RetroFinding[], huntId: number) => Promise<FindingsOutcome>,
  options: RetroHuntOptions = {},
): Promise<RetroHuntResult> {
  const o = withDefaults(DEFAULT_RETRO_HUNT_OPTIONS, options)
  const started = performance.now()
  const entries = await db.selectFrom('known_hashes').where('version_id', '=', scope.versionId).where('id', '>=', scope.firstId).where('id', '<=', scope.lastId)
    .where('retracted_at', 'is', null).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()
  const hunt = await db.insertInto('retro_hunts').values({
    list_id: scope.listId, version_id: scope.versionId, first_id: scope.firstId, last_id: scope.lastId, trigger: scope.trigger, entries: Number(entries?.n ?? 0),
  }).returning('id').executeTakeFirstOrThrow()
  const totals = { scanned: 0, matchedMedia: 0, newMatches: 0, notices: 0, gone: 0 }
  const matched = new Set<number>()
  const save = (status: 'running' | 'finished' | 'failed' | 'interrupted', error?: string) => db.updateTable('retro_hunts').set({
    status, media_scanned: totals.scanned, matched_media: totals.matchedMedia, new_matches: totals.newMatches, notices: totals.notices, gone: totals.gone,
    ...(status === 'running' ? {} : { finished_at: sql<Date>`now()` }), ...(error === undefined ? {} : { error: error.slice(0, 1000) }),
  }).where('id', '=', hunt.id).execute()
  const deliver = async (found: Map<number, Map<number, Hit>>) => {
    if (found.size === 0) return
    const findings = await confirm(db, found)
    if (findings.length === 0) return
    // A media matched by an exact entry and again by a perceptual one is one media matched.
    for (const f of findings) matched.add(f.mediaId)
    totals.matchedMedia = matched.size
    const outcome = await handle(findings, hunt.id)
    totals.newMatches += outcome.newMatches
    totals.notices += outcome.notices
    totals.gone += outcome.gone
  }
  try {
    const mediaCount = await db.selectFrom('media').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()
    const total = Number(mediaCount?.n ?? 0)
    // Exact entries: one join per algorithm, through the media table's indexes.
    await deliver(await exactFindings(db, scope))
    if (o.signal?.aborted) throw interrupted()
    const index = await loadScopedIndex(db, scope, o)
    if (index !== undefined) {
      let after = 0
      for (;;) {
        if (o.signal?.aborted) throw interrupted()
        const page = await db.selectFrom('media').where('id', '>', after).orderBy('id').limit(o.pageSize)
          .select(['id', 'kind', 'pdq', 'pdq_quality', 'blockhash', 'frames', 'frame_qualities', 'frame_timestamps']).execute()
        if (page.length === 0) break
        after = page.at(-1)!.id
        await deliver(await perceptualFindings(index, page, o))
        totals.scanned += page.length
        await save('running')
        o.onProgress?.({ huntId: hunt.id, scanned: totals.scanned, total, matchedMedia: totals.matchedMedia })
      }
      await index.close()
    } else {
      totals.scanned = total
    }
    o.onProgress?.({ huntId: hunt.id, scanned: totals.scanned, total, matchedMedia: totals.matchedMedia })
    await save('finished')
  } catch (error) {
    const stopped = o.signal?.aborted === true
    await save(stopped ? 'interrupted' : 'failed', describeError(error).message).catch(() => {})
    throw stopped ? interrupted() : error
  }
  return { huntId: hunt.id, listId: scope.listId, entries: Number(entries?.n ?? 0), mediaScanned: totals.scanned, ...pick(totals), seconds: (performance.now() - started) / 1000 }
}

function pick(t: { matchedMedia: number; newMatches: number; notices: number; gone: number }) {
  return { matchedMedia: t.matchedMedia, newMatches: t.newMatches, notices: t.notices, gone: t.gone }
}

function interrupted(): RetryableError {
  return new RetryableError('INTERRUPTED', 'the retro-hunt was interrupted; what it found so far is recorded')
}

interface Hit {
  distance: number
  timestamps?: number[]
  share?: number
}

/** Media whose file hashes equal a new exact entry: media id -> entry id -> hit. */
async function exactFindings(db: Kysely<Database>, scope: RetroHuntScope): Promise<Map<number, Map<number, Hit>>> {
  const found = new Map<number, Map<number, Hit>>()
  for (const algorithm of ['sha256', 'md5', 'sha1'] as const) {
    const rows = await sql<{ media_id: number; known_id: number }>`
      select m.id as media_id, k.id as known_id
      from known_hashes k join media m on m.${sql.ref(algorithm)} = k.hash
      where k.version_id = ${scope.versionId} and k.id between ${scope.firstId} and ${scope.lastId}
        and k.algorithm = ${algorithm} and k.retracted_at is null`.execute(db)
    for (const r of rows.rows) {
      const hits = found.get(r.media_id) ?? new Map<number, Hit>()
      hits.set(r.known_id, { distance: 0 })
      found.set(r.media_id, hits)
    }
  }
  return found
}

/** An index of the scope's perceptual entries (PDQ, blockhash, known videos' good frames); undefined when it has none. */
async function loadScopedIndex(db: Kysely<Database>, scope: RetroHuntScope, o: Required<Omit<RetroHuntOptions, 'onProgress' | 'signal'>>): Promise<PerceptualIndex | undefined> {
  const list = await db.selectFrom('hash_lists as l').innerJoin('hash_list_versions as v', 'v.id', 'l.active_version_id')
    .where('l.id', '=', scope.listId).select(['l.name', 'v.version', 'l.active_version_id', 'l.pdq_threshold', 'l.blockhash_threshold']).executeTakeFirst()
  // A version no longer active has nothing left to find.
  if (list === undefined || list.active_version_id !== scope.versionId) return undefined
  const acc = new Map<IndexKey, { ids: number[]; chunks: Uint8Array[] }>()
  const push = (key: IndexKey, id: number, hash: Uint8Array) => {
    const rows = acc.get(key) ?? { ids: [], chunks: [] }
    rows.ids.push(id)
    rows.chunks.push(hash)
    acc.set(key, rows)
  }
  const step = 100_000
  for (let from = scope.firstId; from <= scope.lastId; from += step) {
    const rows = await db.selectFrom('known_hashes').where('version_id', '=', scope.versionId).where('id', '>=', from).where('id', '<=', Math.min(scope.lastId, from + step - 1))
      .where('retracted_at', 'is', null).where('algorithm', 'in', ['pdq', 'blockhash', 'vpdq']).select(['id', 'algorithm', 'hash', 'frames', 'frame_qualities']).execute()
    for (const r of rows) {
      if (r.algorithm !== 'vpdq') { push(r.algorithm as IndexKey, r.id, r.hash); continue }
      const frames = r.frames ?? new Uint8Array(0)
      for (let f = 0; f * 32 + 32 <= frames.length; f++) {
        if ((r.frame_qualities?.[f] ?? 0) >= o.pdqMinQuality) push('vpdq', r.id, frames.subarray(f * 32, f * 32 + 32))
      }
    }
  }
  if (acc.size === 0) return undefined
  const index = new PerceptualIndex({ pdqThreshold: o.pdqThreshold, blockhashThreshold: o.blockhashThreshold, index: {} })
  index.setLive([{ listId: scope.listId, name: list.name, versionId: scope.versionId, version: list.version, pdqThreshold: list.pdq_threshold, blockhashThreshold: list.blockhash_threshold }])
  for (const [key, rows] of acc) await index.add(key, bytesToWords(rows.chunks, rows.ids.length), Int32Array.from(rows.ids), scope.versionId, false)
  return index
}

type MediaPage = readonly {
  id: number; kind: string; pdq: Uint8Array | null; pdq_quality: number | null; blockhash: Uint8Array | null
  frames: Uint8Array | null; frame_qualities: Uint8Array | null; frame_timestamps: number[] | null
}[]

/** One page of media searched against the new entries: images by their PDQ and blockhash, videos by their frames. */
async function perceptualFindings(index: PerceptualIndex, page: MediaPage, o: Required<Omit<RetroHuntOptions, 'onProgress' | 'signal'>>): Promise<Map<number, Map<number, Hit>>> {
  const found = new Map<number, Map<number, Hit>>()
  const add = (mediaId: number, knownId: number, hit: Hit) => {
    const hits = found.get(mediaId) ?? new Map<number, Hit>()
    const seen = hits.get(knownId)
    if (seen === undefined || hit.distance < seen.distance) hits.set(knownId, hit)
    found.set(mediaId, hits)
  }
  for (const algorithm of ['pdq', 'blockhash'] as const) {
    const probes = page.filter((m) => m.kind !== 'video' && m[algorithm] !== null && (algorithm !== 'pdq' || (m.pdq_quality ?? 0) >= o.pdqMinQuality))
    if (probes.length === 0) continue
    const results = await index.searchMany(algorithm, probes.map((m) => [bytesToHex(m[algorithm]!)]))
    probes.forEach((m, i) => { for (const [id, c] of results[i]!) add(m.id, id, { distance: c.distance }) })
  }
  const videos = page.filter((m) => m.kind === 'video' && m.frames !== null).map((m) => {
    const frames = m.frames!
    const n = Math.floor(frames.length / 32)
    return {
      id: m.id,
      frames: distinctFrames(Array.from({ length: n }, (_, f) => ({
        pdq: bytesToHex(frames.subarray(f * 32, f * 32 + 32)), quality: m.frame_qualities?.[f] ?? 0, timestamp: Number(m.frame_timestamps?.[f] ?? f),
      })), o.pdqMinQuality),
    }
  }).filter((v) => v.frames.length > 0)
  if (videos.length > 0) {
    const results = await searchVideoFrames(index, videos, o.videoMatchShare)
    videos.forEach((v, i) => { for (const [id, hit] of results[i]!) add(v.id, id, hit) })
  }
  return found
}

/** The hits as matches, each entry confirmed still live (active version, not retracted) with its list's details. */
async function confirm(db: Kysely<Database>, found: Map<number, Map<number, Hit>>): Promise<RetroFinding[]> {
  const ids = [...new Set([...found.values()].flatMap((hits) => [...hits.keys()]))]
  const rows = await lookupEntries(db, [], ids)
  const byId = new Map(rows.map((r) => [r.id, r]))
  const findings: RetroFinding[] = []
  for (const [mediaId, hits] of found) {
    const matches: KnownMatch[] = []
    for (const [id, hit] of hits) {
      const r = byId.get(id)
      if (r === undefined) continue
      matches.push({
        knownHashId: r.id, listId: r.listId, list: r.list, listVersion: r.version, algorithm: r.algorithm, hash: bytesToHex(r.hash),
        distance: hit.distance, category: r.category, externalId: r.externalId, classification: r.classification,
        ...(hit.timestamps ? { timestamps: hit.timestamps } : {}), ...(hit.share === undefined ? {} : { share: hit.share }),
      })
    }
    if (matches.length > 0) findings.push({ mediaId, matches: matches.sort((a, b) => a.distance - b.distance || a.knownHashId - b.knownHashId) })
  }
  return findings
}
