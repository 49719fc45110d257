import { type Kysely, type Database, type ListClassification, LIST_CLASSIFICATIONS, NonRetryableError, sql } from '@arachnid/core'
import { ALGORITHMS, type Algorithm, HASH_BYTES, isAlgorithm, normaliseHash } from './algorithms.js'
import { recordChanges } from './change-log.js'

export interface ListSummary {
  readonly name: string
  readonly version: number | null
  /** Matchable hashes of the active version (retracted ones excluded). */
  readonly hashes: number
  readonly byAlgorithm: Readonly<Record<string, number>>
  /** The list's own thresholds; null means the matcher's default. */
  readonly pdqThreshold: number | null
  readonly blockhashThreshold: number | null
  /** What the list's entries are, in Arachnid Shield's words: `csam` or `harmful-abusive-material`. */
  readonly classification: ListClassification
  /** An ignore list: media matching its entries have all their matches suppressed (`lists set NAME --ignore`). */
  readonly ignore: boolean
}

/** Each list with its active version and the counts of its matchable hashes. */
export async function listLists(db: Kysely<Database>): Promise<ListSummary[]> {
  const lists = await db.selectFrom('hash_lists as l').leftJoin('hash_list_versions as v', 'v.id', 'l.active_version_id')
    .select(['l.id', 'l.name', 'v.version', 'l.pdq_threshold', 'l.blockhash_threshold', 'l.classification', 'l.ignore']).orderBy('l.name').execute()
  const counts = await db.selectFrom('hash_lists as l')
    .innerJoin('known_hashes as k', 'k.version_id', 'l.active_version_id')
    .where('k.retracted_at', 'is', null)
    .select(['l.id', 'k.algorithm', sql<number>`count(*)::int`.as('n')]).groupBy(['l.id', 'k.algorithm']).execute()
  return lists.map((l) => {
    const byAlgorithm: Record<string, number> = {}
    let hashes = 0
    for (const c of counts) if (c.id === l.id) { byAlgorithm[c.algorithm] = Number(c.n); hashes += Number(c.n) }
    return { name: l.name, version: l.version ?? null, hashes, byAlgorithm, pdqThreshold: l.pdq_threshold, blockhashThreshold: l.blockhash_threshold, classification: l.classification, ignore: l.ignore }
  })
}

export interface ListVersionInfo {
  readonly version: number
  readonly status: string
  readonly rows: number
  readonly rejected: number
  readonly format: string | null
  readonly source: string | null
  readonly createdAt: Date
  readonly activatedAt: Date | null
}

export interface ListDetails extends ListSummary {
  readonly description: string | null
  /** Matchable hashes of the active version by category ('' for none). */
  readonly byCategory: Readonly<Record<string, number>>
  /** Retracted hashes of the active version, kept for audit. */
  readonly retracted: number
  /** Every version, newest first. */
  readonly versions: readonly ListVersionInfo[]
  /** Its retro-hunts (the media already seen searched for what it gained), newest first, at most 20. */
  readonly retroHunts: readonly RetroHuntInfo[]
}

export interface RetroHuntInfo {
  readonly id: number
  readonly trigger: string
  readonly status: string
  /** New entries looked for. */
  readonly entries: number
  readonly mediaScanned: number
  readonly matchedMedia: number
  readonly newMatches: number
  readonly notices: number
  /** URLs found gone when rechecked live before their notice. */
  readonly gone: number
  readonly startedAt: Date
  readonly finishedAt: Date | null
}

/**
 * One list in detail: counts by algorithm and category, retracted hashes, and the version history.
 *
 * @example
 * const details = await showList(db, 'ncmec')
 */
