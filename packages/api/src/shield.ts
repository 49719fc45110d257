import type { KnownMatch } from '@arachnid/matcher'

/** Arachnid Shield's verdicts; `csam` wins over `harmful-abusive-material` when both match. */
export const SHIELD_CLASSIFICATIONS = ['csam', 'harmful-abusive-material', 'no-known-match'] as const
export type ShieldClassification = (typeof SHIELD_CLASSIFICATIONS)[number]
/** `exact`: a cryptographic hash of the bytes matched; `near`: a perceptual one did. */
export type MatchType = 'exact' | 'near'

/** A known media that matched (Shield's NearMatchDetails); timestamp 0 for a still image. */
export interface NearMatchDetails {
  readonly timestamp: number
  readonly sha1_base32: string
  readonly sha256_hex: string
  readonly classification: ShieldClassification
}

/** Shield's ScannedMedia, what /v1/media/ and /v1/url/ answer. */
export interface ScannedMedia {
  readonly sha1_base32: string
  readonly sha256_hex: string
  readonly size_bytes: number
  readonly classification: ShieldClassification
  readonly match_type: MatchType | null
  /** Not in the Rust SDK's struct but in Shield's answers (the TypeScript SDK shows it); serde ignores it. */
  readonly is_match: boolean
  readonly near_match_details: readonly NearMatchDetails[]
}

/** Shield's ScannedPdqHash: one per hash sent to /v1/pdq/; near_match_details is one object or null, as the SDK declares it. */
export interface ScannedPdqHash {
  readonly classification: ShieldClassification
  readonly match_type: MatchType | null
  readonly near_match_details: NearMatchDetails | null
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** RFC 4648 base32, upper case, padded with `=` (a SHA-1's 20 bytes need none: 32 characters), as Shield shows SHA-1s. */
export function base32(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  while (out.length % 8 !== 0) out += '='
  return out
}

const EXACT = new Set(['sha256', 'md5', 'sha1'])

function rank(c: ShieldClassification): number {
  return c === 'csam' ? 0 : c === 'harmful-abusive-material' ? 1 : 2
}

/** The list classification of a match (csam when the matcher did not say). */
export function classificationOf(m: { readonly classification?: string }): ShieldClassification {
  return (m.classification as ShieldClassification | undefined) ?? 'csam'
}

/**
 * The verdict on a set of matches: the strongest classification (csam, then harmful-abusive-material),
 * and `exact` when a cryptographic hash carries it, else `near`; no matches, or any match on an
 * ignore list: no-known-match, null.
 */
export function verdictOf(matches: readonly { readonly classification?: string; readonly algorithm: string; readonly ignore?: boolean }[]): { classification: ShieldClassification; matchType: MatchType | null } {
  // A match on an ignore list (content known to be left alone) suppresses every other.
  if (matches.length === 0 || matches.some((m) => m.ignore === true)) return { classification: 'no-known-match', matchType: null }
  const classification = matches.map(classificationOf).reduce((a, b) => (rank(a) <= rank(b) ? a : b))
  const exact = matches.some((m) => classificationOf(m) === classification && EXACT.has(m.algorithm))
  return { classification, matchType: exact ? 'exact' : 'near' }
}

/**
 * The known media a match stands for, in Shield's fields. Lists hold hashes, not media: an exact
 * match (sha256, md5 or sha1 of the very bytes) is the uploaded media itself, so its SHA-1 and
 * SHA-256 are the upload's; a perceptual match (pdq, blockhash) gives no cryptographic hash of
 * the known media, so both fields are empty strings.
 */
export function detailsOf(m: KnownMatch, upload: { readonly sha1?: string; readonly sha256?: string } = {}): NearMatchDetails {
  const exact = EXACT.has(m.algorithm)
  const sha1 = m.algorithm === 'sha1' ? m.hash : exact ? upload.sha1 : undefined
  const sha256 = m.algorithm === 'sha256' ? m.hash : exact ? upload.sha256 : undefined
  return {
    // A video's match: the first moment of the upload at which it matched (0 for a still image).
    timestamp: m.timestamps?.[0] ?? 0,
    sha1_base32: sha1 ? base32(Buffer.from(sha1, 'hex')) : '',
    sha256_hex: sha256 ? sha256.toUpperCase() : '',
    classification: classificationOf(m),
  }
}

/** The matches of one media, strongest classification first, then nearest; each list entry once. */
export function orderedMatches(matches: readonly KnownMatch[]): KnownMatch[] {
  const seen = new Set<number>()
  return [...matches]
    .sort((a, b) => rank(classificationOf(a)) - rank(classificationOf(b)) || a.distance - b.distance || a.knownHashId - b.knownHashId)
    .filter((m) => (seen.has(m.knownHashId) ? false : (seen.add(m.knownHashId), true)))
}

/** Shield's ScannedMedia for an upload's hashes and every match of them. */
export function scannedMedia(upload: { readonly sha1: string; readonly sha256: string; readonly bytes: number }, matches: readonly KnownMatch[]): ScannedMedia {
  const ordered = orderedMatches(matches)
  const { classification, matchType } = verdictOf(ordered)
  return {
    sha1_base32: base32(Buffer.from(upload.sha1, 'hex')),
    sha256_hex: upload.sha256.toUpperCase(),
    size_bytes: upload.bytes,
    classification,
    match_type: matchType,
    is_match: classification !== 'no-known-match',
    near_match_details: classification === 'no-known-match' ? [] : ordered.map((m) => detailsOf(m, upload)),
  }
}

/** Shield's ScannedPdqHash for one PDQ hash's matches: the verdict and the nearest match of the winning classification. */
export function scannedPdqHash(matches: readonly KnownMatch[]): ScannedPdqHash {
  const ordered = orderedMatches(matches)
  const { classification, matchType } = verdictOf(ordered)
  const best = ordered[0]
  return { classification, match_type: matchType, near_match_details: best === undefined || classification === 'no-known-match' ? null : detailsOf(best) }
}

/**
 * A PDQ hash as /v1/pdq/ takes it: standard base64 (the SDK's), padded or not; URL-safe
 * characters are accepted too. Returns the 64 hex characters, or why not.
 */
export function pdqFromBase64(text: string): { hex: string } | { error: string } {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return { error: 'not base64' }
  const bare = text.replace(/=+$/, '')
  if (bare.length % 4 === 1) return { error: 'not base64' }
  const bytes = Buffer.from(bare.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
  if (bytes.length !== 32) return { error: `a PDQ hash is 32 bytes, this is ${bytes.length}` }
  return { hex: bytes.toString('hex') }
}
