/** Media content: one row per distinct sha256 with its hashes, never the bytes. */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely'
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
  /** What the content is; a video's perceptual hashes are its frames' (blockhash and pdq stay null). */
  kind: ColumnType<MediaKind, MediaKind | undefined, MediaKind>
  duration_seconds: ColumnType<number | null, number | null | undefined, number | null>
  /** A video: the PDQ of one frame per second (vPDQ's selection), 32 bytes each. */
  frames: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>
  /** A video: each frame's PDQ quality, one byte per frame. */
  frame_qualities: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>
  /** A video: each frame's timestamp in seconds. */
  frame_timestamps: ColumnType<number[] | null, number[] | null | undefined, number[] | null>
}

export const MEDIA_KINDS = ['image', 'video'] as const
export type MediaKind = (typeof MEDIA_KINDS)[number]

/** Distinct media content, by hash. */
export interface MediaTables {
  media: MediaTable
}

export type Media = Selectable<MediaTable>
export type NewMedia = Insertable<MediaTable>
