import { statements } from './statements.js'

/**
 * Login throttling in the database (it was a per-process Map while sessions lived here already):
 * each failed login is a row, counted per account name within the lockout window by whichever
 * `serve` process sees the next attempt.
 */
export const web = statements([
  `create table login_failures (
    id bigint generated always as identity primary key,
    name text not null,
    at timestamptz not null default now()
  )`,
  `create index login_failures_name_at on login_failures (name, at)`,
  `create index login_failures_at on login_failures (at)`,
])
