import { statements } from './statements.js'

/**
 * List sharing between deployments. An API user's scopes say what it may do beyond matching
 * (`export`: read a list's changes from `GET /api/v1/lists/:name/changes`); a subscription is
 * another deployment's list this one follows: where (URL and the list's name there), as whom
 * (the API user's name and password, kept as given because every pull presents them), into which
 * local list, and how far it has read (the peer's change-log cursor).
 */
export const listSharing = statements([
  `alter table api_users add column scopes text[] not null default '{match}'`,
  `create table list_subscriptions (
    id integer generated always as identity primary key,
    local_name text not null unique,
    url text not null,
    remote_name text not null,
    user_name text not null,
    password text not null,
    cursor text not null default '0',
    classification text,
    pulls integer not null default 0,
    last_pull_at timestamptz,
    last_error text,
    created_at timestamptz not null default now()
  )`,
])
