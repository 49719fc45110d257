import { statements } from './statements.js'

/**
 * The crawl frontier in Postgres, shared by every worker of a job: one row per normalised URL
 * per job, leased with an expiry; a row per host holding its politeness clock; media fetches
 * leased the same way, so a worker that dies loses nothing.
 */
export const crawlerFrontier = statements([
  `alter table crawl_jobs drop constraint crawl_jobs_status_check`,
  `alter table crawl_jobs add constraint crawl_jobs_status_check check (status in ('running','paused','finished','failed','cancelled'))`,
  `alter table crawl_jobs add column updated_at timestamptz not null default now()`,
  `alter table crawl_jobs add column frontier_size integer not null default 0`,
  `create table frontier (
    id integer generated always as identity primary key,
    job_id integer not null references crawl_jobs(id) on delete cascade,
    url text not null,
    url_key text not null,
    host text not null,
    depth integer not null,
    reported boolean not null default false,
    status text not null default 'queued' check (status in ('queued','leased','done','failed')),
    attempts integer not null default 0,
    retry_count integer not null default 0,
    lease_until timestamptz,
    leased_by text,
    not_before timestamptz not null default now(),
    added_at timestamptz not null default now(),
    unique (job_id, url_key)
  )`,
  `create index frontier_next on frontier (job_id, status, host, depth, id)`,
  `create table frontier_hosts (
    job_id integer not null references crawl_jobs(id) on delete cascade,
    host text not null,
    next_allowed_at timestamptz not null default now(),
    last_leased_at timestamptz,
    pages integer not null default 0,
    delay_ms integer not null default 0,
    robots text,
    robots_fetched_at timestamptz,
    primary key (job_id, host)
  )`,
  `create table frontier_skips (
    job_id integer not null references crawl_jobs(id) on delete cascade,
    reason text not null,
    count integer not null default 0,
    example text,
    primary key (job_id, reason)
  )`,
  `alter table media_fetches add column state text not null default 'done' check (state in ('pending','leased','done'))`,
  `alter table media_fetches add column lease_until timestamptz`,
  `alter table media_fetches add column leased_by text`,
  `alter table media_fetches add column attempts integer not null default 0`,
  `create index media_fetches_pending on media_fetches (job_id, state, id)`,
])
