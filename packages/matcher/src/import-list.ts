import { type Kysely, type Database, type CopyFrom, type ListClassification, NonRetryableError, RetryableError, copyField, sql, withDefaults } from '@arachnid/core'
import { recordChanges } from './change-log.js'
import { type LineParser, type ListFormat, type ListRow, type ParsedLine, createLineParser } from './list-formats.js'

export interface RejectedRow {
  readonly line: number
  readonly reason: string
}

export const IMPORT_MODES = ['replace', 'append'] as const
export type ImportMode = (typeof IMPORT_MODES)[number]

export interface ImportListOptions {
  /** The list's name; created on first import. */
  readonly name: string
  /**
   * Lines of the list file: an array, or a pull-based async iterable such as `readLines(stream)`.
   * Not a readline interface: it reads ahead and drops the lines it emits before the import
   * starts iterating (after its first database round trips).
   */
  readonly lines: AsyncIterable<string> | Iterable<string>
  /** File format. Default 'csv' (`algorithm,hash[,category][,external_id]` with a header). */
  readonly format?: ListFormat
  /**
   * 'replace' (default): the rows become a new version, activated only once complete, while the
   * previous version keeps matching. 'append': the rows join the active version in one transaction
   * (the quick way to add a few hashes to a large list; matchers pick them up as a delta).
   */
  readonly mode?: ImportMode
  /** Apply nothing when any row is bad. Default false: apply the valid rows and report the bad ones. */
  readonly strict?: boolean
  /** Where the rows came from (file name), kept with the version. */
  readonly source?: string
  readonly description?: string
  /** Set this list's PDQ threshold (null: back to the matcher's default). Default: unchanged. */
  readonly pdqThreshold?: number | null
  /** Set this list's blockhash threshold (null: back to the matcher's default). Default: unchanged. */
  readonly blockhashThreshold?: number | null
  /**
   * What this list's entries are, in Arachnid Shield's words (`csam` or `harmful-abusive-material`),
   * set with the import. Default: unchanged (a new list is `csam`).
   */
  readonly classification?: ListClassification
  /** `vpdq` format: the name (external id) of a file's first video when it has no `# video: NAME` line. */
  readonly videoName?: string
  /** Rows per INSERT statement (or per COPY). Default 20000. */
  readonly chunkRows?: number
  /**
   * Bulk loading through COPY FROM STDIN (the database handle's `copyFrom`, Postgres only). Without
   * it, rows go in as batched multi-row INSERTs (PGlite).
   */
  readonly copyFrom?: CopyFrom
  /**
   * Stops the import (Ctrl-C): checked between rows and before activation. Nothing is applied, a
   * list the import created is not left behind, and a RetryableError with code INTERRUPTED is thrown.
   */
  readonly signal?: AbortSignal
}

export const DEFAULT_IMPORT_OPTIONS: Required<Pick<ImportListOptions, 'format' | 'mode' | 'strict' | 'chunkRows'>> = {
  format: 'csv', mode: 'replace', strict: false, chunkRows: 20_000,
}

type ResolvedOptions = ImportListOptions & typeof DEFAULT_IMPORT_OPTIONS

export interface ImportListResult {
  readonly list: string
  readonly listId: number
  /** The version the rows went into, or undefined when nothing was applied. */
  readonly version: number | undefined
  /** Its id (hash_list_versions.id), when something was applied. */
  readonly versionId?: number
  /** The ids of the rows this import added (the whole new version, or the appended rows), for a retro-hunt. */
  readonly added?: { readonly first: number; readonly last: number }
  readonly imported: number
  readonly rejected: readonly RejectedRow[]
  /**
   * False when nothing was applied: a bad row with `strict`, or a file whose every row was rejected
   * (which would otherwise replace the list with nothing). A list that the failed import would
   * have created is not left behind.
   */
  readonly applied: boolean
  /** Rows left out because the same algorithm and hash came earlier in the file: each entry is stored once (the first). */
  readonly repeated: number
  /**
   * Append only: rows left out because the active version already holds that algorithm and hash
   * (retracted ones included: appending a list again does not undo a retraction).
   */
  readonly alreadyPresent: number
}

