import { statements } from './statements.js'

/**
 * The list-growth loop. A retro-hunt matches the media already seen against entries a list just
 * gained (a version activated, rows appended): each hunt is a row with what it scanned and found,
 * and each URL rechecked live before its notice is kept with the outcome, so content already gone
 * is recorded as gone and gets no notice.
 */
export const listGrowth = statements([
  `create table retro_hunts (
    id integer generated always as identity primary key,
    list_id integer not null references hash_lists(id) on delete cascade,
    version_id integer not null,
    first_id integer,
    last_id integer,
    trigger text not null,
    status text not null default 'running' check (status in ('running', 'finished', 'failed', 'interrupted')),
    entries integer not null default 0,
    media_scanned integer not null default 0,
    matched_media integer not null default 0,
    new_matches integer not null default 0,
    notices integer not null default 0,
    gone integer not null default 0,
    error text,
    started_at timestamptz not null default now(),
    finished_at timestamptz
  )`,
  `create index retro_hunts_list on retro_hunts (list_id, id)`,
  `create table retro_hunt_urls (
    hunt_id integer not null references retro_hunts(id) on delete cascade,
    media_id integer not null references media(id),
    url text not null,
    outcome text not null,
    reason text,
    checked_at timestamptz not null default now(),
    primary key (hunt_id, media_id, url)
  )`,
])
