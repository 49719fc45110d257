import { type Algorithm, type KnownMatch, type Probe, type VideoFrameProbe, isAlgorithm, normaliseHash } from '@arachnid/matcher'

/**
 * One probe of the batch endpoint, as sent: `"algorithm:hex"`, or an object with the PDQ quality
 * and the dihedral hashes of the same image, or a video's frames (`{"algorithm": "vpdq", "frames":
 * [{"pdq", "quality", "timestamp"}, ...]}`).
 */
export type ProbeInput = string | {
  readonly algorithm: string; readonly hash?: string; readonly quality?: number; readonly dihedral?: readonly string[]
  readonly frames?: readonly { readonly pdq: string; readonly quality: number; readonly timestamp: number }[]
}

/** Frames one video probe may carry: 24 hours at vPDQ's one frame per second. */
export const MAX_PROBE_FRAMES = 86_400

/** A probe read: what it matches as, or why it cannot be matched; `input` is `algorithm:hex` as sent. */
export type ParsedProbe = { readonly input: string; readonly probe: Probe } | { readonly input: string; readonly error: string }

/** A match as the batch endpoint and `match --json` print it. */
export interface MatchOut {
  readonly list: string
  readonly algorithm: Algorithm
  readonly hash: string
  readonly distance: number
  readonly category: string | null
  readonly version: number
  readonly listId: number
  readonly knownHashId: number
  readonly externalId: string | null
  readonly classification: string
  /** True when the list is an ignore list (the media's other matches are suppressed); absent otherwise. */
  readonly ignore?: boolean
  /** Which of the probe's dihedral hashes matched; absent for the hash itself. */
  readonly transform?: number
  /** A video probe's match: the timestamps (seconds) of its frames that matched. */
  readonly timestamps?: readonly number[]
  /** A video probe matched to a video entry: the share of its distinct good frames that matched. */
  readonly share?: number
}

/** One result per probe, in the order sent: its matches (nearest first), or why it is malformed. */
export type ProbeResult = { readonly input: string; readonly matches: readonly MatchOut[] } | { readonly input: string; readonly error: string }

/**
 * Reads one probe of the batch endpoint or one line of `match` (the same rules for both, so the
 * two answer alike): an unknown algorithm, a hash of the wrong length or not hex, a bad dihedral
 * hash or quality is an error for that probe only.
 */
