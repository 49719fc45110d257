import { type Kysely, type Database, type ListClassification, SETTINGS, bytesToHex, withDefaults } from '@arachnid/core'
import { type Algorithm, type IndexKey, type PerceptualAlgorithm, isPerceptual, normaliseHash } from './algorithms.js'
import { ChangeLogFollower } from './change-log-follower.js'
import { type ExactProbe, lookupEntries } from './exact-lookup.js'
import type { HammingIndexOptions } from './hamming-index.js'
import { type Candidate, PerceptualIndex, type PerceptualThreadOptions } from './perceptual-index.js'

export interface MatcherOptions {
  /** Largest blockhash distance (of 256 bits) that counts as a match, for lists without their own. Default: ARACHNID_BLOCKHASH_THRESHOLD's default (24). */
  readonly blockhashThreshold?: number
  /** Largest PDQ distance that counts as a match, for lists without their own. Default: ARACHNID_PDQ_THRESHOLD's default (31). */
  readonly pdqThreshold?: number
  /** PDQ probes of lower quality are not matched. Default: ARACHNID_PDQ_MIN_QUALITY's default (50). */
  readonly pdqMinQuality?: number
  /**
   * How often, at most, a match call polls the change log (one small query) for new, retracted or
   * re-versioned hashes. Default 200 ms; 0 polls on every call with perceptual probes.
   */
  readonly refreshIntervalMs?: number
  /**
   * A version activation with more perceptual rows than this loads in the background while the
   * previous version keeps matching; smaller ones are applied before the match call returns. Default 100000.
   */
  readonly backgroundLoadRows?: number
  /** Rows per page when loading a version (one query each, so PGlite's single connection keeps serving others). Default 100000. */
  readonly loadPageRows?: number
  /**
   * A video matches a video entry (`vpdq`) when at least this share of its distinct frames of good
   * quality (>= pdqMinQuality) lie within the list's PDQ threshold of some frame of the known
   * video (vPDQ's rule, on the query's side). Default: ARACHNID_VIDEO_MATCH_SHARE's (0.8).
   */
  readonly videoMatchShare?: number
  /** Index tuning (chunk bits of the multi-index hash, search threads); the defaults are what measured fastest. */
  readonly index?: HammingIndexOptions & PerceptualThreadOptions
}

/**
 * The defaults, in one place: thresholds and the minimum quality are settings (the CLI passes
 * the configured values); the rest are the matcher's own tuning.
 */
export const DEFAULT_MATCHER_OPTIONS: Required<MatcherOptions> = {
  blockhashThreshold: SETTINGS.blockhashThreshold.default, pdqThreshold: SETTINGS.pdqThreshold.default,
  pdqMinQuality: SETTINGS.pdqMinQuality.default, videoMatchShare: SETTINGS.videoMatchShare.default, refreshIntervalMs: 200,
  backgroundLoadRows: 100_000, loadPageRows: 100_000, index: {},
}

export interface Probe {
  readonly algorithm: Algorithm
  /** Hex, any case. */
  readonly hash: string
  /** PDQ quality of the probe; probes below the minimum are not matched. */
  readonly quality?: number
  /**
   * PDQ only: the dihedral hashes of the same image (rotations and flips, as the hasher returns them
   * with `dihedral: true`). The probe matches an entry when any of them is within the threshold; the
   * smallest distance is reported, with `transform` its index in this array.
   */
  readonly dihedral?: readonly string[]
  /**
   * `vpdq` only: the video's frames (one per second, as the video hasher gives them). The probe's
   * `hash` is not looked up (give the file's sha256, md5 and sha1 as exact probes of their own).
   * Its frames match PDQ image entries (each a near match at the frames' timestamps) and video
   * entries by vPDQ's rule (see `MatcherOptions.videoMatchShare`).
   */
  readonly frames?: readonly VideoFrameProbe[]
}

/** One frame of a video probe. */
export interface VideoFrameProbe {
  /** PDQ, 64 hex characters. */
  readonly pdq: string
  readonly quality: number
  /** Seconds from the start of the video. */
  readonly timestamp: number
}

export interface KnownMatch {
  readonly knownHashId: number
  readonly listId: number
  readonly list: string
  readonly listVersion: number
  readonly algorithm: Algorithm
  /** The list entry's hash, lowercase hex. */
  readonly hash: string
  readonly distance: number
  readonly category: string | null
  readonly externalId: string | null
  /** The list's classification, `csam` or `harmful-abusive-material` (what Shield-compatible answers say); the Matcher always sets it. */
  readonly classification?: ListClassification
  /** True when the list is an ignore list: the content is to be left alone, and its other matches are suppressed (the Matcher sets it, true only). */
  readonly ignore?: boolean
  /** Which of the probe's dihedral hashes matched (index into `Probe.dihedral`); absent for the hash itself. */
  readonly transform?: number
  /** A video probe's match: the timestamps (seconds, ascending) of its frames that lie within the threshold. */
  readonly timestamps?: readonly number[]
  /** A video probe matched to a video entry: the share of its distinct good frames that matched (0..1). */
  readonly share?: number
}

