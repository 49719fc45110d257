import { statements } from './statements.js'

/**
 * Analyst review: accounts and sessions, the review policy (one row, shared by every worker so a
 * match is routed the same way whichever machine found it), each list's review mode, why a match
 * waits, escalations and votes, suppressions left by rejections, and the append-only audit log
 * (a trigger refuses UPDATE, DELETE and TRUNCATE, so not even a bug in our code can rewrite it).
 */
export const review = statements([
  `create table analysts (
    id integer generated always as identity primary key,
    name text not null unique,
    role text not null check (role in ('analyst','supervisor','admin')),
    password_hash text not null,
    disabled_at timestamptz,
    created_at timestamptz not null default now()
  )`,
  `create table analyst_sessions (
    token_hash text primary key,
    analyst_id integer not null references analysts(id) on delete cascade,
    csrf_token text not null,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at timestamptz not null
  )`,
  `create index analyst_sessions_expiry on analyst_sessions (expires_at)`,
  `create table review_policy (
    id boolean primary key default true check (id),
    auto_exact boolean not null default true,
    auto_pdq_distance integer not null default 16,
    auto_blockhash_distance integer not null default 12,
    min_quality integer not null default 80,
    two_analysts_near boolean not null default false,
    updated_at timestamptz not null default now(),
    updated_by text
  )`,
  `insert into review_policy (id) values (true)`,
  `alter table hash_lists add column review_mode text not null default 'verified' check (review_mode in ('verified','review-required'))`,
  `alter table hash_lists add column review_priority integer not null default 0`,
  `alter table matches add column review_reason text`,
  `alter table matches add column escalated_at timestamptz`,
  `alter table matches add column decided_by integer references analysts(id)`,
  `alter table matches add column decided_at timestamptz`,
  `create index matches_pending on matches (status, media_id) where status = 'pending'`,
  `create index matches_media on matches (media_id)`,
  `create table review_votes (
    media_id integer not null references media(id),
    analyst_id integer not null references analysts(id),
    vote text not null check (vote in ('confirm')),
    at timestamptz not null default now(),
    primary key (media_id, analyst_id)
  )`,
  `create table review_suppressions (
    id integer generated always as identity primary key,
    media_id integer not null references media(id),
    list_id integer not null references hash_lists(id) on delete cascade,
    algorithm text not null,
    hash bytea not null,
    analyst_id integer references analysts(id),
    reason text,
    created_at timestamptz not null default now(),
    unique (media_id, list_id, algorithm, hash)
  )`,
  `create table audit_log (
    id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    actor_id integer references analysts(id),
    actor text not null,
    action text not null,
    subject text,
    reason text,
    detail jsonb not null default '{}'
  )`,
  `create index audit_log_subject on audit_log (subject, id)`,
  `create function audit_log_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_log is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
    end
  $$`,
  `create trigger audit_log_no_update before update or delete on audit_log for each row execute function audit_log_append_only()`,
  `create trigger audit_log_no_truncate before truncate on audit_log for each statement execute function audit_log_append_only()`,
])
