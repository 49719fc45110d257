import { type Database, type Kysely, type ListClassification, NonRetryableError, type SuspectMode, bytesToHex, sql } from '@arachnid/core'
import type { RawBuilder } from 'kysely'
import { importList } from './import-list.js'

/** The suspect policy, as analysts and admins see it. */
export interface SuspectPolicy {
  /** off: no suspects; on: media seen beside any confirmed match; per-list: beside confirmed matches of lists marked `suspects`. */
  readonly mode: SuspectMode
  /** Suspects queued at most per page. */
  readonly perPage: number
  /** Suspects queued at most per crawl job. */
  readonly perJob: number
  /** Two analysts must give the same classification before it takes effect. */
  readonly twoAnalysts: boolean
  /** Previews a session is shown before it is prompted to take a break; 0: never prompted. */
  readonly previewsBeforeBreak: number
}

export async function loadSuspectPolicy(db: Kysely<Database>): Promise<SuspectPolicy> {
  const row = await db.selectFrom('suspect_policy').selectAll().executeTakeFirstOrThrow()
  return { mode: row.mode, perPage: row.per_page, perJob: row.per_job, twoAnalysts: row.two_analysts, previewsBeforeBreak: row.previews_before_break }
}

/**
 * Queues as suspects the media that match nothing and were seen on a page beside a confirmed
 * match (auto-confirmed by the review policy or confirmed by an analyst; an ignore list's match is
 * no anchor), on the pages where any of `mediaIds` was seen: call it with a batch's media once
 * their matches are recorded (an earlier media on the page is queued when the match arrives, a
 * later one when its own batch does), and with a media an analyst has just confirmed. A media
 * that matched an ignore list, or has any match not rejected, is no suspect; each media is queued
 * once (the first page that showed it). At most `perPage` per page and `perJob` per job (two
 * workers queueing at the same moment can pass a bound by what one batch queues). One statement;
 * nothing when the policy is off. With `jobId`, only that job's pages are looked at (a crawl's
 * batch: a known picture seen on many pages of earlier jobs does not make each batch read them all).
 * Returns how many were queued.
 */
export async function queueSuspects(db: Kysely<Database>, mediaIds: readonly number[], options: { readonly jobId?: number } = {}): Promise<number> {
  if (mediaIds.length === 0) return 0
  const ids = `{${[...new Set(mediaIds)].join(',')}}`
  const jobId = options.jobId ?? null
  return insertSuspects(db, sql`
      select distinct s.page_id from media_fetches f join sightings s on s.fetch_id = f.id
      where f.media_id = any(${ids}::int[]) and (${jobId}::int is null or f.job_id = ${jobId}::int)`)
}

/**
 * queueSuspects over a whole crawl job: every page of the job where a confirmed match was seen.
 * A crawl worker runs it at most once a minute while its batches find matches, and once when its
 * part of the job ends, rather than once per batch: per batch it cost Postgres about 0.25 s of CPU
 * on a 5,000-page crawl (bench/crawl), for the same suspects a minute later. One statement.
 */
export async function queueJobSuspects(db: Kysely<Database>, jobId: number): Promise<number> {
  return insertSuspects(db, sql`
      select distinct s.page_id from matches m
      join media_fetches f on f.media_id = m.media_id and f.job_id = ${jobId}::int
      join sightings s on s.fetch_id = f.id
      where m.status in ('auto-confirmed', 'confirmed')`, jobId)
}

/**
 * The suspects of the pages `touched` selects (a query giving page_id), with the policy's rules
 * and bounds. With `fullJob`, nothing is read when that job already holds its per-job bound of
 * suspects (a sweep of a 5,000-page job cost Postgres about 2 s each time, for nothing once the
 * bound was reached); with the policy off, nothing is read either.
 */
async function insertSuspects(db: Kysely<Database>, touched: RawBuilder<unknown>, fullJob?: number): Promise<number> {
  const room = fullJob === undefined ? sql`` : sql` and per_job > (select count(*) from suspects where job_id = ${fullJob}::int)`
  const result = await sql<{ id: number }>`
    with policy as (
      select mode, per_page, per_job from suspect_policy where mode <> 'off'${room}
    ), touched as (
      -- An uncorrelated condition: Postgres tests it once, before reading any page.
      select page_id from (${touched}) t where exists (select 1 from policy)
    ), anchored as (
      select t.page_id, min(f.media_id) as beside
      from touched t
      join sightings s on s.page_id = t.page_id
      join media_fetches f on f.id = s.fetch_id
      join matches m on m.media_id = f.media_id and m.status in ('auto-confirmed', 'confirmed')
      join hash_lists l on l.id = m.list_id and not l.ignore
      cross join policy p
      where p.mode = 'on' or l.suspects
      group by t.page_id
    ), seen as (
      select distinct a.page_id, pg.job_id, f.media_id, a.beside
      from anchored a
      join pages pg on pg.id = a.page_id
      join sightings s on s.page_id = a.page_id
      join media_fetches f on f.id = s.fetch_id
      where f.media_id is not null and f.error_code is null
        and not exists (select 1 from matches m where m.media_id = f.media_id and (m.status <> 'rejected' or m.suppressed_by is not null))
        and not exists (select 1 from suspects x where x.media_id = f.media_id)
    ), on_page as (
      select seen.*, row_number() over (partition by page_id order by media_id) as n from seen
    ), page_bounded as (
      select o.page_id, o.job_id, o.media_id, o.beside, row_number() over (partition by o.job_id order by o.page_id, o.media_id) as n
      from on_page o cross join policy p
      where o.n <= p.per_page - (select count(*) from suspects x where x.page_id = o.page_id)
    ), bounded as (
      select b.* from page_bounded b cross join policy p
      where b.n <= p.per_job - (select count(*) from suspects x where x.job_id = b.job_id)
    )
    insert into suspects (media_id, job_id, page_id, beside_media_id)
    select distinct on (media_id) media_id, job_id, page_id, beside from bounded order by media_id, page_id
    on conflict (media_id) do nothing
    returning id`.execute(db)
  return result.rows.length
}

