import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import readline from 'node:readline'
import type { Writable } from 'node:stream'
import type { Command } from 'commander'
import { ConfigError, type CopyFrom, type Database, type Kysely, LIST_CLASSIFICATIONS, type ListClassification, NonRetryableError, RetryableError, loadConfig, sql } from '@arachnid/core'
import {
  EXPORT_FORMATS, type ExportCounts, type ExportFormat, type ListChangesPage, type SharedEntry,
  exportListLines, exportRetractionLines, importList, jsonlLine, retractHashes, setListClassification, vpdqBlock,
} from '@arachnid/matcher'
import { withApp } from '../app.js'
import { choice, integer, text } from '../parse-options.js'

/** Entries asked for per page when pulling. */
const PULL_PAGE = 5000
/** Time for one page of a peer's changes. */
const PULL_TIMEOUT_MS = 120_000

/** Writes lines to `out` in chunks of about 64 KiB, waiting whenever it is full; `end` closes it after. */
async function writeLines(lines: AsyncIterable<string>, out: Writable, end: boolean): Promise<void> {
  let buffer = ''
  const flush = async () => {
    if (buffer === '') return
    const ok = out.write(buffer)
    buffer = ''
    if (!ok) await once(out, 'drain')
  }
  for await (const line of lines) {
    buffer += line
    if (buffer.length >= 65_536) await flush()
  }
  await flush()
  if (end) {
    out.end()
    await once(out, 'finish')
  }
}

/** Lines to a file (removed again if writing fails) or, for undefined or `-`, to stdout. */
async function writeTo(file: string | undefined, lines: AsyncIterable<string>): Promise<void> {
  if (file === undefined || file === '-') return writeLines(lines, process.stdout, false)
  const out = createWriteStream(file)
  const failed = once(out, 'error').then(([error]) => { throw error })
  try {
    await Promise.race([writeLines(lines, out, true), failed])
  } catch (error) {
    out.destroy()
    await rm(file, { force: true })
    throw error
  }
  failed.catch(() => {})
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}

/** The password from stdin, or asked for on a terminal without echo. */
function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) return readStdin()
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true })
    rl.question('password: ', (answer) => {
      rl.close()
      process.stderr.write('\n')
      resolve(answer)
    })
    ;(rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {}
  })
}

/** `http(s)://host[:port][/base]`, or a list's own URL `.../api/v1/lists/NAME[/changes]`: the service's base and the list named in it. */
export function parsePeerUrl(url: string): { base: string; remote?: string } {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError(`URL ${JSON.stringify(url.slice(0, 200))}: expected http(s)://host[:port]/ of the peer's matching service (arachnid api)`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`URL ${JSON.stringify(url.slice(0, 200))}: expected http:// or https://`)
  if (parsed.username || parsed.password) throw new ConfigError('URL: give the user with --user and the password on stdin, not in the URL')
  const path = parsed.pathname.replace(/\/+$/, '')
  const m = /^(.*)\/api\/v1\/lists\/([^/]+)(?:\/changes)?$/.exec(path)
  parsed.search = ''
  parsed.hash = ''
  if (m) {
    parsed.pathname = m[1] || '/'
    return { base: parsed.toString().replace(/\/+$/, ''), remote: decodeURIComponent(m[2]!) }
  }
  parsed.pathname = path || '/'
  return { base: parsed.toString().replace(/\/+$/, '') }
}

interface Subscription {
  readonly local_name: string
  readonly url: string
  readonly remote_name: string
  readonly user_name: string
  readonly password: string
  readonly cursor: string
}

export interface PullResult {
  readonly list: string
  readonly url: string
  readonly remote: string
  /** The cursor before and after. */
  readonly from: string
  readonly cursor: string
  readonly classification: string | null
  readonly pages: number
  /** Versions replaced (the peer activated a new one), and the entries they brought. */
  readonly replaced: number
  readonly replacedEntries: number
  /** Entries appended (new to the local list) and retracted. */
  readonly added: number
  readonly retracted: number
}

