import { statements } from './statements.js'

/**
 * Providers' disputes, for analysts: each "dispute" answered on the acknowledgement page, with the
 * provider's own words, waits in the review queue until an analyst upholds the notice or
 * withdraws it (or escalates the dispute to the supervisors).
 */
export const notifierReview = statements([
  `create table notice_disputes (
    id integer generated always as identity primary key,
    notice_id integer not null references notices(id) on delete cascade,
    media_id integer not null references media(id),
    message text,
    via text not null default 'link',
    created_at timestamptz not null default now(),
    escalated_at timestamptz,
    resolved_at timestamptz,
    resolved_by integer references analysts(id),
    resolution text check (resolution in ('upheld','withdrawn')),
    resolution_reason text
  )`,
  `create index notice_disputes_open on notice_disputes (media_id) where resolved_at is null`,
  `create index notice_disputes_notice on notice_disputes (notice_id)`,
])
