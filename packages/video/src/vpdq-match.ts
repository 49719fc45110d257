import { hammingDistanceBytes, hexToBytes } from '@arachnid/hasher'
import type { VideoFrameHash } from './video-hashes.js'

export interface VpdqMatchOptions {
  /** Largest Hamming distance (of 256 bits) at which two frames match (inclusive). Default 31. */
  readonly distance?: number
  /** Frames of lower PDQ quality are left out on both sides. Default 50. */
  readonly qualityMin?: number
  /** Share (0..1) of the query's distinct, good-quality frames that must match for a video match. Default 0.8. */
  readonly share?: number
  /** Share (0..1) of the known video's distinct, good-quality frames that must match too. Default 0 (extra content in the known video does not matter). */
  readonly knownShare?: number
}

export interface VpdqMatchResult {
  /** Share (0..1) of the query's distinct frames of quality >= qualityMin within `distance` of some such frame of the known video. */
  readonly queryShare: number
  /** The same, the other way round. */
  readonly knownShare: number
  /** queryShare >= share and knownShare >= knownShare option. */
  readonly matched: boolean
  /** Timestamps of the query frames that matched (of the first frame of each distinct hash), ascending. */
  readonly matchedTimestamps: number[]
}

/** Distinct hashes (first occurrence kept) of quality >= qualityMin, as pytx's dedupe then quality_filter. */
function prepare<T extends { readonly pdq: string; readonly quality: number }>(frames: readonly T[], qualityMin: number): { frame: T; bytes: Uint8Array }[] {
  const seen = new Set<string>()
  const out: { frame: T; bytes: Uint8Array }[] = []
  for (const f of frames) {
    const key = f.pdq.toLowerCase()
    if (seen.has(key)) continue
    seen.add(key)
    if (f.quality >= qualityMin) out.push({ frame: f, bytes: hexToBytes(key) })
  }
  return out
}

function anyWithin(a: Uint8Array, list: readonly { bytes: Uint8Array }[], distance: number): boolean {
  for (const b of list) if (hammingDistanceBytes(a, b.bytes) <= distance) return true
  return false
}

/**
 * vPDQ's brute-force video comparison (ThreatExchange python-threatexchange vpdq_brute_matcher and
 * vpdq_util): each side is reduced to its distinct hashes of quality >= 50; a frame matches when
 * some frame of the other side is within Hamming distance 31 (inclusive); the query matches when
 * at least 80 % of its frames match (pytx's VPDQ_QUERY_MATCH_THRESHOLD_PERCENT; its index-side
 * threshold is 0 %). Frame order and timestamps play no part. A side left with no frame never
 * matches. Pure: O(query x known) distance computations.
 *
 * @example
 * const r = vpdqMatch(uploaded.frames, knownVideoFrames)
 * if (r.matched) review(r.queryShare, r.matchedTimestamps)
 */
export function vpdqMatch(
  query: readonly VideoFrameHash[],
  known: readonly { readonly pdq: string; readonly quality: number }[],
  options: VpdqMatchOptions = {},
): VpdqMatchResult {
  const distance = options.distance ?? 31
  const qualityMin = options.qualityMin ?? 50
  const share = options.share ?? 0.8
  const knownShareMin = options.knownShare ?? 0
  const q = prepare(query, qualityMin)
  const k = prepare(known, qualityMin)
  if (q.length === 0 || k.length === 0) return { queryShare: 0, knownShare: 0, matched: false, matchedTimestamps: [] }
  const matchedTimestamps: number[] = []
  for (const f of q) if (anyWithin(f.bytes, k, distance)) matchedTimestamps.push(f.frame.timestamp)
  let knownMatched = 0
  for (const f of k) if (anyWithin(f.bytes, q, distance)) knownMatched++
  const queryShare = matchedTimestamps.length / q.length
  const knownShare = knownMatched / k.length
  matchedTimestamps.sort((a, b) => a - b)
  return { queryShare, knownShare, matched: queryShare >= share && knownShare >= knownShareMin, matchedTimestamps }
}
