import { type Kysely, type Database, bytesToHex, sql } from '@arachnid/core'
import { type Algorithm, type PerceptualAlgorithm, isPerceptual, normaliseHash } from './algorithms.js'
import { hamming256, hexToWords } from './hamming.js'

export interface MatcherOptions {
  /** Largest blockhash distance (of 256 bits) that counts as a match. Default 24. */
  readonly blockhashThreshold?: number
  /** Largest PDQ distance that counts as a match. Default 31. */
  readonly pdqThreshold?: number
  /** PDQ probes of lower quality are not matched. Default 50. */
  readonly pdqMinQuality?: number
}

export const DEFAULT_MATCHER_OPTIONS: Required<MatcherOptions> = { blockhashThreshold: 24, pdqThreshold: 31, pdqMinQuality: 50 }

export interface Probe {
  readonly algorithm: Algorithm
  /** Hex, any case. */
  readonly hash: string
  /** PDQ quality of the probe; probes below the minimum are not matched. */
  readonly quality?: number
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
}

interface Entry { knownHashId: number; listId: number; list: string; listVersion: number; hash: string; category: string | null; externalId: string | null }

interface PerceptualIndex { words: Uint32Array; entries: Entry[] }

/**
 * Matches hashes against the active versions of every list: exact algorithms through the database
 * index, perceptual ones by Hamming distance over an in-memory copy of the list kept fresh from
 * Postgres (the source of truth). Every lookup is batched: pass all the probes you have.
 *
 * @example
 * const matcher = new Matcher(db, { pdqThreshold: 31 })
 * const [found] = await matcher.match([{ algorithm: 'md5', hash: 'd41d8cd98f00b204e9800998ecf8427e' }])
 */
export class Matcher {
  readonly #db: Kysely<Database>
  readonly #options: Required<MatcherOptions>
  #fingerprint: string | undefined
  #index = new Map<PerceptualAlgorithm, PerceptualIndex>()
  #loading: Promise<void> | undefined

  constructor(db: Kysely<Database>, options: MatcherOptions = {}) {
    this.#db = db
    this.#options = { ...DEFAULT_MATCHER_OPTIONS, ...options }
  }

  get options(): Required<MatcherOptions> {
    return this.#options
  }

  /** The matches of each probe, in probe order. Malformed probes match nothing. */
  async match(probes: readonly Probe[]): Promise<KnownMatch[][]> {
    const results: KnownMatch[][] = probes.map(() => [])
    const exact: { index: number; algorithm: Algorithm; hex: string }[] = []
    const perceptual: { index: number; algorithm: PerceptualAlgorithm; hex: string }[] = []
    probes.forEach((probe, index) => {
      const norm = normaliseHash(probe.algorithm, probe.hash)
      if ('error' in norm) return
      if (isPerceptual(probe.algorithm)) {
        if (probe.algorithm === 'pdq' && probe.quality !== undefined && probe.quality < this.#options.pdqMinQuality) return
        perceptual.push({ index, algorithm: probe.algorithm, hex: norm.hex })
      } else exact.push({ index, algorithm: probe.algorithm, hex: norm.hex })
    })
    if (exact.length > 0) {
      const rows = await sql<{ i: number; id: number; list_id: number; name: string; version: number; algorithm: Algorithm; hash: Uint8Array; category: string | null; external_id: string | null }>`
        select p.i, k.id, k.list_id, l.name, v.version, k.algorithm, k.hash, k.category, k.external_id
        from unnest(${exact.map((e) => e.index)}::int[], ${exact.map((e) => e.algorithm)}::text[], ${exact.map((e) => e.hex)}::text[]) as p(i, algorithm, hex)
        join known_hashes k on k.algorithm = p.algorithm and k.hash = decode(p.hex, 'hex')
        join hash_lists l on l.active_version_id = k.version_id
        join hash_list_versions v on v.id = k.version_id
        where k.retracted_at is null`.execute(this.#db)
      for (const r of rows.rows) {
        results[r.i]!.push({
          knownHashId: r.id, listId: r.list_id, list: r.name, listVersion: r.version, algorithm: r.algorithm,
          hash: bytesToHex(r.hash), distance: 0, category: r.category, externalId: r.external_id,
        })
      }
    }
    if (perceptual.length > 0) {
      await this.refresh()
      const probeWords = new Uint32Array(8)
      for (const p of perceptual) {
        const index = this.#index.get(p.algorithm)
        if (index === undefined) continue
        const threshold = p.algorithm === 'pdq' ? this.#options.pdqThreshold : this.#options.blockhashThreshold
        hexToWords(p.hex, probeWords)
        const n = index.entries.length
        for (let j = 0; j < n; j++) {
          const distance = hamming256(probeWords, 0, index.words, j * 8)
          if (distance <= threshold) {
            const e = index.entries[j]!
            results[p.index]!.push({ ...e, algorithm: p.algorithm, distance })
          }
        }
      }
    }
    for (const list of results) list.sort((a, b) => a.distance - b.distance || a.knownHashId - b.knownHashId)
    return results
  }

  /** Reloads the in-memory perceptual index when any list changed since the last load. */
  async refresh(): Promise<void> {
    const lists = await this.#db.selectFrom('hash_lists').select(['id', 'active_version_id', 'changed_at']).orderBy('id').execute()
    const fingerprint = lists.map((l) => `${l.id}:${l.active_version_id}:${new Date(l.changed_at).getTime()}`).join(',')
    if (fingerprint === this.#fingerprint) return
    // Concurrent callers share one reload; the old index answers until the new one is complete.
    this.#loading ??= this.#load(fingerprint).finally(() => { this.#loading = undefined })
    await this.#loading
  }

  async #load(fingerprint: string): Promise<void> {
    const rows = await this.#db.selectFrom('known_hashes as k')
      .innerJoin('hash_lists as l', 'l.active_version_id', 'k.version_id')
      .innerJoin('hash_list_versions as v', 'v.id', 'k.version_id')
      .where('k.algorithm', 'in', ['blockhash', 'pdq']).where('k.retracted_at', 'is', null)
      .select(['k.id', 'k.list_id', 'l.name', 'v.version', 'k.algorithm', 'k.hash', 'k.category', 'k.external_id'])
      .execute()
    const next = new Map<PerceptualAlgorithm, PerceptualIndex>()
    const grouped = new Map<PerceptualAlgorithm, typeof rows>()
    for (const row of rows) {
      const algorithm = row.algorithm as PerceptualAlgorithm
      const list = grouped.get(algorithm) ?? []
      list.push(row)
      grouped.set(algorithm, list)
    }
    for (const [algorithm, list] of grouped) {
      const words = new Uint32Array(list.length * 8)
      const entries: Entry[] = []
      list.forEach((row, j) => {
        const hex = bytesToHex(row.hash)
        hexToWords(hex, words, j * 8)
        entries.push({ knownHashId: row.id, listId: row.list_id, list: row.name, listVersion: row.version, hash: hex, category: row.category, externalId: row.external_id })
      })
      next.set(algorithm, { words, entries })
    }
    this.#index = next
    this.#fingerprint = fingerprint
  }
}

