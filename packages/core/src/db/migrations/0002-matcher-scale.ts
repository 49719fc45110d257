import { statements } from './statements.js'

/**
 * Matcher at scale: a change log that in-memory indexes poll to apply deltas (additions,
 * retractions, activations) instead of reloading whole lists; per-list thresholds; PDQ quality and
 * the id range of each version, so a version loads by primary-key ranges.
 */
export const matcherScale = statements([
  `create table hash_list_changes (
    id bigint generated always as identity primary key,
    list_id integer not null references hash_lists(id) on delete cascade,
    version_id integer not null references hash_list_versions(id) on delete cascade,
    kind text not null check (kind in ('activate','add','retract','settings')),
    first_id integer,
    last_id integer,
    known_hash_ids integer[],
    created_at timestamptz not null default now()
  )`,
  `alter table hash_lists add column pdq_threshold integer`,
  `alter table hash_lists add column blockhash_threshold integer`,
  `alter table hash_list_versions add column format text`,
  `alter table hash_list_versions add column rejected integer not null default 0`,
  `alter table hash_list_versions add column first_id integer`,
  `alter table hash_list_versions add column last_id integer`,
  `alter table known_hashes add column quality integer`,
  `alter table known_hashes add column retract_reason text`,
])
