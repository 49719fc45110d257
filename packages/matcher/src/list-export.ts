import { type Database, type Kysely, type ListClassification, NonRetryableError, sql } from '@arachnid/core'
import type { ListFormat } from './list-formats.js'

/**
 * Sharing lists: a list's active version written out in a format `lists import` reads back
 * (`exportListLines`), its retractions as `algorithm:hex` lines (`exportRetractionLines`, what
 * `lists retract` takes), and a list's changes since a cursor of the change log
 * (`listChanges`), which the matching service serves to subscribers. Every read goes by
 * `known_hashes.id` in keyset pages: a list of any size is never held in memory whole.
 */

/** Formats a list can be written in: every import format but md5-lines, which holds MD5s only. */
export const EXPORT_FORMATS = ['csv', 'pdq-csv', 'jsonl', 'vpdq'] as const satisfies readonly ListFormat[]
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

export function isExportFormat(value: string): value is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(value)
}

/** Rows per keyset page. */
export const EXPORT_PAGE_ROWS = 5000

/** One list entry as it is shared: what `lists import` needs to make it again. */
export interface SharedEntry {
  /** known_hashes.id on the deployment that serves it (for paging; not kept by a subscriber). */
  readonly id: number
  readonly algorithm: string
  /** Lowercase hex. */
  readonly hash: string
  readonly category: string | null
  readonly external_id: string | null
  readonly quality: number | null
  /** A video entry (`vpdq`): its frames. */
  readonly frames?: readonly { readonly pdq: string; readonly quality: number; readonly timestamp: number }[]
}

interface EntryRow {
  id: number
  algorithm: string
  hash: Uint8Array
  category: string | null
  external_id: string | null
  quality: number | null
  frames: Uint8Array | null
  frame_qualities: Uint8Array | null
  frame_timestamps: number[] | null
}

function shared(r: EntryRow): SharedEntry {
  const entry: SharedEntry = {
    id: Number(r.id), algorithm: r.algorithm, hash: Buffer.from(r.hash).toString('hex'),
    category: r.category, external_id: r.external_id, quality: r.quality,
  }
  if (r.frames === null) return entry
  const frames = Buffer.from(r.frames)
  const out = []
  for (let f = 0; f * 32 < frames.length; f++) {
    out.push({ pdq: frames.subarray(f * 32, f * 32 + 32).toString('hex'), quality: r.frame_qualities?.[f] ?? 0, timestamp: Number(r.frame_timestamps?.[f] ?? f) })
  }
  return { ...entry, frames: out }
}

/**
 * One keyset page of a version's entries: ids above `afterId` (and at most `throughId`), by id.
 * `retracted`: the retracted ones instead of the live ones.
 */
export async function entryPage(db: Kysely<Database>, page: {
  readonly versionId: number; readonly afterId: number; readonly limit: number
  readonly throughId?: number; readonly retracted?: boolean; readonly ids?: readonly number[]
}): Promise<SharedEntry[]> {
  let q = db.selectFrom('known_hashes').where('version_id', '=', page.versionId).where('id', '>', page.afterId)
    .where('retracted_at', page.retracted ? 'is not' : 'is', null)
    .select(['id', 'algorithm', 'hash', 'category', 'external_id', 'quality', 'frames', 'frame_qualities', 'frame_timestamps'])
    .orderBy('id').limit(page.limit)
  if (page.throughId !== undefined) q = q.where('id', '<=', page.throughId)
  if (page.ids !== undefined) q = q.where('id', 'in', page.ids.length > 0 ? [...page.ids] : [-1])
  return (await q.execute()).map(shared)
}

/** A list's id, active version and classification; throws NO_SUCH_LIST. */
export async function activeVersionOf(db: Kysely<Database>, name: string): Promise<{ listId: number; versionId: number | null; classification: ListClassification }> {
  const list = await db.selectFrom('hash_lists').where('name', '=', name).select(['id', 'active_version_id', 'classification']).executeTakeFirst()
  if (list === undefined) throw new NonRetryableError('NO_SUCH_LIST', `no list named "${name}"`)
  return { listId: list.id, versionId: list.active_version_id, classification: list.classification }
}

/** Every entry of a version (live, or retracted), page by page. */
async function* entries(db: Kysely<Database>, versionId: number | null, retracted: boolean, pageRows: number): AsyncGenerator<SharedEntry> {
  if (versionId === null) return
  let afterId = 0
  for (;;) {
    const page = await entryPage(db, { versionId, afterId, limit: pageRows, retracted })
    for (const e of page) yield e
    if (page.length < pageRows) return
    afterId = page.at(-1)!.id
  }
}

