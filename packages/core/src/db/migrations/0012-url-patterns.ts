import { statements } from './statements.js'

/**
 * Budgets per URL pattern: for each job and URL pattern (host and path shape with numbers, dates
 * and ids masked, plus the sorted query keys), what the pattern's pages yielded (new media URLs,
 * new patterns), so that several workers share the counts and a resumed job keeps them. A pattern
 * whose last pages yielded nothing gets a cap on the URLs it may still add to the frontier
 * (`cap`), lifted again if one of its pages yields. Each frontier row records its pattern, so the
 * queued URLs of a pattern that turns barren can be trimmed to its budget.
 */
export const urlPatterns = statements([
  `create table url_patterns (
    job_id integer not null references crawl_jobs(id) on delete cascade,
    pattern text not null,
    example text not null,
    enqueued integer not null default 0,
    pages integer not null default 0,
    yielding integer not null default 0,
    new_media integer not null default 0,
    new_patterns integer not null default 0,
    last_yield integer not null default 0,
    cap integer,
    refused integer not null default 0,
    primary key (job_id, pattern)
  )`,
  `alter table frontier add column pattern text`,
  `create index frontier_pattern on frontier (job_id, pattern) where status = 'queued'`,
])