/** What the matcher holds in memory, for monitoring and the benchmark. */
export interface MatcherStats {
  readonly entries: Readonly<Record<IndexKey, number>>
  readonly segments: number
  /** Bytes of hashes and index tables. */
  readonly indexBytes: number
  /** Last change-log id applied. */
  readonly changeId: string
  /** Whole versions loaded so far (initial load and activations); deltas do not count. */
  readonly versionLoads: number
}

/**
 * Matches hashes against the active versions of every list. Exact algorithms go through the
 * database's (algorithm, hash) index; perceptual ones through an in-memory multi-index hash over
 * every active PDQ and blockhash entry (`PerceptualIndex`), kept fresh from Postgres (the source
 * of truth) by applying the change log as deltas (`ChangeLogFollower`). Each batch costs one query
 * (plus, at most every `refreshIntervalMs`, one change-log poll): exact lookups and the
 * confirmation of perceptual candidates (still active, not retracted, with category and external
 * id) are one statement (`lookupEntries`), so a retraction or a version switch is honoured at once
 * even before the poll.
 *
 * @example
 * const matcher = new Matcher(db, { pdqThreshold: 31 })
 * const [found] = await matcher.match([{ algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' }])
 */
export class Matcher {
  readonly #db: Kysely<Database>
  readonly #options: Required<MatcherOptions>
  readonly #index: PerceptualIndex
  readonly #follower: ChangeLogFollower

  constructor(db: Kysely<Database>, options: MatcherOptions = {}) {
    this.#db = db
    this.#options = withDefaults(DEFAULT_MATCHER_OPTIONS, options)
    this.#index = new PerceptualIndex(this.#options)
    this.#follower = new ChangeLogFollower(db, this.#index, this.#options)
  }

  get options(): Required<MatcherOptions> {
    return this.#options
  }

