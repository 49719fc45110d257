import { statements } from './statements.js'

/**
 * Ignore lists: a list flagged `ignore` (say, stock images whose hashes collide with known ones)
 * keeps matching, but a media that matches any of its entries has every match recorded rejected,
 * with the ignore list's name in `matches.suppressed_by`, and is never noticed nor queued.
 */
export const ignoreLists = statements([
  `alter table hash_lists add column ignore boolean not null default false`,
  `alter table matches add column suppressed_by text`,
])