/** Rows per column, as the arrays one `insert ... select from unnest(...)` takes. */
class Columns {
  algorithm: string[] = []
  hex: string[] = []
  category: (string | null)[] = []
  externalId: (string | null)[] = []
  quality: (number | null)[] = []
  /** Video entries: frames and qualities as hex, timestamps as a Postgres array literal; null otherwise. */
  frames: (string | null)[] = []
  qualities: (string | null)[] = []
  timestamps: (string | null)[] = []
  get length(): number { return this.hex.length }
  push(row: ListRow): void {
    this.algorithm.push(row.algorithm)
    this.hex.push(row.hex)
    this.category.push(row.category)
    this.externalId.push(row.externalId)
    this.quality.push(row.quality)
    this.frames.push(row.video ? Buffer.from(row.video.frames).toString('hex') : null)
    this.qualities.push(row.video ? Buffer.from(row.video.qualities).toString('hex') : null)
    this.timestamps.push(row.video ? `{${row.video.timestamps.join(',')}}` : null)
  }

  slice(from: number, to: number): Columns {
    const part = new Columns()
    for (const key of ['algorithm', 'hex', 'category', 'externalId', 'quality', 'frames', 'qualities', 'timestamps'] as const) {
      (part[key] as unknown[]) = this[key].slice(from, to)
    }
    return part
  }
}

/** What a parser completes at the end of the file (the last video of a vPDQ file) goes where a line's row would. */
function lastRow(parser: LineParser): ParsedLine {
  return parser.finish() ?? undefined
}

/**
 * Imports a list file as a new version (or, with mode 'append', into the active version). Rows are
 * written in bulk (one multi-row INSERT from arrays per chunk, or COPY) into a version marked
 * `importing`, which no matcher reads; rows repeating an earlier row of the file are dropped, and
 * the version becomes active in one short transaction once every row is in, so the previous
 * version keeps matching until then and a failed or strict import leaves nothing applied (and no
 * list that it created). Every activation, addition and threshold change is written to the change
 * log that matchers poll.
 *
 * @example
 * const result = await importList(db, { name: 'demo', lines: ['algorithm,hash', 'md5,0cc1...'] })
 */
