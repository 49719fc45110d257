import { type Kysely, type Database, hexToBytes, NonRetryableError, sql } from '@arachnid/core'
import { type Algorithm, isAlgorithm, normaliseHash } from './algorithms.js'
import { splitCsvLine } from './csv.js'

export interface RejectedRow {
  readonly line: number
  readonly reason: string
}

export interface ImportListOptions {
  /** The list's name; created on first import. */
  readonly name: string
  /** Lines of a CSV file with the header `algorithm,hash[,category][,external_id]`. */
  readonly lines: AsyncIterable<string> | Iterable<string>
  /** Apply nothing when any row is bad. Default false: apply the valid rows and report the bad ones. */
  readonly strict?: boolean
  /** Where the rows came from (file name), kept with the version. */
  readonly source?: string
  readonly description?: string
}

export interface ImportListResult {
  readonly list: string
  readonly listId: number
  /** The new version number, or undefined when nothing was applied. */
  readonly version: number | undefined
  readonly imported: number
  readonly rejected: readonly RejectedRow[]
  readonly applied: boolean
}

const CHUNK = 1000

interface Row { algorithm: Algorithm; hash: Uint8Array; category: string | null; external_id: string | null }

/**
 * Imports a new version of a known-hash list. Rows go into a version marked `importing`, which no
 * matcher reads; the version becomes active in one short transaction once every row is in, so the
 * previous version keeps matching until then and a failed import leaves nothing half-applied.
 *
 * @example
 * const result = await importList(db, { name: 'demo', lines: ['algorithm,hash', 'md5,0cc1...'] })
 */
export async function importList(db: Kysely<Database>, options: ImportListOptions): Promise<ImportListResult> {
  const rejected: RejectedRow[] = []
  const rows: Row[] = []
  let columns: Record<string, number> | undefined
  let lineNo = 0
  for await (const raw of options.lines) {
    lineNo++
    const line = raw.replace(/\r$/, '')
    if (line.trim() === '' || line.startsWith('#')) continue
    const fields = splitCsvLine(line)
    if (columns === undefined) {
      columns = Object.fromEntries(fields.map((f, i) => [f.toLowerCase(), i]))
      if (columns.algorithm === undefined || columns.hash === undefined) {
        throw new NonRetryableError('BAD_LIST', `line ${lineNo}: the header must name the columns algorithm,hash[,category][,external_id]; got "${line.slice(0, 120)}"`)
      }
      continue
    }
    const algorithm = (fields[columns.algorithm!] ?? '').toLowerCase()
    if (!isAlgorithm(algorithm)) {
      rejected.push({ line: lineNo, reason: `unknown algorithm "${algorithm}"` })
      continue
    }
    const hash = normaliseHash(algorithm, fields[columns.hash!] ?? '')
    if ('error' in hash) {
      rejected.push({ line: lineNo, reason: hash.error })
      continue
    }
    const pick = (name: string) => {
      const index = columns![name]
      const value = index === undefined ? '' : (fields[index] ?? '')
      return value === '' ? null : value
    }
    rows.push({ algorithm, hash: hexToBytes(hash.hex), category: pick('category'), external_id: pick('external_id') })
  }
  if (columns === undefined) throw new NonRetryableError('BAD_LIST', 'the list is empty: no header line')

  const list = await ensureList(db, options.name, options.description)
  if (options.strict && rejected.length > 0) {
    return { list: options.name, listId: list.id, version: undefined, imported: 0, rejected, applied: false }
  }

  const last = await db.selectFrom('hash_list_versions').where('list_id', '=', list.id)
    .select((eb) => eb.fn.max('version').as('v')).executeTakeFirst()
  const versionNo = Number(last?.v ?? 0) + 1
  const version = await db.insertInto('hash_list_versions')
    .values({ list_id: list.id, version: versionNo, status: 'importing', rows: rows.length, source: options.source ?? null })
    .returning('id').executeTakeFirstOrThrow()
  try {
    for (let i = 0; i < rows.length; i += CHUNK) {
      await db.insertInto('known_hashes')
        .values(rows.slice(i, i + CHUNK).map((r) => ({ ...r, list_id: list.id, version_id: version.id })))
        .execute()
    }
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('hash_list_versions').set({ status: 'superseded' })
        .where('list_id', '=', list.id).where('status', '=', 'active').execute()
      await trx.updateTable('hash_list_versions').set({ status: 'active', activated_at: sql<Date>`now()` })
        .where('id', '=', version.id).execute()
      await trx.updateTable('hash_lists').set({ active_version_id: version.id, changed_at: sql<Date>`clock_timestamp()` })
        .where('id', '=', list.id).execute()
    })
  } catch (error) {
    await db.updateTable('hash_list_versions').set({ status: 'failed' }).where('id', '=', version.id).execute().catch(() => {})
    await db.deleteFrom('known_hashes').where('version_id', '=', version.id).execute().catch(() => {})
    throw error
  }
  return { list: options.name, listId: list.id, version: versionNo, imported: rows.length, rejected, applied: true }
}

async function ensureList(db: Kysely<Database>, name: string, description?: string): Promise<{ id: number }> {
  await db.insertInto('hash_lists').values({ name, description: description ?? null })
    .onConflict((oc) => oc.column('name').doNothing()).execute()
  return db.selectFrom('hash_lists').select('id').where('name', '=', name).executeTakeFirstOrThrow()
}

export interface ListSummary {
  readonly name: string
  readonly version: number | null
  readonly hashes: number
  readonly byAlgorithm: Readonly<Record<string, number>>
}

/** Each list with its active version and the counts of its matchable hashes. */
export async function listLists(db: Kysely<Database>): Promise<ListSummary[]> {
  const rows = await db.selectFrom('hash_lists as l')
    .leftJoin('hash_list_versions as v', 'v.id', 'l.active_version_id')
    .leftJoin('known_hashes as k', (join) => join.onRef('k.version_id', '=', 'l.active_version_id').on('k.retracted_at', 'is', null))
    .select(['l.name', 'v.version', 'k.algorithm', sql<number>`count(k.id)::int`.as('n')])
    .groupBy(['l.name', 'v.version', 'k.algorithm']).orderBy('l.name').execute()
  const out = new Map<string, { name: string; version: number | null; hashes: number; byAlgorithm: Record<string, number> }>()
  for (const row of rows) {
    const entry = out.get(row.name) ?? { name: row.name, version: row.version ?? null, hashes: 0, byAlgorithm: {} }
    if (row.algorithm) {
      entry.byAlgorithm[row.algorithm] = Number(row.n)
      entry.hashes += Number(row.n)
    }
    out.set(row.name, entry)
  }
  return [...out.values()]
}
