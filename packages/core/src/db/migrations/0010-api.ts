import { statements } from './statements.js'

/**
 * The matching service (`arachnid api`): each list's classification (what Shield-compatible answers
 * call its matches), the API users with their hashed passwords and limits, their use per UTC day
 * (counted here so a quota holds across every service process on the database), and the audit of
 * every call (counts only: never media bytes, never the URLs' content).
 */
export const api = statements([
  `alter table hash_lists add column classification text not null default 'csam'
    check (classification in ('csam', 'harmful-abusive-material'))`,
  `create table api_users (
    id integer generated always as identity primary key,
    name text not null unique,
    password_hash text not null,
    rate integer check (rate is null or rate > 0),
    daily_quota bigint check (daily_quota is null or daily_quota > 0),
    disabled_at timestamptz,
    created_at timestamptz not null default now()
  )`,
  `create table api_usage (
    user_id integer not null references api_users (id),
    day date not null,
    count bigint not null default 0,
    primary key (user_id, day)
  )`,
  `create table api_audit (
    id bigint generated always as identity primary key,
    user_id integer references api_users (id),
    endpoint text not null,
    at timestamptz not null default now(),
    status integer not null,
    hashes integer not null default 0,
    media integer not null default 0,
    csam integer not null default 0,
    harmful integer not null default 0,
    no_known_match integer not null default 0,
    malformed integer not null default 0
  )`,
  `create index api_audit_user_at on api_audit (user_id, at)`,
])
