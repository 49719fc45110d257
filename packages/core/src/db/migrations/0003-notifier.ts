import { statements } from './statements.js'

/**
 * The notifier's state: recheck schedule and counters on each notice, the notice history, the
 * RDAP cache, the hosts that could not be assigned to a provider, and the outbox's commit state.
 */
export const notifier = statements([
  `alter table notices add column incident jsonb`,
  `alter table notices add column next_check_at timestamptz`,
  `alter table notices add column checks integer not null default 0`,
  `alter table notices add column consecutive_gone integer not null default 0`,
  `alter table notices add column first_gone_at timestamptz`,
  `alter table notices add column last_check_at timestamptz`,
  `alter table notices add column last_check_result text`,
  `alter table notices add column reminders integer not null default 0`,
  `alter table notices add column escalations integer not null default 0`,
  `alter table notices add column ack_status text check (ack_status in ('removed','dispute'))`,
  `alter table notices add column ack_at timestamptz`,
  `alter table notices add column reupload_of integer references notices(id)`,
  `alter table notices add column host text`,
  `create index notices_due on notices (status, next_check_at)`,
  `create index notices_media on notices (media_id)`,
  `create index notices_url on notices (media_url)`,
  `create table notice_events (
    id integer generated always as identity primary key,
    notice_id integer not null references notices(id) on delete cascade,
    kind text not null,
    detail jsonb not null default '{}',
    at timestamptz not null default now()
  )`,
  `create index notice_events_notice on notice_events (notice_id, id)`,
  `create table rdap_cache (
    ip text primary key,
    result jsonb not null,
    fetched_at timestamptz not null default now(),
    expires_at timestamptz not null
  )`,
  `create table provider_lookups (
    host text primary key,
    status text not null check (status in ('resolved','unassigned')),
    attempts integer not null default 0,
    addresses jsonb not null default '[]',
    last_error text,
    provider_id integer references providers(id),
    next_attempt_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
  )`,
  `alter table providers add column rdap_handle text`,
  `alter table outbox add column provider_id integer references providers(id)`,
  `alter table outbox add column in_reply_to text`,
  `alter table outbox add column in_doubt boolean not null default false`,
  `alter table outbox add column committing_at timestamptz`,
  `alter table outbox drop constraint outbox_status_check`,
  `alter table outbox add constraint outbox_status_check check (status in ('pending','sending','committing','sent','failed','held'))`,
  `create index outbox_notice on outbox (notice_id)`,
  `create index outbox_recent on outbox (to_address, sent_at)`,
])