  /** The matches of each probe, in probe order, nearest first. Malformed probes match nothing. */
  async match(probes: readonly Probe[]): Promise<KnownMatch[][]> {
    const results: KnownMatch[][] = probes.map(() => [])
    const exact: ExactProbe[] = []
    const perceptual: { index: number; algorithm: PerceptualAlgorithm; hexes: string[] }[] = []
    const videos: { index: number; frames: DistinctFrame[] }[] = []
    probes.forEach((probe, index) => {
      if (probe.algorithm === 'vpdq') {
        const frames = distinctFrames(probe.frames ?? [], this.#options.pdqMinQuality)
        if (frames.length > 0) videos.push({ index, frames })
        return
      }
      const norm = normaliseHash(probe.algorithm, probe.hash)
      if ('error' in norm) return
      if (isPerceptual(probe.algorithm)) {
        if (probe.algorithm === 'pdq' && probe.quality !== undefined && probe.quality < this.#options.pdqMinQuality) return
        const hexes = [norm.hex]
        if (probe.algorithm === 'pdq') {
          for (const d of probe.dihedral ?? []) {
            const n = normaliseHash('pdq', d)
            hexes.push('error' in n ? '' : n.hex)
          }
        }
        perceptual.push({ index, algorithm: probe.algorithm, hexes })
      } else exact.push({ index, algorithm: probe.algorithm, hex: norm.hex })
    })

    // Perceptual candidates: probe index -> known hash id -> { distance, transform }.
    const candidates = new Map<number, Map<number, Candidate>>()
    if (perceptual.length > 0) {
      await this.#follower.fresh()
      // One batched search per algorithm for every probe of the call (dihedral variants included).
      for (const algorithm of new Set(perceptual.map((p) => p.algorithm))) {
        const ofAlgorithm = perceptual.filter((p) => p.algorithm === algorithm)
        const found = await this.#index.searchMany(algorithm, ofAlgorithm.map((p) => p.hexes))
        ofAlgorithm.forEach((p, k) => { if (found[k]!.size > 0) candidates.set(p.index, found[k]!) })
      }
    }

    // Video probes: where in the video (timestamps) each candidate matched, and a video entry's share.
    const videoFound = new Map<number, Map<number, VideoHit>>()
    if (videos.length > 0) {
      if (perceptual.length === 0) await this.#follower.fresh()
      const found = await searchVideoFrames(this.#index, videos, this.#options.videoMatchShare)
      videos.forEach((v, k) => {
        if (found[k]!.size === 0) return
        videoFound.set(v.index, found[k]!)
        candidates.set(v.index, new Map([...found[k]!].map(([id, hit]) => [id, { distance: hit.distance, transform: 0 }])))
      })
    }

    const ids = [...new Set([...candidates.values()].flatMap((m) => [...m.keys()]))]
    const rows = await lookupEntries(this.#db, exact, ids)
    const confirmed = new Map<number, (typeof rows)[number]>()
    for (const r of rows) {
      if (r.probe >= 0) {
        results[r.probe]!.push({
          knownHashId: r.id, listId: r.listId, list: r.list, listVersion: r.version, algorithm: r.algorithm,
          hash: bytesToHex(r.hash), distance: 0, category: r.category, externalId: r.externalId, classification: r.classification,
          ...(r.ignore ? { ignore: true } : {}),
        })
      } else confirmed.set(r.id, r)
    }
    for (const [i, found] of candidates) {
      const video = videoFound.get(i)
      for (const [id, { distance, transform }] of found) {
        const r = confirmed.get(id)
        if (r === undefined) continue
        const hit = video?.get(id)
        results[i]!.push({
          knownHashId: r.id, listId: r.listId, list: r.list, listVersion: r.version, algorithm: r.algorithm,
          hash: bytesToHex(r.hash), distance, category: r.category, externalId: r.externalId, classification: r.classification,
          ...(r.ignore ? { ignore: true } : {}),
          ...(transform > 0 ? { transform: transform - 1 } : {}),
          ...(hit ? { timestamps: hit.timestamps, ...(hit.share === undefined ? {} : { share: hit.share }) } : {}),
        })
      }
    }
    return results.map(nearestPerEntry)
  }

  /** Applies every change committed so far (loading new versions in full) before returning. */
  refresh(): Promise<void> {
    return this.#follower.refresh()
  }

  /** Ends the index's search threads, if any were started (idle ones never keep the process alive). */
  close(): Promise<void> {
    return this.#index.close()
  }

  stats(): MatcherStats {
    return { ...this.#index.stats(), changeId: this.#follower.changeId, versionLoads: this.#follower.versionLoads }
  }
}

/**
 * Each video's candidates (in the index given: the matcher's, or a retro-hunt's of new entries only): PDQ image entries near any of its frames (the nearest distance, and
 * the timestamps of every frame within the list's threshold), and video entries whose frames are
 * near at least `videoMatchShare` of its distinct frames (vPDQ's rule; the distance reported is
 * the largest of the matched frames' nearest distances). One batched search per index for every
 * frame of every video.
 */
export async function searchVideoFrames(index: PerceptualIndex, videos: readonly { readonly frames: readonly DistinctFrame[] }[], minShare: number): Promise<Map<number, VideoHit>[]> {
  const flat = videos.flatMap((v) => v.frames.map((f) => [f.hex]))
  const [images, known] = [await index.searchMany('pdq', flat), await index.searchMany('vpdq', flat)]
  let k = 0
  return videos.map((v) => {
    const hits = new Map<number, VideoHit>()
    const perVideo = new Map<number, { frames: number; distance: number; timestamps: number[] }>()
    for (const frame of v.frames) {
      for (const [id, c] of images[k]!) {
        const hit = hits.get(id)
        if (hit === undefined) hits.set(id, { distance: c.distance, timestamps: [...frame.timestamps] })
        else { hit.distance = Math.min(hit.distance, c.distance); hit.timestamps.push(...frame.timestamps) }
      }
      for (const [id, c] of known[k]!) {
        const a = perVideo.get(id) ?? { frames: 0, distance: 0, timestamps: [] }
        a.frames++
        a.distance = Math.max(a.distance, c.distance)
        a.timestamps.push(...frame.timestamps)
        perVideo.set(id, a)
      }
      k++
    }
    for (const [id, a] of perVideo) {
      const share = a.frames / v.frames.length
      if (share >= minShare) hits.set(id, { distance: a.distance, timestamps: a.timestamps, share })
    }
    for (const hit of hits.values()) hit.timestamps.sort((x, y) => x - y)
    return hits
  })
}

/** A distinct frame hash of a video probe, with every timestamp at which it occurs. */
export interface DistinctFrame {
  readonly hex: string
  readonly timestamps: number[]
}

export interface VideoHit {
  distance: number
  timestamps: number[]
  share?: number
}

/**
 * A video's distinct frame hashes of at least the minimum quality (vPDQ compares distinct good
 * frames only), with their timestamps; malformed frames are left out.
 */
export function distinctFrames(frames: readonly VideoFrameProbe[], minQuality: number): DistinctFrame[] {
  const byHex = new Map<string, number[]>()
  for (const f of frames) {
    if (!(f.quality >= minQuality)) continue
    const norm = normaliseHash('pdq', f.pdq)
    if ('error' in norm) continue
    const at = byHex.get(norm.hex)
    if (at === undefined) byHex.set(norm.hex, [f.timestamp])
    else at.push(f.timestamp)
  }
  return [...byHex].map(([hex, timestamps]) => ({ hex, timestamps }))
}

/**
 * Sorts a probe's matches nearest first and keeps one per list entry (list, algorithm and hash): a
 * list holding the same hash twice (rows stored before repeats were dropped at import) is one
 * match, not two.
 */
function nearestPerEntry(matches: KnownMatch[]): KnownMatch[] {
  if (matches.length < 2) return matches
  matches.sort((a, b) => a.distance - b.distance || a.knownHashId - b.knownHashId)
  const seen = new Set<string>()
  return matches.filter((m) => {
    const key = `${m.listId}:${m.algorithm}:${m.hash}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
