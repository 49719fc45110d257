import { statements } from './statements.js'

/**
 * Video: a media row is an image or a video; a video keeps its duration and the PDQ of one frame
 * per second (vPDQ's frame selection) with each frame's quality and timestamp, never its bytes.
 * A video list entry (algorithm `vpdq`) holds the frames of one known video in the same layout,
 * its `hash` being the SHA-256 of those frames (an identity that keeps one entry per video and fits
 * the (algorithm, hash) index, which a whole video's frames would not). A match of a video records
 * where in it the match lies (the query's timestamps) and, for a video entry, the share of its
 * frames that matched.
 *
 * Frames are stored as `frames` (n x 32 bytes of PDQ), `frame_qualities` (n bytes, 0..100) and
 * `frame_timestamps` (n seconds), the same n and order in all three.
 */
export const video = statements([
  `alter table known_hashes drop constraint if exists known_hashes_algorithm_check`,
  `alter table known_hashes add constraint known_hashes_algorithm_check
    check (algorithm in ('sha256','md5','sha1','blockhash','pdq','vpdq'))`,
  `alter table known_hashes add column frames bytea`,
  `alter table known_hashes add column frame_qualities bytea`,
  `alter table known_hashes add column frame_timestamps real[]`,
  `alter table media add column kind text not null default 'image' check (kind in ('image', 'video'))`,
  `alter table media add column duration_seconds real`,
  `alter table media add column frames bytea`,
  `alter table media add column frame_qualities bytea`,
  `alter table media add column frame_timestamps real[]`,
  `alter table matches add column timestamps real[]`,
  `alter table matches add column share real`,
])
