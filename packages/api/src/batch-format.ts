import { type Algorithm, type KnownMatch, type Probe, isAlgorithm, normaliseHash } from '@arachnid/matcher'

/**
 * One probe of the batch endpoint, as sent: `"algorithm:hex"`, or an object with the PDQ quality
 * and the dihedral hashes of the same image.
 */
export type ProbeInput = string | { readonly algorithm: string; readonly hash: string; readonly quality?: number; readonly dihedral?: readonly string[] }

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
  /** Which of the probe's dihedral hashes matched; absent for the hash itself. */
  readonly transform?: number
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
  const o = value as { algorithm?: unknown; hash?: unknown; quality?: unknown; dihedral?: unknown }
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

function checked(input: string, algorithm: string, hex: string): ParsedProbe {
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
    ...(m.transform === undefined ? {} : { transform: m.transform }),
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