/** The local list a classification's hashes go into. */
export function classifiedListName(classification: ListClassification): string {
  return `classified-${classification}`
}

export interface ClassifiedEntries {
  readonly list: string
  readonly listId: number
  readonly versionId: number
  /** The known_hashes ids added (for the retro-hunt); undefined when every hash was in the list already. */
  readonly added?: { readonly first: number; readonly last: number }
  readonly entries: number
}

/**
 * A classified suspect's hashes (sha256, md5, sha1, PDQ and blockhash of an image; the exact
 * hashes and the vPDQ frames of a video) appended to the local list of its classification
 * (`classified-csam` or `classified-harmful-abusive-material`, created on first use with that
 * classification and review mode `verified`), each new entry with its provenance: the analysts, when,
 * the media and the page it was seen on. The entries' external id is `suspect:<id>`. The caller
 * runs the retro-hunt over `added`.
 */
export async function addClassifiedEntries(
  db: Kysely<Database>,
  input: { readonly suspectId: number; readonly classification: ListClassification; readonly analysts: readonly string[] },
): Promise<ClassifiedEntries> {
  const suspect = await db.selectFrom('suspects as s').innerJoin('media as m', 'm.id', 's.media_id').leftJoin('pages as p', 'p.id', 's.page_id')
    .where('s.id', '=', input.suspectId)
    .select(['s.media_id', 'p.url as page_url', 'm.kind', 'm.sha256', 'm.md5', 'm.sha1', 'm.pdq', 'm.pdq_quality', 'm.blockhash', 'm.frames', 'm.frame_qualities', 'm.frame_timestamps'])
    .executeTakeFirst()
  if (!suspect) throw new NonRetryableError('NOT_FOUND', `no suspect ${input.suspectId}`)
  const externalId = `suspect:${input.suspectId}`
  const rows = [`sha256,${bytesToHex(suspect.sha256)},,${externalId}`, `md5,${bytesToHex(suspect.md5)},,${externalId}`, `sha1,${bytesToHex(suspect.sha1)},,${externalId}`]
  if (suspect.pdq) rows.push(`pdq,${bytesToHex(suspect.pdq)},,${externalId}`)
  if (suspect.blockhash) rows.push(`blockhash,${bytesToHex(suspect.blockhash)},,${externalId}`)
  const name = classifiedListName(input.classification)
  const imports = [await importList(db, {
    name, lines: ['algorithm,hash,category,external_id', ...rows], mode: 'append', classification: input.classification, source: externalId,
    description: 'media classified by analysts from the suspect queue',
  })]
  if (suspect.kind === 'video' && suspect.frames && suspect.frame_qualities && suspect.frame_timestamps) {
    const frames = suspect.frames
    const lines = suspect.frame_timestamps.map((t, i) => `${i},${suspect.frame_qualities![i]},${bytesToHex(frames.subarray(i * 32, i * 32 + 32))},${Number(t)}`)
    imports.push(await importList(db, { name, lines, format: 'vpdq', videoName: externalId, mode: 'append', classification: input.classification, source: externalId }))
  }
  const failed = imports.find((r) => !r.applied && r.rejected.length > 0)
  if (failed) throw new NonRetryableError('CLASSIFY_IMPORT', `the suspect's hashes were refused: ${failed.rejected.map((r) => r.reason).join('; ')}`)
  const ranges = imports.flatMap((r) => (r.added ? [r.added] : []))
  const listId = imports[0]!.listId
  const version = await db.selectFrom('hash_lists').where('id', '=', listId).select('active_version_id').executeTakeFirstOrThrow()
  const added = ranges.length === 0 ? undefined : { first: Math.min(...ranges.map((r) => r.first)), last: Math.max(...ranges.map((r) => r.last)) }
  let entries = 0
  if (added) {
    const inserted = await sql<{ known_hash_id: number }>`
      insert into list_entry_provenance (known_hash_id, suspect_id, media_id, page_url, classified_by)
      select k.id, ${input.suspectId}, ${suspect.media_id}, ${suspect.page_url}, ${`{${input.analysts.map((a) => `"${a.replace(/["\\]/g, '\\$&')}"`).join(',')}}`}::text[]
      from known_hashes k where k.list_id = ${listId} and k.id between ${added.first} and ${added.last} and k.external_id = ${externalId}
      on conflict (known_hash_id) do nothing
      returning known_hash_id`.execute(db)
    entries = inserted.rows.length
  }
  return { list: name, listId, versionId: version.active_version_id!, ...(added ? { added } : {}), entries }
}