export async function showList(db: Kysely<Database>, name: string): Promise<ListDetails> {
  const list = await db.selectFrom('hash_lists').where('name', '=', name).selectAll().executeTakeFirst()
  if (list === undefined) throw new NonRetryableError('NO_SUCH_LIST', `no list named "${name}"`)
  const summary = (await listLists(db)).find((l) => l.name === name)!
  const categories = await db.selectFrom('known_hashes').where('version_id', '=', list.active_version_id ?? -1)
    .select([sql<string>`coalesce(category, '')`.as('category'),
      sql<number>`count(*) filter (where retracted_at is null)::int`.as('live'),
      sql<number>`count(*) filter (where retracted_at is not null)::int`.as('gone')])
    .groupBy(sql`coalesce(category, '')`).orderBy(sql`coalesce(category, '')`).execute()
  const versions = await db.selectFrom('hash_list_versions').where('list_id', '=', list.id).orderBy('version', 'desc')
    .select(['version', 'status', 'rows', 'rejected', 'format', 'source', 'created_at', 'activated_at']).execute()
  const hunts = await db.selectFrom('retro_hunts').where('list_id', '=', list.id).orderBy('id', 'desc').limit(20).selectAll().execute()
  return {
    ...summary,
    description: list.description,
    retroHunts: hunts.map((h) => ({
      id: h.id, trigger: h.trigger, status: h.status, entries: h.entries, mediaScanned: h.media_scanned, matchedMedia: h.matched_media,
      newMatches: h.new_matches, notices: h.notices, gone: h.gone, startedAt: h.started_at, finishedAt: h.finished_at,
    })),
    byCategory: Object.fromEntries(categories.filter((c) => Number(c.live) > 0).map((c) => [c.category, Number(c.live)])),
    retracted: categories.reduce((n, c) => n + Number(c.gone), 0),
    versions: versions.map((v) => ({
      version: v.version, status: v.status, rows: v.rows, rejected: v.rejected, format: v.format, source: v.source,
      createdAt: v.created_at, activatedAt: v.activated_at,
    })),
  }
}

/**
 * Changes what a list's entries are called in Shield-compatible answers (`csam` or
 * `harmful-abusive-material`). Matches read it with every lookup, so it holds from the next call.
 *
 * @example
 * await setListClassification(db, 'partner-list', 'harmful-abusive-material')
 */
export async function setListClassification(db: Kysely<Database>, name: string, classification: ListClassification): Promise<void> {
  if (!(LIST_CLASSIFICATIONS as readonly string[]).includes(classification)) {
    throw new NonRetryableError('BAD_CLASSIFICATION', `classification "${String(classification).slice(0, 40)}": expected ${LIST_CLASSIFICATIONS.join(' or ')}`)
  }
  const updated = await db.updateTable('hash_lists').set({ classification }).where('name', '=', name).executeTakeFirst()
  if (Number(updated.numUpdatedRows) === 0) throw new NonRetryableError('NO_SUCH_LIST', `no list named "${name}"`)
}

export interface RetractOptions {
  /**
   * Hashes to retract: hex (every algorithm whose length fits, e.g. a 64-character hash in
   * sha256, pdq and blockhash), or `algorithm:hex` as `match` reads and `lists retract` prints them.
   */
  readonly hashes: readonly string[]
  /** Only in this list. Default: every list. */
  readonly list?: string
  /** Why, kept with the row for audit. */
  readonly reason?: string
}

export interface RetractResult {
  readonly retracted: readonly { readonly list: string; readonly algorithm: string; readonly hash: string; readonly knownHashId: number }[]
  /** Inputs that matched no live hash (normalised: lowercase, trimmed). */
  readonly notFound: readonly string[]
  /** Those of `notFound` that were retracted before: nothing left to do for them. */
  readonly alreadyRetracted: readonly string[]
}

/**
 * Retracts hashes: they stop matching at once (exact lookups and the confirmation of every
 * perceptual candidate read `retracted_at` in the same query; in-memory indexes drop them on their
 * next poll) and stay in the table, with time and reason, for audit.
 *
 * @example
 * await retractHashes(db, { hashes: ['d41d8cd98f00b204e9800998ecf8427e'], reason: 'false positive' })
 */
