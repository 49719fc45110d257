/** Media content: one row per distinct sha256 with its hashes, never the bytes. */
import type { Generated, Insertable, Selectable } from 'kysely'
import type { CreatedAt } from './column-types.js'

/** One row per distinct content (sha256). Hashes and metadata only: never the bytes. */
export interface MediaTable {
  id: Generated<number>
  sha256: Uint8Array
  md5: Uint8Array
  sha1: Uint8Array
  blockhash: Uint8Array | null
  pdq: Uint8Array | null
  pdq_quality: number | null
  width: number | null
  height: number | null
  format: string | null
  bytes: number
  first_seen_at: CreatedAt
}

/** Distinct media content, by hash. */
export interface MediaTables {
  media: MediaTable
}

export type Media = Selectable<MediaTable>
export type NewMedia = Insertable<MediaTable>
