import { type Database, type Kysely, sql } from '@arachnid/core'
import type { PageRecord } from './job-store.js'

/** What recording a page gave: its id, and how many of its media URLs the job had not registered. */
export interface RecordedPage {
  readonly pageId: number
  readonly newMedia: number
  /** The page's pattern's figures after counting it (when budgets are on). */
  readonly pattern?: { readonly pages: number; readonly lastYield: number; readonly cap: number | null }
}

/**
 * Records a fetched (or failed) page in one statement: the page row (a retry updates it), its
 * media URLs registered in media_fetches (one row per URL per job), its sightings, and, when
 * pattern budgets are on, the page counted for its URL pattern with what it yielded: media URLs the
 * job had not registered (the rows this statement inserted) and links of patterns the job had not
 * seen (the url_patterns rows it inserted). The frontier's recordYield does the same count in
 * three statements; this is the crawler's path (one round trip per page instead of six).
 * `media` must already be de-duplicated and allowed by the URL policy.
 */
export async function recordFetchedPage(
  db: Kysely<Database>,
  jobId: number,
  page: PageRecord,
  media: readonly { readonly url: string; readonly via: string }[],
  yieldOf?: { readonly pattern: string; readonly example: string; readonly linked: ReadonlyMap<string, string> },
): Promise<RecordedPage> {
  const mediaJson = JSON.stringify(media.map((m) => ({ url: m.url, via: m.via })))
  const linkedJson = JSON.stringify(yieldOf ? [...yieldOf.linked].map(([pattern, example]) => ({ pattern, example: example.slice(0, 500) })) : [])
  const counting = yieldOf === undefined ? sql`` : sql`, lp as (
      insert into url_patterns (job_id, pattern, example)
      select ${jobId}, x.pattern, x.example from jsonb_to_recordset(${linkedJson}::jsonb) as x(pattern text, example text)
      on conflict (job_id, pattern) do nothing
      returning pattern
    ), c as (
      select (select count(*) from m where inserted)::int as new_media, (select count(*) from lp)::int as new_patterns
    ), y as (
      insert into url_patterns as u (job_id, pattern, example, pages, yielding, new_media, new_patterns, last_yield)
      select ${jobId}, ${yieldOf.pattern}, ${yieldOf.example.slice(0, 500)}, 1, (c.new_media + c.new_patterns > 0)::int, c.new_media, c.new_patterns,
        (c.new_media + c.new_patterns > 0)::int
      from c
      on conflict (job_id, pattern) do update set
        pages = u.pages + 1,
        yielding = u.yielding + excluded.yielding,
        new_media = u.new_media + excluded.new_media,
        new_patterns = u.new_patterns + excluded.new_patterns,
        last_yield = case when excluded.yielding > 0 then u.pages + 1 else u.last_yield end,
        -- It yields again: it keeps going.
        cap = case when excluded.yielding > 0 then null else u.cap end
      returning u.pages, u.last_yield, u.cap
    )`
  const { rows } = await sql<{ page_id: number; new_media: number; pages: number | null; last_yield: number | null; cap: number | null }>`
    with p as (
      insert into pages (job_id, url, final_url, depth, status, content_type, bytes, media_found, error_code, error_message)
      values (${jobId}, ${page.url}, ${page.finalUrl}, ${page.depth}, ${page.status}, ${page.contentType}, ${page.bytes}, ${page.mediaFound},
        ${page.error?.code ?? null}, ${page.error?.message.slice(0, 1000) ?? null})
      on conflict (job_id, url) do update set final_url = excluded.final_url, status = excluded.status, error_code = excluded.error_code,
        error_message = excluded.error_message, media_found = excluded.media_found
      returning id
    ), found as (
      select x.url, x.via from jsonb_to_recordset(${mediaJson}::jsonb) as x(url text, via text)
    ), m as (
      insert into media_fetches (job_id, url, state)
      select ${jobId}, found.url, 'pending' from found
      on conflict (job_id, url) do update set url = excluded.url
      returning id, url, (xmax = 0) as inserted
    ), s as (
      insert into sightings (job_id, page_id, fetch_id, via)
      select ${jobId}, p.id, m.id, found.via from p cross join m join found on found.url = m.url
      on conflict (page_id, fetch_id) do nothing
    )${counting}
    select (select id from p) as page_id, (select count(*) from m where inserted)::int as new_media,
      ${yieldOf === undefined ? sql`null::int as pages, null::int as last_yield, null::int as cap` : sql`y.pages, y.last_yield, y.cap from y`}`.execute(db)
  const row = rows[0]!
  return {
    pageId: Number(row.page_id), newMedia: Number(row.new_media),
    ...(yieldOf === undefined || row.pages === null ? {} : { pattern: { pages: Number(row.pages), lastYield: Number(row.last_yield), cap: row.cap === null ? null : Number(row.cap) } }),
  }
}