const csvField = (v: string | number | null) => {
  if (v === null) return ''
  const s = String(v)
  return /[",\n\r]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s
}

export interface ExportCounts {
  /** Entries written. */
  written: number
  /** Entries the format cannot carry (a video outside `vpdq`, a non-PDQ entry in `pdq-csv`...), by reason. */
  left: Record<string, number>
}

/** An entry as a `jsonl` line (not a video: those go as `vpdqBlock`). */
export function jsonlLine(e: SharedEntry): string {
  return `${JSON.stringify({ algorithm: e.algorithm, hash: e.hash, category: e.category, external_id: e.external_id, quality: e.quality })}\n`
}

/** A video entry as vPDQ's text: `# video: NAME` (its external id, or `vpdq-<hash>`), then one line per frame. */
export function vpdqBlock(e: SharedEntry): string {
  const lines = [`# video: ${(e.external_id ?? `vpdq-${e.hash}`).replace(/[\r\n]/g, ' ')}\n`]
  for (const [i, f] of (e.frames ?? []).entries()) lines.push(`${i},${f.quality},${f.pdq},${f.timestamp}\n`)
  return lines.join('')
}

/**
 * The live entries of a list's active version, as lines (each ending in "\n") of `format`:
 * - `csv`: header `algorithm,hash,category,external_id,quality`, then one row per entry;
 * - `pdq-csv`: header `hash,quality,category,external_id`, then its PDQ entries (those with a quality);
 * - `jsonl`: `{"algorithm","hash","category","external_id","quality"}` per entry;
 * - `vpdq`: per video entry a line `# video: NAME` (its external id, or `vpdq-<hash>` without one)
 *   then its frames as `frame_number,quality,pdq_hex,timestamp`.
 * Entries a format cannot carry are left out and counted in `counts.left`. Read in keyset pages.
 *
 * @example
 * for await (const line of exportListLines(db, 'partner', 'csv')) process.stdout.write(line)
 */
export async function* exportListLines(db: Kysely<Database>, name: string, format: ExportFormat, counts: ExportCounts = { written: 0, left: {} }, pageRows = EXPORT_PAGE_ROWS): AsyncGenerator<string> {
  const { versionId } = await activeVersionOf(db, name)
  const leave = (why: string) => { counts.left[why] = (counts.left[why] ?? 0) + 1 }
  if (format === 'csv') yield 'algorithm,hash,category,external_id,quality\n'
  if (format === 'pdq-csv') yield 'hash,quality,category,external_id\n'
  for await (const e of entries(db, versionId, false, pageRows)) {
    if (format === 'vpdq') {
      if (e.frames === undefined) { leave(`${e.algorithm} entries (only videos are written as vpdq)`); continue }
      counts.written++
      yield vpdqBlock(e)
      continue
    }
    if (e.frames !== undefined) { leave('vpdq entries (export them with --format vpdq)'); continue }
    if (format === 'pdq-csv') {
      if (e.algorithm !== 'pdq') { leave(`${e.algorithm} entries (pdq-csv holds PDQ hashes only)`); continue }
      if (e.quality === null) { leave('pdq entries without a quality (pdq-csv requires one)'); continue }
      counts.written++
      yield `${e.hash},${e.quality},${csvField(e.category)},${csvField(e.external_id)}\n`
    } else if (format === 'csv') {
      counts.written++
      yield `${e.algorithm},${e.hash},${csvField(e.category)},${csvField(e.external_id)},${csvField(e.quality)}\n`
    } else {
      counts.written++
      yield jsonlLine(e)
    }
  }
}

/**
 * The retracted entries of a list's active version as `algorithm:hex` lines, as `lists retract`
 * takes them (the same for every format). Read in keyset pages.
 */
export async function* exportRetractionLines(db: Kysely<Database>, name: string, pageRows = EXPORT_PAGE_ROWS): AsyncGenerator<string> {
  const { versionId } = await activeVersionOf(db, name)
  for await (const e of entries(db, versionId, true, pageRows)) yield `${e.algorithm}:${e.hash}\n`
}

/** One change of a list as a subscriber applies it. */
export interface SharedChange {
  /** hash_list_changes.id. */
  readonly id: number
  /**
   * `replace`: the list is now exactly these entries (a version was activated), over as many pages
   * as it takes (`start` on the first, `end` on the last); `add`: these entries joined it;
   * `retract`: these entries stopped matching (`algorithm` and `hash` are what counts).
   */
  readonly kind: 'replace' | 'add' | 'retract'
  /** This part holds the change's first entries. */
  readonly start: boolean
  /** This part holds its last ones: the change is complete. */
  readonly end: boolean
  readonly entries: readonly SharedEntry[]
}

export interface ListChangesPage {
  readonly list: string
  readonly classification: ListClassification
  /** Where the next call starts: a change id `N` (changes up to N served whole), or `C:R` (inside change C, entries up to id R served). */
  readonly cursor: string
  /** More changes wait: call again with `cursor` at once. */
  readonly more: boolean
  readonly changes: readonly SharedChange[]
}

/** `N` or `C:R`; anything else is a 400 for the service. */
export function parseCursor(cursor: string | undefined): { done: number } | { inChange: number; afterRow: number } | undefined {
  const text = (cursor ?? '0').trim()
  let m = /^(\d{1,15})$/.exec(text)
  if (m) return { done: Number(m[1]) }
  m = /^(\d{1,15}):(\d{1,15})$/.exec(text)
  if (m) return { inChange: Number(m[1]), afterRow: Number(m[2]) }
  return undefined
}

/**
 * The changes of a list after `cursor` (change-log ids, see `ListChangesPage.cursor`), at most
 * `limit` entries: entries added and retracted, and for a version activated its whole live
 * content as a replace (which starts on a page of its own). Changes before the list's latest
 * activation are skipped: it replaces all of them. Threshold changes are not shared (each
 * deployment keeps its own); the classification comes with every page.
 */
export async function listChanges(db: Kysely<Database>, name: string, cursorText: string | undefined, limit: number): Promise<ListChangesPage> {
  const cursor = parseCursor(cursorText)
  if (cursor === undefined) throw new NonRetryableError('BAD_CURSOR', `cursor ${JSON.stringify(String(cursorText).slice(0, 40))}: expected a change id N or C:R as a previous answer gave it`)
  const { listId, versionId, classification } = await activeVersionOf(db, name)
  const done = 'done' in cursor ? cursor.done : cursor.inChange - 1
  const empty = { list: name, classification, cursor: 'done' in cursor ? String(cursor.done) : `${cursor.inChange}:${cursor.afterRow}`, more: false, changes: [] }
  if (versionId === null) return empty
  const latest = await db.selectFrom('hash_list_changes').where('list_id', '=', listId).where('kind', '=', 'activate').where('version_id', '=', versionId)
    .select((eb) => eb.fn.max('id').as('id')).executeTakeFirst()
  const from = Math.max(done, latest?.id == null ? 0 : Number(latest.id) - 1)
  const log = await db.selectFrom('hash_list_changes').where('list_id', '=', listId).where('version_id', '=', versionId)
    .where('id', '>', sql<string>`${String(from)}::bigint`).where('kind', 'in', ['activate', 'add', 'retract'])
    .select(['id', 'kind', 'first_id', 'last_id', 'known_hash_ids']).orderBy('id').limit(200).execute()
  const changes: SharedChange[] = []
  let budget = Math.max(1, limit)
  let next = empty.cursor
  let more = false
  for (const [i, c] of log.entries()) {
    const id = Number(c.id)
    if (c.kind === 'activate' && changes.length > 0) { more = true; break }
    if (budget <= 0) { more = true; break }
    const afterRow = 'inChange' in cursor && cursor.inChange === id ? cursor.afterRow : 0
    const kind = c.kind === 'activate' ? 'replace' : c.kind === 'add' ? 'add' : 'retract'
    const rows = await entryPage(db, {
      versionId, afterId: afterRow, limit: budget + 1, retracted: kind === 'retract',
      ...(kind === 'add' ? { afterId: Math.max(afterRow, Number(c.first_id ?? 0) - 1), throughId: Number(c.last_id ?? 0) } : {}),
      ...(kind === 'retract' ? { ids: c.known_hash_ids ?? [] } : {}),
    })
    const end = rows.length <= budget
    const part = end ? rows : rows.slice(0, budget)
    // A retraction shares only what identifies the entry.
    const shown = kind === 'retract' ? part.map((e) => ({ id: e.id, algorithm: e.algorithm, hash: e.hash, category: null, external_id: null, quality: null })) : part
    changes.push({ id, kind, start: afterRow === 0, end, entries: shown })
    budget -= part.length
    if (!end) { next = `${id}:${part.at(-1)!.id}`; more = true; break }
    next = String(id)
    if (i === log.length - 1 && log.length === 200) more = true
  }
  return { list: name, classification, cursor: next, more, changes }
}