/** One page of the peer's changes; an HTTP refusal is a NonRetryableError with the peer's words. */
async function fetchChanges(sub: Subscription, cursor: string, limit: number): Promise<ListChangesPage> {
  const url = `${sub.url}/api/v1/lists/${encodeURIComponent(sub.remote_name)}/changes?cursor=${encodeURIComponent(cursor)}&limit=${limit}`
  let response: Response
  try {
    response = await fetch(url, {
      headers: { authorization: `Basic ${Buffer.from(`${sub.user_name}:${sub.password}`).toString('base64')}`, accept: 'application/json' },
      signal: AbortSignal.timeout(PULL_TIMEOUT_MS),
    })
  } catch (error) {
    throw new RetryableError('PEER_UNREACHABLE', `${sub.url}: ${(error as Error).message}`, { cause: error })
  }
  if (response.status !== 200) {
    const body = await response.text().catch(() => '')
    let detail = body.slice(0, 300)
    try { detail = String((JSON.parse(body) as { detail?: unknown }).detail ?? detail) } catch { /* not JSON */ }
    const message = `${sub.url} answered ${response.status} for list ${sub.remote_name}: ${detail}`
    if (response.status === 429 || response.status >= 500) throw new RetryableError('PEER_BUSY', message)
    throw new NonRetryableError('PEER_REFUSED', message)
  }
  const page = await response.json() as ListChangesPage
  if (typeof page?.cursor !== 'string' || !Array.isArray(page.changes)) throw new NonRetryableError('PEER_ANSWER', `${sub.url}: not a list-changes answer`)
  return page
}

/** The entries as import lines: the non-video ones as jsonl, the videos as vPDQ blocks. */
function split(entries: readonly SharedEntry[]): { jsonl: string[]; vpdq: string[] } {
  const out = { jsonl: [] as string[], vpdq: [] as string[] }
  for (const e of entries) {
    if (e.frames !== undefined) out.vpdq.push(...vpdqBlock(e).trimEnd().split('\n'))
    else out.jsonl.push(jsonlLine(e).trimEnd())
  }
  return out
}

/** The peer's list changed under a replace being read (a newer version was activated): read again from the saved cursor. */
class ChangedDuringPull extends RetryableError {
  constructor(list: string) {
    super('LIST_CHANGED', `the peer activated a new version of ${list} during the pull`)
  }
}

/**
 * Pulls a subscription: applies the peer's changes after the saved cursor to the local list
 * (a replace as a new version, streamed page by page into the import; additions appended;
 * retractions retracted, with the reason naming the peer), keeps the peer's classification, and
 * saves the cursor after each page applied. A page applied twice (after a crash) changes nothing:
 * appends skip what is there, retractions of what is retracted are no-ops.
 */
