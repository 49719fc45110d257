import { statements } from './statements.js'

/**
 * Suspects: media seen on the same pages as confirmed matches that match nothing, queued for
 * analysts to classify (csam, harmful-abusive-material or not). The suspect policy is one row (off,
 * on, or per list; bounds per page and per job; two analysts; the well-being break), each list says
 * whether its matches queue suspects in per-list mode, each suspect is one media (queued once,
 * whichever page showed it first), votes are one per analyst, and a classified media's hashes go
 * into a local list with their provenance (who, when, which media and page). Each session counts
 * the previews it was shown, for the well-being prompt.
 */
export const suspects = statements([
  `create table suspect_policy (
    id boolean primary key default true check (id),
    mode text not null default 'on' check (mode in ('off','on','per-list')),
    per_page integer not null default 10 check (per_page between 0 and 10000),
    per_job integer not null default 500 check (per_job between 0 and 10000000),
    two_analysts boolean not null default true,
    previews_before_break integer not null default 50 check (previews_before_break between 0 and 100000),
    updated_at timestamptz not null default now(),
    updated_by text
  )`,
  `insert into suspect_policy (id) values (true)`,
  `alter table hash_lists add column suspects boolean not null default false`,
  `create table suspects (
    id integer generated always as identity primary key,
    media_id integer not null unique references media(id),
    job_id integer references crawl_jobs(id) on delete set null,
    page_id integer references pages(id) on delete set null,
    beside_media_id integer references media(id),
    status text not null default 'pending' check (status in ('pending','csam','harmful-abusive-material','not')),
    queued_at timestamptz not null default now(),
    decided_at timestamptz,
    list_id integer references hash_lists(id) on delete set null
  )`,
  `create index suspects_pending on suspects (id) where status = 'pending'`,
  `create index suspects_page on suspects (page_id)`,
  `create index suspects_job on suspects (job_id)`,
  `create table suspect_votes (
    suspect_id integer not null references suspects(id) on delete cascade,
    analyst_id integer not null references analysts(id),
    classification text not null check (classification in ('csam','harmful-abusive-material','not')),
    reason text,
    at timestamptz not null default now(),
    primary key (suspect_id, analyst_id)
  )`,
  `create table list_entry_provenance (
    known_hash_id integer primary key references known_hashes(id) on delete cascade,
    suspect_id integer not null references suspects(id),
    media_id integer not null references media(id),
    page_url text,
    classified_by text[] not null,
    classified_at timestamptz not null default now()
  )`,
  `alter table analyst_sessions add column previews integer not null default 0`,
])
