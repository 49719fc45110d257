/** Known-hash lists: lists, versions (imported then activated), entries (retractable) and the change log in-memory indexes follow. */
import type { ColumnType, Generated } from 'kysely'
import type { CreatedAt, NullableTimestamp } from './column-types.js'

export interface HashListTable {
  id: Generated<number>
  name: string
  description: string | null
  /** hash_list_versions.id of the version that matches now. */
  active_version_id: number | null
  /** Bumped on activation and retraction, so matchers see a change with one small query. */
  changed_at: CreatedAt
  created_at: CreatedAt
  /** Largest PDQ distance for this list; null: the matcher's default. */
  pdq_threshold: ColumnType<number | null, number | null | undefined, number | null>
  /** Largest blockhash distance for this list; null: the matcher's default. */
  blockhash_threshold: ColumnType<number | null, number | null | undefined, number | null>
  /** verified: the review policy may notify its matches automatically; review-required: every match waits for an analyst. */
  review_mode: ColumnType<ListReviewMode, ListReviewMode | undefined, ListReviewMode>
  /** Higher first in the review queue, after distance. */
  review_priority: ColumnType<number, number | undefined, number>
  /** An ignore list: a media matching any of its entries has all its matches recorded suppressed (rejected, never noticed). */
  ignore: ColumnType<boolean, boolean | undefined, boolean>
  /** With the suspect policy's per-list mode: this list's confirmed matches queue the media seen beside them as suspects. */
  suspects: ColumnType<boolean, boolean | undefined, boolean>
}

export interface HashListVersionTable {
  id: Generated<number>
  list_id: number
  version: number
  status: 'importing' | 'active' | 'superseded' | 'failed'
  rows: number
  source: string | null
  created_at: CreatedAt
  activated_at: NullableTimestamp
  /** List file format the version was imported from. */
  format: ColumnType<string | null, string | null | undefined, string | null>
  rejected: ColumnType<number, number | undefined, number>
  /** Smallest and largest known_hashes.id of the version, so it loads by primary-key ranges. */
  first_id: ColumnType<number | null, number | null | undefined, number | null>
  last_id: ColumnType<number | null, number | null | undefined, number | null>
}

export interface KnownHashTable {
  id: Generated<number>
  list_id: number
  version_id: number
  algorithm: string
  hash: Uint8Array
  category: string | null
  external_id: string | null
  retracted_at: NullableTimestamp
  /** PDQ quality when the list gives it. */
  quality: ColumnType<number | null, number | null | undefined, number | null>
  retract_reason: ColumnType<string | null, string | null | undefined, string | null>
  /** A video entry (`vpdq`): the PDQ of each frame, 32 bytes each; null for other entries. */
  frames: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>
  /** A video entry: each frame's PDQ quality, one byte per frame. */
  frame_qualities: ColumnType<Uint8Array | null, Uint8Array | null | undefined, Uint8Array | null>
  /** A video entry: each frame's timestamp in seconds. */
  frame_timestamps: ColumnType<number[] | null, number[] | null | undefined, number[] | null>
}

export const HASH_LIST_CHANGE_KINDS = ['activate', 'add', 'retract', 'settings'] as const
export type HashListChangeKind = (typeof HASH_LIST_CHANGE_KINDS)[number]

/**
 * What changed in the lists, in commit order (writers serialise on an advisory lock before taking
 * an id), so in-memory indexes apply deltas instead of reloading: a version activated, rows
 * `first_id..last_id` added to a version, rows retracted, or a list's thresholds changed.
 */
export interface HashListChangeTable {
  id: ColumnType<string, never, never>
  list_id: number
  version_id: number
  kind: HashListChangeKind
  first_id: number | null
  last_id: number | null
  known_hash_ids: ColumnType<number[] | null, number[] | null | undefined, number[] | null>
  created_at: CreatedAt
}

export const LIST_REVIEW_MODES = ['verified', 'review-required'] as const
export type ListReviewMode = (typeof LIST_REVIEW_MODES)[number]

export const RETRO_HUNT_STATUSES = ['running', 'finished', 'failed', 'interrupted'] as const
export type RetroHuntStatus = (typeof RETRO_HUNT_STATUSES)[number]

/** One retro-hunt: the media already seen matched against entries a list just gained. */
export interface RetroHuntTable {
  id: Generated<number>
  list_id: number
  version_id: number
  /** The new entries' ids (a version's whole range, or an append's). */
  first_id: number | null
  last_id: number | null
  /** What started it: 'import', 'append', 'pull', 'classification', 'command'. */
  trigger: string
  status: ColumnType<RetroHuntStatus, RetroHuntStatus | undefined, RetroHuntStatus>
  entries: ColumnType<number, number | undefined, number>
  media_scanned: ColumnType<number, number | undefined, number>
  matched_media: ColumnType<number, number | undefined, number>
  new_matches: ColumnType<number, number | undefined, number>
  notices: ColumnType<number, number | undefined, number>
  gone: ColumnType<number, number | undefined, number>
  error: ColumnType<string | null, string | null | undefined, string | null>
  started_at: CreatedAt
  finished_at: NullableTimestamp
}

/** A URL a retro-hunt rechecked live before noticing it: present (noticed), gone (recorded, no notice) or inconclusive. */
export interface RetroHuntUrlTable {
  hunt_id: number
  media_id: number
  url: string
  outcome: string
  reason: string | null
  checked_at: CreatedAt
}

/** Known-hash lists, their versions, entries and change log, and the retro-hunts of what they gained. */
export interface ListTables {
  hash_lists: HashListTable
  hash_list_versions: HashListVersionTable
  known_hashes: KnownHashTable
  hash_list_changes: HashListChangeTable
  retro_hunts: RetroHuntTable
  retro_hunt_urls: RetroHuntUrlTable
}