export async function importList(db: Kysely<Database>, options: ImportListOptions): Promise<ImportListResult> {
  const o: ResolvedOptions = withDefaults(DEFAULT_IMPORT_OPTIONS, options)
  if (o.signal?.aborted) throw interrupted(o.name)
  const list = await ensureList(db, o.name, o.description)
  const active = await db.selectFrom('hash_lists as l').innerJoin('hash_list_versions as v', 'v.id', 'l.active_version_id')
    .where('l.id', '=', list.id).select(['v.id', 'v.version']).executeTakeFirst()
  if (o.mode === 'append' && active !== undefined) return appendRows(db, list.id, active, o)

  const rejected: RejectedRow[] = []
  const parser = createLineParser(o.format, { videoName: o.videoName })
  const last = await db.selectFrom('hash_list_versions').where('list_id', '=', list.id)
    .select((eb) => eb.fn.max('version').as('v')).executeTakeFirst()
  const versionNo = Number(last?.v ?? 0) + 1
  const version = await db.insertInto('hash_list_versions')
    .values({ list_id: list.id, version: versionNo, status: 'importing', rows: 0, source: o.source ?? null, format: o.format })
    .returning('id').executeTakeFirstOrThrow()
  let imported = 0
  const notApplied = async (): Promise<ImportListResult> => {
    await discardVersion(db, list.id, version.id, rejected.length)
    return { list: o.name, listId: list.id, version: undefined, imported: 0, rejected, applied: false, repeated: 0, alreadyPresent: 0 }
  }
  let repeated = 0
  let range: { first: number | null; last: number | null } | undefined
  try {
    let chunk = new Columns()
    let lineNo = 0
    for await (const raw of o.lines) {
      if (o.signal?.aborted) throw interrupted(o.name)
      lineNo++
      const parsed = parser.parse(raw.replace(/\r$/, ''), lineNo)
      if (parsed === undefined) continue
      if ('error' in parsed) { rejected.push({ line: lineNo, reason: parsed.error }); continue }
      // In strict mode a bad row means nothing is applied: stop writing, keep reading to report every bad line.
      if (o.strict && rejected.length > 0) continue
      chunk.push(parsed)
      if (chunk.length >= o.chunkRows) {
        imported += await insertRows(db, list.id, version.id, chunk, o.copyFrom)
        chunk = new Columns()
      }
    }
    if (o.signal?.aborted) throw interrupted(o.name)
    const final = lastRow(parser)
    if (final !== undefined && 'error' in final) rejected.push({ line: lineNo, reason: final.error })
    else if (final !== undefined && !(o.strict && rejected.length > 0)) chunk.push(final)
    if (o.strict && rejected.length > 0) return await notApplied()
    imported += await insertRows(db, list.id, version.id, chunk, o.copyFrom)
    // Every row rejected is a wrong --format or a broken file far more often than a wish to empty the list.
    if (imported === 0 && rejected.length > 0) return await notApplied()
    repeated = await dropRepeatedRows(db, version.id)
    imported -= repeated
    range = await db.selectFrom('known_hashes').where('version_id', '=', version.id)
      .select((eb) => [eb.fn.min('id').as('first'), eb.fn.max('id').as('last')]).executeTakeFirst()
    if (o.signal?.aborted) throw interrupted(o.name)
    await db.transaction().execute(async (trx) => {
      // The list row lock orders this activation with appends to the old version.
      await trx.selectFrom('hash_lists').where('id', '=', list.id).select('id').forUpdate().execute()
      await trx.updateTable('hash_list_versions').set({ status: 'superseded' })
        .where('list_id', '=', list.id).where('status', '=', 'active').execute()
      await trx.updateTable('hash_list_versions').set({
        status: 'active', activated_at: sql<Date>`now()`, rows: imported, rejected: rejected.length,
        first_id: range?.first ?? null, last_id: range?.last ?? null,
      }).where('id', '=', version.id).execute()
      await trx.updateTable('hash_lists').set({ active_version_id: version.id, changed_at: sql<Date>`clock_timestamp()`, ...thresholds(o) })
        .where('id', '=', list.id).execute()
      await recordChanges(trx, [{ list_id: list.id, version_id: version.id, kind: 'activate' }])
    })
  } catch (error) {
    await discardVersion(db, list.id, version.id, rejected.length).catch(() => {})
    // A source stopped by the same signal (a stream with addAbortSignal) fails with its own AbortError.
    throw o.signal?.aborted ? interrupted(o.name) : error
  }
  // After a bulk load the planner's statistics are stale, and with them it can pick a scan over the
  // whole table instead of the (algorithm, hash) index for the exact lookups.
  if (imported >= 10_000) await sql`analyze known_hashes`.execute(db)
  const added = range?.first != null && range.last != null ? { added: { first: Number(range.first), last: Number(range.last) } } : {}
  return { list: o.name, listId: list.id, version: versionNo, versionId: version.id, ...added, imported, rejected, applied: true, repeated, alreadyPresent: 0 }
}

/**
 * Undoes a version that will not be activated: its rows go, the version stays in the list's
 * history as `failed`, and a list with no other version (one this import created) goes entirely,
 * so that `lists list` shows no list that never had a version.
 */
async function discardVersion(db: Kysely<Database>, listId: number, versionId: number, rejected: number): Promise<void> {
  await db.updateTable('hash_list_versions').set({ status: 'failed', rejected }).where('id', '=', versionId).execute()
  await db.deleteFrom('known_hashes').where('version_id', '=', versionId).execute()
  await db.transaction().execute(async (trx) => {
    // The list row lock orders this with another import of the same list starting now: either it
    // has made its version already (seen below, the list stays) or it waits and then makes the list anew.
    await trx.selectFrom('hash_lists').where('id', '=', listId).select('id').forUpdate().execute()
    const other = await trx.selectFrom('hash_list_versions').where('list_id', '=', listId).where('id', '<>', versionId)
      .select('id').limit(1).executeTakeFirst()
    if (other === undefined) await trx.deleteFrom('hash_lists').where('id', '=', listId).where('active_version_id', 'is', null).execute()
  })
}

/**
 * Deletes the rows of a version that repeat an earlier row (same algorithm and hash), keeping the
 * first; returns how many went. One aggregate over the version's rows finds whether there are any
 * (about 1.5 s per million rows on Postgres, a few percent of the import); only then are they
 * deleted. Neither statement joins the version's rows to themselves: the statistics of rows loaded
 * a moment ago are stale, and a planner that expects one row would pick a nested loop over them.
 */