export async function retractHashes(db: Kysely<Database>, options: RetractOptions): Promise<RetractResult> {
  const inputs = [...new Set(options.hashes.map((h) => h.trim().toLowerCase()))].map(parseRetractInput)
  if (inputs.length === 0) return { retracted: [], notFound: [], alreadyRetracted: [] }
  const listId = options.list === undefined ? undefined
    : (await db.selectFrom('hash_lists').where('name', '=', options.list).select('id').executeTakeFirst())?.id
  if (options.list !== undefined && listId === undefined) throw new NonRetryableError('NO_SUCH_LIST', `no list named "${options.list}"`)
  const wanted = sql`unnest(${inputs.map((i) => i.input)}::text[], ${inputs.map((i) => i.algorithm)}::text[], ${inputs.map((i) => i.hex)}::text[]) as h(input, algorithm, hex)`
  const inList = listId === undefined ? sql`` : sql`and k.list_id = ${listId}`
  const rows = await db.transaction().execute(async (trx) => {
    const updated = await sql<{ id: number; list_id: number; version_id: number; algorithm: string; input: string; hex: string; name: string }>`
      update known_hashes k set retracted_at = now(), retract_reason = ${options.reason ?? null}::text
      from ${wanted}, hash_lists l
      where k.algorithm = any(${[...ALGORITHMS]}::text[]) and (h.algorithm is null or k.algorithm = h.algorithm)
        and k.hash = decode(h.hex, 'hex') and k.retracted_at is null
        and l.id = k.list_id ${inList}
      returning k.id, k.list_id, k.version_id, k.algorithm, h.input, h.hex, l.name`.execute(trx)
    const byVersion = new Map<number, { list_id: number; version_id: number; known_hash_ids: number[] }>()
    for (const r of updated.rows) {
      const entry = byVersion.get(r.version_id) ?? { list_id: r.list_id, version_id: r.version_id, known_hash_ids: [] }
      entry.known_hash_ids.push(r.id)
      byVersion.set(r.version_id, entry)
    }
    const lists = [...new Set(updated.rows.map((r) => r.list_id))]
    if (lists.length > 0) await trx.updateTable('hash_lists').set({ changed_at: sql<Date>`clock_timestamp()` }).where('id', 'in', lists).execute()
    await recordChanges(trx, [...byVersion.values()].map((v) => ({ ...v, kind: 'retract' as const })))
    return updated.rows
  })
  const found = new Set(rows.map((r) => r.input))
  const notFound = inputs.filter((i) => !found.has(i.input))
  const before = notFound.length === 0 ? [] : (await sql<{ input: string }>`
    select distinct h.input from unnest(${notFound.map((i) => i.input)}::text[], ${notFound.map((i) => i.algorithm)}::text[], ${notFound.map((i) => i.hex)}::text[]) as h(input, algorithm, hex)
    join known_hashes k on k.algorithm = any(${[...ALGORITHMS]}::text[]) and (h.algorithm is null or k.algorithm = h.algorithm) and k.hash = decode(h.hex, 'hex')
    where k.retracted_at is not null ${inList}`.execute(db)).rows.map((r) => r.input)
  const already = new Set(before)
  return {
    retracted: rows.map((r) => ({ list: r.name, algorithm: r.algorithm, hash: r.hex, knownHashId: r.id })),
    notFound: notFound.map((i) => i.input),
    alreadyRetracted: notFound.map((i) => i.input).filter((i) => already.has(i)),
  }
}

/** `hex` or `algorithm:hex`, checked; a bad one stops the whole retraction before anything is changed. */
function parseRetractInput(input: string): { input: string; algorithm: Algorithm | null; hex: string } {
  const colon = input.indexOf(':')
  if (colon >= 0) {
    const algorithm = input.slice(0, colon)
    if (!isAlgorithm(algorithm)) throw new NonRetryableError('BAD_HASH', `unknown algorithm "${algorithm.slice(0, 40)}" in "${input.slice(0, 80)}" (expected ${ALGORITHMS.join(', ')})`)
    const norm = normaliseHash(algorithm, input.slice(colon + 1))
    if ('error' in norm) throw new NonRetryableError('BAD_HASH', `"${input.slice(0, 80)}": ${norm.error}`)
    return { input, algorithm, hex: norm.hex }
  }
  if (!/^[0-9a-f]+$/.test(input) || !ALGORITHMS.some((a) => HASH_BYTES[a] * 2 === input.length)) {
    throw new NonRetryableError('BAD_HASH', `not a hash of any known algorithm: "${input.slice(0, 80)}"`)
  }
  return { input, algorithm: null, hex: input }
}