export async function pullSubscription(db: Kysely<Database>, sub: Subscription, copyFrom?: CopyFrom, pageSize = PULL_PAGE): Promise<PullResult> {
  const fetchPage = (s: Subscription, c: string) => fetchChanges(s, c, pageSize)
  let cursor = sub.cursor
  let classification: ListClassification | null = null
  let pages = 0
  let replaced = 0
  let replacedEntries = 0
  let added = 0
  let retracted = 0
  const reason = `retracted by ${sub.url} (${sub.remote_name})`
  const localExists = async () => (await db.selectFrom('hash_lists').where('name', '=', sub.local_name).select('id').executeTakeFirst()) !== undefined
  const append = async (entries: readonly SharedEntry[]) => {
    const { jsonl, vpdq } = split(entries)
    for (const [format, lines] of [['jsonl', jsonl], ['vpdq', vpdq]] as const) {
      if (lines.length === 0) continue
      const r = await importList(db, { name: sub.local_name, lines, format, mode: 'append', strict: true, classification: classification ?? undefined, source: `${sub.url} ${sub.remote_name}`, copyFrom })
      if (!r.applied) throw new NonRetryableError('PEER_ANSWER', `entries from ${sub.url} were refused: ${r.rejected.slice(0, 3).map((x) => x.reason).join('; ')}`)
      added += r.imported
    }
  }
  for (let attempt = 1; ; attempt++) {
    try {
      let page = await fetchPage(sub, cursor)
      pages++
      for (;;) {
        classification = LIST_CLASSIFICATIONS.includes(page.classification) ? page.classification : 'csam'
        for (let i = 0; i < page.changes.length; i++) {
          const change = page.changes[i]!
          if (change.kind === 'replace') {
            if (!change.start) throw new ChangedDuringPull(sub.remote_name)
            // The whole new version streams into one import (activated only once complete); the
            // pages after the first are fetched as the import reads.
            const state = { page, index: i, videos: [] as SharedEntry[], n: 0 }
            const lines = async function* () {
              let part = change
              for (;;) {
                for (const e of part.entries) {
                  state.n++
                  if (e.frames !== undefined) state.videos.push(e)
                  else yield jsonlLine(e).trimEnd()
                }
                if (part.end) return
                const next = await fetchPage(sub, state.page.cursor)
                pages++
                const first = next.changes[0]
                if (first === undefined || first.id !== part.id || first.start) throw new ChangedDuringPull(sub.remote_name)
                state.page = next
                state.index = 0
                part = first
              }
            }
            const r = await importList(db, { name: sub.local_name, lines: lines(), format: 'jsonl', mode: 'replace', strict: true, classification: classification ?? undefined, source: `${sub.url} ${sub.remote_name}`, copyFrom })
            if (!r.applied) throw new NonRetryableError('PEER_ANSWER', `entries from ${sub.url} were refused: ${r.rejected.slice(0, 3).map((x) => x.reason).join('; ')}`)
            // Video entries (another import format) join the new version at once.
            const videos = split(state.videos).vpdq
            if (videos.length > 0) await importList(db, { name: sub.local_name, lines: videos, format: 'vpdq', mode: 'append', strict: true, source: `${sub.url} ${sub.remote_name}`, copyFrom })
            replaced++
            replacedEntries += state.n
            page = state.page
            i = state.index
          } else if (change.kind === 'add') {
            await append(change.entries)
          } else if (change.entries.length > 0 && await localExists()) {
            const r = await retractHashes(db, { hashes: change.entries.map((e) => `${e.algorithm}:${e.hash}`), list: sub.local_name, reason })
            retracted += new Set(r.retracted.map((x) => `${x.algorithm}:${x.hash}`)).size
          }
        }
        cursor = page.cursor
        await db.updateTable('list_subscriptions').set({ cursor, classification }).where('local_name', '=', sub.local_name).execute()
        if (!page.more) break
        page = await fetchPage(sub, cursor)
        pages++
      }
      break
    } catch (error) {
      if (!(error instanceof ChangedDuringPull) || attempt >= 3) throw error
    }
  }
  if (classification !== null && await localExists()) await setListClassification(db, sub.local_name, classification)
  return { list: sub.local_name, url: sub.url, remote: sub.remote_name, from: sub.cursor, cursor, classification, pages, replaced, replacedEntries, added, retracted }
}

function pullSummary(r: PullResult): string {
  return `${r.list} <- ${r.url} ${r.remote}: ${r.replaced > 0 ? `replaced by the peer's version (${r.replacedEntries} entries), ` : ''}${r.added} added, ${r.retracted} retracted, classification ${r.classification ?? '-'}, cursor ${r.from} -> ${r.cursor}`
}

/** Pulls one subscription and records the outcome (time, error) with it. */
async function pullAndRecord(db: Kysely<Database>, sub: Subscription, copyFrom?: CopyFrom, pageSize?: number): Promise<PullResult> {
  try {
    const result = await pullSubscription(db, sub, copyFrom, pageSize)
    await db.updateTable('list_subscriptions').set({ last_pull_at: sql<Date>`now()`, last_error: null, pulls: sql<number>`pulls + 1` })
      .where('local_name', '=', sub.local_name).execute()
    return result
  } catch (error) {
    await db.updateTable('list_subscriptions').set({ last_pull_at: sql<Date>`now()`, last_error: String((error as Error).message).slice(0, 500), pulls: sql<number>`pulls + 1` })
      .where('local_name', '=', sub.local_name).execute().catch(() => {})
    throw error
  }
}

