import { type Kysely, type Database, type ListClassification, SETTINGS, bytesToHex, withDefaults } from '@arachnid/core'
import { type Algorithm, type PerceptualAlgorithm, isPerceptual, normaliseHash } from './algorithms.js'
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
  /** Index tuning (chunk bits of the multi-index hash, search threads); the defaults are what measured fastest. */
  readonly index?: HammingIndexOptions & PerceptualThreadOptions
}

/**
 * The defaults, in one place: thresholds and the minimum quality are settings (the CLI passes
 * the configured values); the rest are the matcher's own tuning.
 */
export const DEFAULT_MATCHER_OPTIONS: Required<MatcherOptions> = {
  blockhashThreshold: SETTINGS.blockhashThreshold.default, pdqThreshold: SETTINGS.pdqThreshold.default,
  pdqMinQuality: SETTINGS.pdqMinQuality.default, refreshIntervalMs: 200,
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
  /** Which of the probe's dihedral hashes matched (index into `Probe.dihedral`); absent for the hash itself. */
  readonly transform?: number
}

/** What the matcher holds in memory, for monitoring and the benchmark. */
export interface MatcherStats {
  readonly entries: Readonly<Record<PerceptualAlgorithm, number>>
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
    probes.forEach((probe, index) => {
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

    const ids = [...new Set([...candidates.values()].flatMap((m) => [...m.keys()]))]
    const rows = await lookupEntries(this.#db, exact, ids)
    const confirmed = new Map<number, (typeof rows)[number]>()
    for (const r of rows) {
      if (r.probe >= 0) {
        results[r.probe]!.push({
          knownHashId: r.id, listId: r.listId, list: r.list, listVersion: r.version, algorithm: r.algorithm,
          hash: bytesToHex(r.hash), distance: 0, category: r.category, externalId: r.externalId, classification: r.classification,
        })
      } else confirmed.set(r.id, r)
    }
    for (const [i, found] of candidates) {
      for (const [id, { distance, transform }] of found) {
        const r = confirmed.get(id)
        if (r === undefined) continue
        results[i]!.push({
          knownHashId: r.id, listId: r.listId, list: r.list, listVersion: r.version, algorithm: r.algorithm,
          hash: bytesToHex(r.hash), distance, category: r.category, externalId: r.externalId, classification: r.classification,
          ...(transform > 0 ? { transform: transform - 1 } : {}),
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