export function parseProbe(value: ProbeInput | unknown): ParsedProbe {
  if (typeof value === 'string') {
    const colon = value.indexOf(':')
    const algorithm = colon < 0 ? value : value.slice(0, colon)
    return checked(value, algorithm.toLowerCase(), colon < 0 ? '' : value.slice(colon + 1))
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { input: JSON.stringify(value)?.slice(0, 100) ?? String(value), error: 'a probe is "algorithm:hex" or {"algorithm", "hash", "quality"?, "dihedral"?}' }
  const o = value as { algorithm?: unknown; hash?: unknown; quality?: unknown; dihedral?: unknown; frames?: unknown }
  if (typeof o.algorithm === 'string' && o.algorithm.toLowerCase() === 'vpdq') return videoProbe(o)
  const input = `${String(o.algorithm)}:${String(o.hash)}`
  if (typeof o.algorithm !== 'string' || typeof o.hash !== 'string') return { input, error: 'algorithm and hash must be strings' }
  const parsed = checked(input, o.algorithm.toLowerCase(), o.hash)
  if ('error' in parsed) return parsed
  const { algorithm, hash } = parsed.probe
  const quality = o.quality
  if (quality !== undefined && (typeof quality !== 'number' || !Number.isFinite(quality) || quality < 0 || quality > 100)) {
    return { input, error: 'quality must be a number from 0 to 100' }
  }
  if (o.dihedral !== undefined) {
    if (algorithm !== 'pdq') return { input, error: 'dihedral hashes are for pdq probes only' }
    if (!Array.isArray(o.dihedral) || o.dihedral.length > 8) return { input, error: 'dihedral must be a list of at most 8 pdq hashes' }
    const dihedral: string[] = []
    for (const [i, d] of (o.dihedral as unknown[]).entries()) {
      if (typeof d !== 'string') return { input, error: `dihedral[${i}]: not a string` }
      const norm = normaliseHash('pdq', d)
      if ('error' in norm) return { input, error: `dihedral[${i}]: ${norm.error}` }
      dihedral.push(norm.hex)
    }
    return { input, probe: quality === undefined ? { algorithm, hash, dihedral } : { algorithm, hash, quality, dihedral } }
  }
  return { input, probe: quality === undefined ? { algorithm, hash } : { algorithm, hash, quality } }
}

/** A video's frames, as `{"algorithm": "vpdq", "hash"?: sha256 of the file, "frames": [...]}`. */
function videoProbe(o: { hash?: unknown; frames?: unknown }): ParsedProbe {
  const hash = typeof o.hash === 'string' ? o.hash.trim().toLowerCase() : ''
  const input = `vpdq:${hash}`
  if (o.hash !== undefined && typeof o.hash !== 'string') return { input, error: 'hash must be a string' }
  if (!Array.isArray(o.frames) || o.frames.length === 0) return { input, error: 'a vpdq probe needs "frames": [{"pdq", "quality", "timestamp"}, ...]' }
  if (o.frames.length > MAX_PROBE_FRAMES) return { input, error: `at most ${MAX_PROBE_FRAMES} frames in one vpdq probe` }
  const frames: VideoFrameProbe[] = []
  for (const [i, f] of (o.frames as unknown[]).entries()) {
    const x = f as { pdq?: unknown; quality?: unknown; timestamp?: unknown } | null
    if (x === null || typeof x !== 'object' || typeof x.pdq !== 'string') return { input, error: `frames[${i}]: needs "pdq" (hex), "quality" and "timestamp"` }
    const norm = normaliseHash('pdq', x.pdq)
    if ('error' in norm) return { input, error: `frames[${i}]: ${norm.error}` }
    if (typeof x.quality !== 'number' || !(x.quality >= 0 && x.quality <= 100)) return { input, error: `frames[${i}]: quality must be a number from 0 to 100` }
    if (typeof x.timestamp !== 'number' || !Number.isFinite(x.timestamp) || x.timestamp < 0) return { input, error: `frames[${i}]: timestamp must be seconds >= 0` }
    frames.push({ pdq: norm.hex, quality: x.quality, timestamp: x.timestamp })
  }
  return { input, probe: { algorithm: 'vpdq', hash, frames } }
}

/** What a probe costs against rate and quota: one per hash sent (each dihedral hash and video frame counts). */
export function probeWeight(p: ParsedProbe): number {
  if (!('probe' in p)) return 1
  return 1 + (p.probe.dihedral?.length ?? 0) + Math.max(0, (p.probe.frames?.length ?? 0) - 1)
}

function checked(input: string, algorithm: string, hex: string): ParsedProbe {
  if (algorithm === 'vpdq') return { input, error: 'a vpdq probe is an object with its frames: {"algorithm": "vpdq", "frames": [{"pdq", "quality", "timestamp"}, ...]}' }
  if (!isAlgorithm(algorithm)) return { input, error: `unknown algorithm "${algorithm.slice(0, 40)}"` }
  const norm = normaliseHash(algorithm, hex)
  return 'error' in norm ? { input, error: norm.error } : { input, probe: { algorithm, hash: norm.hex } }
}

/** A match as printed: the matcher's, with the list's version as `version`, and `classification` always given. */
export function matchOut(m: KnownMatch): MatchOut {
  return {
    list: m.list, algorithm: m.algorithm, hash: m.hash, distance: m.distance, category: m.category,
    version: m.listVersion, listId: m.listId, knownHashId: m.knownHashId, externalId: m.externalId,
    classification: m.classification ?? 'csam',
    ...(m.ignore ? { ignore: true } : {}),
    ...(m.transform === undefined ? {} : { transform: m.transform }),
    ...(m.timestamps === undefined ? {} : { timestamps: m.timestamps }),
    ...(m.share === undefined ? {} : { share: m.share }),
  }
}

/**
 * Matches parsed probes with anything that matches (the in-process Matcher, or a client of the
 * service) and answers one result per probe, in order.
 */
export async function matchParsed(matcher: { match(probes: readonly Probe[]): Promise<KnownMatch[][]> }, parsed: readonly ParsedProbe[]): Promise<ProbeResult[]> {
  const probes = parsed.flatMap((p) => ('probe' in p ? [p.probe] : []))
  const found = probes.length > 0 ? await matcher.match(probes) : []
  let i = 0
  return parsed.map((p) => ('error' in p ? { input: p.input, error: p.error } : { input: p.input, matches: found[i++]!.map(matchOut) }))
}