/**
 * `lists export`, `lists subscribe`, `lists subscriptions` and `lists pull`: sharing lists with
 * other deployments, by file or through the peer's matching service.
 */
export function registerListSharing(lists: Command): void {
  lists.command('export')
    .description('write the active version\'s live entries in a format lists import reads back (to stdout or --output); retracted entries with --retractions, as algorithm:hex lines lists retract takes')
    .argument('<name>', 'list name')
    .option('--format <format>', `${EXPORT_FORMATS.join(' | ')}: csv holds every entry but videos; pdq-csv its PDQ entries with a quality; jsonl every entry but videos; vpdq its videos, one "# video: NAME" block each`, choice('--format', EXPORT_FORMATS), 'csv')
    .option('--output <file>', 'write to this file instead of stdout (- for stdout)', text('--output'))
    .option('--retractions <file>', 'also write the retracted entries, one algorithm:hex per line', text('--retractions'))
    .action(async (name: string, options: { format: ExportFormat; output?: string; retractions?: string }) => {
      await withApp(loadConfig(), async (app) => {
        const counts: ExportCounts = { written: 0, left: {} }
        await writeTo(options.output, exportListLines(app.database.db, name, options.format, counts))
        let retractions = 0
        if (options.retractions !== undefined) {
          const counted = async function* () { for await (const line of exportRetractionLines(app.database.db, name)) { retractions++; yield line } }
          await writeTo(options.retractions, counted())
        }
        const left = Object.entries(counts.left).map(([why, n]) => `${n} ${why}`).join(', ')
        process.stderr.write(`exported ${counts.written} entries of ${name} as ${options.format}${options.output && options.output !== '-' ? ` to ${options.output}` : ''}`
          + `${options.retractions !== undefined ? `, ${retractions} retracted to ${options.retractions}` : ''}${left ? `; left out: ${left}` : ''}\n`)
      })
    })

  lists.command('subscribe')
    .description('follow another deployment\'s list through its matching service (an API user with the export scope there; the password on stdin): stored, pulled now, and again with lists pull')
    .argument('<url>', 'the peer\'s matching service (http://host:port/), or the list\'s own URL there (.../api/v1/lists/NAME)')
    .requiredOption('--name <name>', 'the local list the entries go into (made by the first pull; it must not exist yet)', text('--name'))
    .requiredOption('--user <user>', 'the API user on the peer', text('--user'))
    .option('--remote <name>', 'the list\'s name on the peer (default: the name in the URL, else --name)', text('--remote'))
    .option('--page <n>', `entries asked for per request (default ${PULL_PAGE}; the peer allows up to its ARACHNID_API_MAX_BATCH)`, integer('--page', 1, 1_000_000))
    .option('--json', 'print the first pull\'s result as JSON')
    .action(async (url: string, options: { name: string; user: string; remote?: string; page?: number; json?: boolean }) => {
      const peer = parsePeerUrl(url)
      const remote = options.remote ?? peer.remote ?? options.name
      const password = await readPassword()
      if (password === '') throw new ConfigError('the password: expected it on stdin (or typed at the prompt), got nothing')
      await withApp(loadConfig(), async (app) => {
        const db = app.database.db
        if (await db.selectFrom('hash_lists').where('name', '=', options.name).select('id').executeTakeFirst()) {
          throw new NonRetryableError('LIST_EXISTS', `a list named "${options.name}" exists already: subscribe into a new one (its content would be replaced by the peer's)`)
        }
        const inserted = await db.insertInto('list_subscriptions')
          .values({ local_name: options.name, url: peer.base, remote_name: remote, user_name: options.user, password })
          .onConflict((oc) => oc.column('local_name').doNothing()).returning('local_name').executeTakeFirst()
        if (inserted === undefined) throw new NonRetryableError('SUBSCRIPTION_EXISTS', `"${options.name}" follows a peer already (lists subscriptions)`)
        const sub = { local_name: options.name, url: peer.base, remote_name: remote, user_name: options.user, password, cursor: '0' }
        let result: PullResult
        try {
          result = await pullAndRecord(db, sub, app.database.copyFrom, options.page)
        } catch (error) {
          // Refused or unreachable before anything was applied: nothing is kept.
          const now = await db.selectFrom('list_subscriptions').where('local_name', '=', options.name).select('cursor').executeTakeFirst()
          if (now?.cursor === '0') await db.deleteFrom('list_subscriptions').where('local_name', '=', options.name).execute()
          throw error
        }
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
        else process.stdout.write(`subscribed ${options.name} to ${peer.base} ${remote} as ${options.user}\n${pullSummary(result)}\n`)
      })
    })

  lists.command('subscriptions')
    .description('the lists followed from other deployments: peer, list there, user, cursor, classification, last pull and its error')
    .option('--json', 'one JSON object per line')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const rows = await app.database.db.selectFrom('list_subscriptions')
          .select(['local_name', 'url', 'remote_name', 'user_name', 'cursor', 'classification', 'pulls', 'last_pull_at', 'last_error', 'created_at'])
          .orderBy('local_name').execute()
        const out = rows.map((r) => ({
          list: r.local_name, url: r.url, remote: r.remote_name, user: r.user_name, cursor: r.cursor, classification: r.classification,
          pulls: r.pulls, lastPullAt: r.last_pull_at, lastError: r.last_error, createdAt: r.created_at,
        }))
        if (options.json) for (const s of out) process.stdout.write(`${JSON.stringify(s)}\n`)
        else if (out.length === 0) process.stdout.write('no subscriptions\n')
        else for (const s of out) {
          process.stdout.write(`${s.list} <- ${s.url} ${s.remote} as ${s.user}: cursor ${s.cursor}, ${s.classification ?? '-'}, ${s.pulls} pulls`
            + `${s.lastPullAt ? `, last ${s.lastPullAt.toISOString()}` : ''}${s.lastError ? `, failed: ${s.lastError}` : ''}\n`)
        }
      })
    })

  lists.command('pull')
    .description('pull the subscribed lists (or one) from their peers now: entries added and retracted there since the last pull')
    .argument('[name]', 'the local list of one subscription (default: every subscription)')
    .option('--page <n>', `entries asked for per request (default ${PULL_PAGE}; the peer allows up to its ARACHNID_API_MAX_BATCH)`, integer('--page', 1, 1_000_000))
    .option('--json', 'one JSON object per subscription')
    .action(async (name: string | undefined, options: { page?: number; json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const db = app.database.db
        let q = db.selectFrom('list_subscriptions').select(['local_name', 'url', 'remote_name', 'user_name', 'password', 'cursor']).orderBy('local_name')
        if (name !== undefined) q = q.where('local_name', '=', name)
        const subs = await q.execute()
        if (name !== undefined && subs.length === 0) throw new NonRetryableError('NO_SUCH_SUBSCRIPTION', `no subscription into "${name}" (lists subscriptions)`)
        if (subs.length === 0 && !options.json) process.stdout.write('no subscriptions\n')
        for (const sub of subs) {
          try {
            const result = await pullAndRecord(db, sub, app.database.copyFrom, options.page)
            process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${pullSummary(result)}\n`)
          } catch (error) {
            // One peer failing does not stop the others.
            process.exitCode = 1
            const message = (error as Error).message
            process.stdout.write(options.json ? `${JSON.stringify({ list: sub.local_name, url: sub.url, remote: sub.remote_name, error: message })}\n` : `${sub.local_name} <- ${sub.url} ${sub.remote_name}: failed: ${message}\n`)
          }
        }
      })
    })
}