async function dropRepeatedRows(db: Kysely<Database>, versionId: number): Promise<number> {
  const found = await sql<{ n: number }>`select count(*)::int as n from (
    select 1 from known_hashes where version_id = ${versionId} group by algorithm, hash having count(*) > 1) r`.execute(db)
  if (Number(found.rows[0]?.n ?? 0) === 0) return 0
  const gone = await sql<{ n: number }>`
    with gone as (
      delete from known_hashes where id in (
        select id from (
          select id, row_number() over (partition by algorithm, hash order by id) as n
          from known_hashes where version_id = ${versionId}) ranked
        where ranked.n > 1)
      returning 1)
    select count(*)::int as n from gone`.execute(db)
  return Number(gone.rows[0]?.n ?? 0)
}

async function appendRows(
  db: Kysely<Database>, listId: number, active: { id: number; version: number },
  o: ResolvedOptions,
): Promise<ImportListResult> {
  const rejected: RejectedRow[] = []
  const parser = createLineParser(o.format, { videoName: o.videoName })
  const rows = new Columns()
  const seen = new Set<string>()
  let repeated = 0
  let lineNo = 0
  try {
    for await (const raw of o.lines) {
      if (o.signal?.aborted) throw interrupted(o.name)
      lineNo++
      const parsed = parser.parse(raw.replace(/\r$/, ''), lineNo)
      if (parsed === undefined) continue
      if ('error' in parsed) { rejected.push({ line: lineNo, reason: parsed.error }); continue }
      const key = `${parsed.algorithm}:${parsed.hex}`
      if (seen.has(key)) { repeated++; continue }
      seen.add(key)
      rows.push(parsed)
    }
  } catch (error) {
    throw o.signal?.aborted ? interrupted(o.name) : error
  }
  if (o.signal?.aborted) throw interrupted(o.name)
  const final = lastRow(parser)
  if (final !== undefined && 'error' in final) rejected.push({ line: lineNo, reason: final.error })
  else if (final !== undefined && !seen.has(`${final.algorithm}:${final.hex}`)) rows.push(final)
  else if (final !== undefined) repeated++
  const nothing = { list: o.name, listId, version: undefined, imported: 0, rejected, applied: false, repeated: 0, alreadyPresent: 0 }
  if (o.strict && rejected.length > 0) return nothing
  if (rows.length === 0 && rejected.length > 0) return nothing
  const added = await db.transaction().execute(async (trx) => {
    // Appends to one list are serialised, and wait for an activation in flight to commit.
    const locked = await trx.selectFrom('hash_lists').where('id', '=', listId).select('active_version_id').forUpdate().executeTakeFirstOrThrow()
    if (locked.active_version_id !== active.id) throw new NonRetryableError('LIST_CHANGED', `list ${o.name}: a new version was activated during the append; run it again`)
    const ids: number[] = []
    let n = 0
    for (let i = 0; i < rows.length; i += o.chunkRows) {
      const part = rows.slice(i, i + o.chunkRows)
      const inserted = await sql<{ first: number | null; last: number | null; n: number }>`
        with ins as (${insertSql(listId, active.id, part, active.id)} returning id)
        select min(id) as first, max(id) as last, count(*)::int as n from ins`.execute(trx)
      const r = inserted.rows[0]
      n += Number(r?.n ?? 0)
      if (r?.first != null && r.last != null) ids.push(r.first, r.last)
    }
    const first = ids.length > 0 ? Math.min(...ids) : null
    const last = ids.length > 0 ? Math.max(...ids) : null
    await trx.updateTable('hash_list_versions').set((eb) => ({
      rows: sql<number>`rows + ${n}`,
      first_id: first === null ? eb.ref('first_id') : sql<number>`least(coalesce(first_id, ${first}), ${first})`,
      last_id: last === null ? eb.ref('last_id') : sql<number>`greatest(coalesce(last_id, ${last}), ${last})`,
    })).where('id', '=', active.id).execute()
    const settings = thresholds(o)
    await trx.updateTable('hash_lists').set({ changed_at: sql<Date>`clock_timestamp()`, ...settings }).where('id', '=', listId).execute()
    const changes = []
    if (first !== null && last !== null) changes.push({ list_id: listId, version_id: active.id, kind: 'add' as const, first_id: first, last_id: last })
    if (settings.pdq_threshold !== undefined || settings.blockhash_threshold !== undefined) changes.push({ list_id: listId, version_id: active.id, kind: 'settings' as const })
    await recordChanges(trx, changes)
    return { n, first, last }
  })
  const range = added.first !== null && added.last !== null ? { added: { first: added.first, last: added.last } } : {}
  return { list: o.name, listId, version: active.version, versionId: active.id, ...range, imported: added.n, rejected, applied: true, repeated, alreadyPresent: rows.length - added.n }
}

