import { type Database, type Kysely, type ListClassification, sql } from '@arachnid/core'
import type { Algorithm } from './algorithms.js'

/** An exact probe: its position in the batch, its algorithm and its normalised hex. */
export interface ExactProbe {
  readonly index: number
  readonly algorithm: Algorithm
  readonly hex: string
}

/** A list entry that matched: `probe` is the exact probe's position, or -1 for a confirmed perceptual candidate. */
export interface EntryRow {
  readonly probe: number
  readonly id: number
  readonly listId: number
  readonly list: string
  readonly version: number
  readonly algorithm: Algorithm
  readonly hash: Uint8Array
  readonly category: string | null
  readonly externalId: string | null
  /** The list's classification (what Shield-compatible answers call the match). */
  readonly classification: ListClassification
  /** The list is an ignore list (its matches suppress the media's others). */
  readonly ignore: boolean
}

/**
 * One statement for a whole batch: the exact probes looked up through the (algorithm, hash) index,
 * and the perceptual candidates the in-memory index found confirmed by id. Both only among entries
 * of an active version that are not retracted, so a retraction or a version switch is honoured at
 * once, even before the change log is polled.
 */
export async function lookupEntries(db: Kysely<Database>, exact: readonly ExactProbe[], candidateIds: readonly number[]): Promise<EntryRow[]> {
  if (exact.length === 0 && candidateIds.length === 0) return []
  const rows = await sql<{ i: number; id: number; list_id: number; name: string; version: number; algorithm: Algorithm; hash: Uint8Array; category: string | null; external_id: string | null; classification: ListClassification; ignore: boolean }>`
    select p.i, k.id, k.list_id, l.name, v.version, k.algorithm, k.hash, k.category, k.external_id, l.classification, l.ignore
    from unnest(${exact.map((e) => e.index)}::int[], ${exact.map((e) => e.algorithm)}::text[], ${exact.map((e) => e.hex)}::text[]) as p(i, algorithm, hex)
    join known_hashes k on k.algorithm = p.algorithm and k.hash = decode(p.hex, 'hex')
    join hash_lists l on l.active_version_id = k.version_id
    join hash_list_versions v on v.id = k.version_id
    where k.retracted_at is null
    union all
    select -1, k.id, k.list_id, l.name, v.version, k.algorithm, k.hash, k.category, k.external_id, l.classification, l.ignore
    from known_hashes k
    join hash_lists l on l.active_version_id = k.version_id
    join hash_list_versions v on v.id = k.version_id
    where k.id = any(${[...candidateIds]}::int[]) and k.retracted_at is null`.execute(db)
  return rows.rows.map((r) => ({
    probe: r.i, id: r.id, listId: r.list_id, list: r.name, version: r.version, algorithm: r.algorithm, hash: r.hash,
    category: r.category, externalId: r.external_id, classification: r.classification, ignore: r.ignore,
  }))
}