function interrupted(list: string): RetryableError {
  return new RetryableError('INTERRUPTED', `the import into ${list} was interrupted: nothing applied`)
}

/** The list's own settings the import changes: thresholds, and the classification (which no index reads, so it needs no change-log row). */
function thresholds(o: ImportListOptions): { pdq_threshold?: number | null; blockhash_threshold?: number | null; classification?: ListClassification } {
  const out: { pdq_threshold?: number | null; blockhash_threshold?: number | null; classification?: ListClassification } = {}
  if (o.classification !== undefined) out.classification = o.classification
  if (o.pdqThreshold !== undefined) out.pdq_threshold = o.pdqThreshold
  if (o.blockhashThreshold !== undefined) out.blockhash_threshold = o.blockhashThreshold
  return out
}

/** The INSERT of a chunk of rows; with `skipPresentIn`, rows whose algorithm and hash that version already holds are left out. */
function insertSql(listId: number, versionId: number, rows: Columns, skipPresentIn?: number) {
  return sql`insert into known_hashes (list_id, version_id, algorithm, hash, category, external_id, quality, frames, frame_qualities, frame_timestamps)
    select ${listId}::int, ${versionId}::int, t.a, decode(t.h, 'hex'), t.c, t.e, t.q, decode(t.f, 'hex'), decode(t.fq, 'hex'), t.ft::real[]
    from unnest(${rows.algorithm}::text[], ${rows.hex}::text[], ${rows.category}::text[], ${rows.externalId}::text[], ${rows.quality}::int[],
      ${rows.frames}::text[], ${rows.qualities}::text[], ${rows.timestamps}::text[]) as t(a, h, c, e, q, f, fq, ft)
    ${skipPresentIn === undefined ? sql`` : sql`where not exists (
      select 1 from known_hashes k where k.algorithm = t.a and k.hash = decode(t.h, 'hex') and k.version_id = ${skipPresentIn}::int)`}`
}

async function insertRows(db: Kysely<Database>, listId: number, versionId: number, rows: Columns, copy?: CopyFrom): Promise<number> {
  if (rows.length === 0) return 0
  if (copy) {
    // COPY's text format: bytea as an escaped \\x<hex>, nulls as \N, tabs between fields.
    const prefix = `${listId}\t${versionId}\t`
    const lines = function* () {
      for (let i = 0; i < rows.length; i++) {
        const video = rows.frames[i] === null ? '\\N\t\\N\t\\N' : `\\\\x${rows.frames[i]}\t\\\\x${rows.qualities[i]}\t${rows.timestamps[i]}`
        yield `${prefix}${copyField(rows.algorithm[i])}\t\\\\x${rows.hex[i]}\t${copyField(rows.category[i])}\t${copyField(rows.externalId[i])}\t${copyField(rows.quality[i])}\t${video}\n`
      }
    }
    await copy('copy known_hashes (list_id, version_id, algorithm, hash, category, external_id, quality, frames, frame_qualities, frame_timestamps) from stdin', lines())
    return rows.length
  }
  await insertSql(listId, versionId, rows).execute(db)
  return rows.length
}

async function ensureList(db: Kysely<Database>, name: string, description?: string): Promise<{ id: number }> {
  await db.insertInto('hash_lists').values({ name, description: description ?? null })
    .onConflict((oc) => oc.column('name').doNothing()).execute()
  return db.selectFrom('hash_lists').select('id').where('name', '=', name).executeTakeFirstOrThrow()
}
