import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import os from 'node:os'
import readline from 'node:readline'
import type { Writable } from 'node:stream'
import type { Command } from 'commander'
import {
  ConfigError, type CopyFrom, type Database, type Kysely, LIST_CLASSIFICATIONS, type ListClassification, NonRetryableError, RetryableError, describeError, loadConfig, sql,
} from '@arachnid/core'
import {
  EXPORT_FORMATS, type ExportCounts, type ExportFormat, type ImportListResult, type ListChangesPage, type RetroHuntProgress, type SharedEntry,
  exportListLines, exportRetractionLines, importList, jsonlLine, retractHashes, setListClassification, vpdqBlock,
} from '@arachnid/matcher'
import { type App, withApp } from '../app.js'
import { addressRange, choice, integer, text } from '../parse-options.js'
import { type RetroHuntRun, runRetroHunt } from '../retro-hunt.js'

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

/** A subscription as a pull reads it. */
interface Subscription {
  readonly local_name: string
  readonly url: string
  readonly remote_name: string
  readonly user_name: string
  readonly password: string
  readonly cursor: string
  /** Entries pulled before and not hunted yet (a hunt that failed or was stopped). */
  readonly hunt_version_id?: number | null
  readonly hunt_first_id?: number | null
  readonly hunt_last_id?: number | null
}

/** Entries a list gained that no retro-hunt has looked for yet: a version and an id range in it. */
export interface PendingHunt {
  readonly versionId: number
  readonly firstId: number
  readonly lastId: number
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

export interface PullSubscriptionOptions {
  readonly copyFrom?: CopyFrom
  /** Entries asked for per request. Default 5000. */
  readonly pageSize?: number
  /** Stops between pages (what is applied stays applied, the cursor saved): a RetryableError INTERRUPTED. */
  readonly signal?: AbortSignal
}

/** One page of the peer's changes; an HTTP refusal is a NonRetryableError with the peer's words. */
async function fetchChanges(sub: Subscription, cursor: string, limit: number): Promise<ListChangesPage> {
  const url = `${sub.url}/api/v1/lists/${encodeURIComponent(sub.remote_name)}/changes?cursor=${encodeURIComponent(cursor)}&limit=${limit}`
  let response: Response | undefined
  // A connection refused or reset (a peer restarting, a loaded machine) is tried again twice, after
  // 0.5 and 1.5 s, before the pull fails with it; a timeout (the peer took PULL_TIMEOUT_MS) and an
  // answer of any status are not retried here.
  for (let attempt = 0; response === undefined; attempt++) {
    try {
      response = await fetch(url, {
        headers: { authorization: `Basic ${Buffer.from(`${sub.user_name}:${sub.password}`).toString('base64')}`, accept: 'application/json' },
        signal: AbortSignal.timeout(PULL_TIMEOUT_MS),
      })
    } catch (error) {
      if (attempt >= 2 || (error as Error).name === 'TimeoutError') throw new RetryableError('PEER_UNREACHABLE', `${sub.url}: ${(error as Error).message}`, { cause: error })
      await new Promise((resolve) => setTimeout(resolve, 500 * (1 + 2 * attempt)))
    }
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

function pendingOf(sub: Subscription): PendingHunt | null {
  return sub.hunt_version_id != null && sub.hunt_first_id != null && sub.hunt_last_id != null
    ? { versionId: sub.hunt_version_id, firstId: sub.hunt_first_id, lastId: sub.hunt_last_id }
    : null
}

const pendingColumns = (p: PendingHunt | null) => ({ hunt_version_id: p?.versionId ?? null, hunt_first_id: p?.firstId ?? null, hunt_last_id: p?.lastId ?? null })

/**
 * Pulls a subscription: applies the peer's changes after the saved cursor to the local list
 * (a replace as a new version, streamed page by page into the import; additions appended;
 * retractions retracted, with the reason naming the peer), keeps the peer's classification, and
 * saves the cursor after each page applied. A page applied twice (after a crash) changes nothing:
 * appends skip what is there, retractions of what is retracted are no-ops. What the local list
 * gained is saved with the subscription as it is applied (`pending`, with what earlier pulls left
 * unhunted), for the retro-hunt that follows.
 */
export async function pullSubscription(db: Kysely<Database>, sub: Subscription, options: PullSubscriptionOptions = {}): Promise<PullResult & { readonly pending: PendingHunt | null }> {
  const { copyFrom, signal } = options
  const pageSize = options.pageSize ?? PULL_PAGE
  const fetchPage = (s: Subscription, c: string) => {
    if (signal?.aborted) throw new RetryableError('INTERRUPTED', `the pull of ${s.local_name} was interrupted; it goes on from the saved cursor next time`)
    return fetchChanges(s, c, pageSize)
  }
  let cursor = sub.cursor
  let classification: ListClassification | null = null
  let pages = 0
  let replaced = 0
  let replacedEntries = 0
  let added = 0
  let retracted = 0
  let pending = pendingOf(sub)
  const reason = `retracted by ${sub.url} (${sub.remote_name})`
  const localExists = async () => (await db.selectFrom('hash_lists').where('name', '=', sub.local_name).select('id').executeTakeFirst()) !== undefined
  // Saved at once, not with the next cursor: a page applied again after a crash adds nothing, so
  // what this one added would otherwise never be hunted.
  const gained = async (r: ImportListResult) => {
    if (r.versionId === undefined || r.added === undefined) return
    pending = pending?.versionId === r.versionId
      ? { versionId: r.versionId, firstId: Math.min(pending.firstId, r.added.first), lastId: Math.max(pending.lastId, r.added.last) }
      : { versionId: r.versionId, firstId: r.added.first, lastId: r.added.last }
    await db.updateTable('list_subscriptions').set(pendingColumns(pending)).where('local_name', '=', sub.local_name).execute()
  }
  const append = async (entries: readonly SharedEntry[]) => {
    const { jsonl, vpdq } = split(entries)
    for (const [format, lines] of [['jsonl', jsonl], ['vpdq', vpdq]] as const) {
      if (lines.length === 0) continue
      const r = await importList(db, { name: sub.local_name, lines, format, mode: 'append', strict: true, classification: classification ?? undefined, source: `${sub.url} ${sub.remote_name}`, copyFrom, signal })
      if (!r.applied) throw new NonRetryableError('PEER_ANSWER', `entries from ${sub.url} were refused: ${r.rejected.slice(0, 3).map((x) => x.reason).join('; ')}`)
      added += r.imported
      await gained(r)
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
            const r = await importList(db, { name: sub.local_name, lines: lines(), format: 'jsonl', mode: 'replace', strict: true, classification: classification ?? undefined, source: `${sub.url} ${sub.remote_name}`, copyFrom, signal })
            if (!r.applied) throw new NonRetryableError('PEER_ANSWER', `entries from ${sub.url} were refused: ${r.rejected.slice(0, 3).map((x) => x.reason).join('; ')}`)
            await gained(r)
            // Video entries (another import format) join the new version at once.
            const videos = split(state.videos).vpdq
            if (videos.length > 0) await gained(await importList(db, { name: sub.local_name, lines: videos, format: 'vpdq', mode: 'append', strict: true, source: `${sub.url} ${sub.remote_name}`, copyFrom }))
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
        await db.updateTable('list_subscriptions').set({ cursor, classification, ...pendingColumns(pending) }).where('local_name', '=', sub.local_name).execute()
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
  return { list: sub.local_name, url: sub.url, remote: sub.remote_name, from: sub.cursor, cursor, classification, pages, replaced, replacedEntries, added, retracted, pending }
}

function pullSummary(r: PullResult): string {
  return `${r.list} <- ${r.url} ${r.remote}: ${r.replaced > 0 ? `replaced by the peer's version (${r.replacedEntries} entries), ` : ''}${r.added} added, ${r.retracted} retracted, classification ${r.classification ?? '-'}, cursor ${r.from} -> ${r.cursor}`
}

/**
 * A pull holds its subscription for this long, renewed every quarter of it while it runs: two
 * processes (scheduled pulls in several workers, `lists pull` by hand) never pull the same
 * subscription at once, and one that dies leaves it to the next pull after this.
 */
export const PULL_LEASE_SECONDS = 120

const SUBSCRIPTION_COLUMNS = ['local_name', 'url', 'remote_name', 'user_name', 'password', 'cursor', 'retro_hunt', 'hunt_version_id', 'hunt_first_id', 'hunt_last_id'] as const
const leaseUntil = () => sql<Date>`now() + ${sql.raw(`interval '${PULL_LEASE_SECONDS} seconds'`)}`

/** Who a pull is, as `lists subscriptions` shows it while the pull holds the subscription. */
function pullOwner(): string {
  return `${os.hostname()} pid ${process.pid} ${randomBytes(3).toString('hex')}`
}

/**
 * Takes a subscription for one pull, unless another pull holds it. One conditional update: on
 * Postgres a second taker waits for the first's row lock and then finds the lease taken, so one wins.
 */
async function claimSubscription(db: Kysely<Database>, name: string, owner: string) {
  return db.updateTable('list_subscriptions').set({ pull_owner: owner, pull_lease_until: leaseUntil() })
    .where('local_name', '=', name)
    .where((eb) => eb.or([eb('pull_lease_until', 'is', null), eb('pull_lease_until', '<=', sql<Date>`now()`)]))
    .returning(SUBSCRIPTION_COLUMNS).executeTakeFirst()
}

async function releaseSubscription(db: Kysely<Database>, name: string, owner: string): Promise<void> {
  await db.updateTable('list_subscriptions').set({ pull_owner: null, pull_lease_until: null })
    .where('local_name', '=', name).where('pull_owner', '=', owner).execute()
}

export interface PullOptions {
  /** Entries asked for per request. Default 5000. */
  readonly pageSize?: number
  /**
   * Whether what the pull added is looked for among the media already seen (a retro-hunt), as
   * `lists import` does; a subscription made with --no-retro-hunt is never hunted. Default true.
   */
  readonly retroHunt?: boolean
  /** Addresses or CIDRs the retro-hunt's live rechecks may contact although private. */
  readonly allow?: readonly string[]
  /** Stops the pull between pages and the hunt between steps; the subscription is released. */
  readonly signal?: AbortSignal
  readonly onHuntProgress?: (progress: RetroHuntProgress) => void
}

/** What one subscription's pull came to. */
export type PullOutcome = { readonly list: string; readonly url: string; readonly remote: string } & (
  | {
    readonly status: 'pulled'
    readonly result: PullResult
    /** The retro-hunt of the entries it added (none: nothing added, or hunts off). */
    readonly retroHunt?: RetroHuntRun
    /** The hunt failed or was stopped: the entries stay pending and the next pull hunts them. */
    readonly huntError?: string
  }
  /** Another process holds the subscription (its pull runs now): skipped. */
  | { readonly status: 'busy'; readonly owner: string | null; readonly until: Date | null }
  | { readonly status: 'failed'; readonly error: string; readonly cause: unknown }
)

/**
 * The retro-hunt of what pulls added (a version the peer activated: all of it; appends: the ids
 * they added), unless hunts are off; cleared once done, kept for the next pull when it fails.
 */
async function huntPulled(app: App, sub: { local_name: string; retro_hunt: boolean }, pending: PendingHunt | null, options: PullOptions): Promise<{ run?: RetroHuntRun; error?: string }> {
  const db = app.database.db
  if (pending === null) return {}
  const clear = () => db.updateTable('list_subscriptions').set(pendingColumns(null)).where('local_name', '=', sub.local_name)
    .where('hunt_version_id', '=', pending.versionId).where('hunt_first_id', '=', pending.firstId).where('hunt_last_id', '=', pending.lastId).execute()
  const list = await db.selectFrom('hash_lists').where('name', '=', sub.local_name).select(['id', 'active_version_id']).executeTakeFirst()
  // Off for this pull or this subscription; or the version is no longer active (a local import
  // replaced it and hunted its own entries): nothing to do.
  if (!sub.retro_hunt || options.retroHunt === false || list === undefined || list.active_version_id !== pending.versionId) {
    await clear()
    return {}
  }
  try {
    const run = await runRetroHunt(app, { listId: list.id, versionId: pending.versionId, firstId: pending.firstId, lastId: pending.lastId, trigger: 'pull' },
      { allow: options.allow, signal: options.signal, onProgress: options.onHuntProgress })
    await clear()
    return { run }
  } catch (error) {
    const message = `pulled, but the retro-hunt of the pulled entries ${options.signal?.aborted ? 'was interrupted' : `failed: ${describeError(error).message}`}; the next pull hunts them`
    await db.updateTable('list_subscriptions').set({ last_error: message.slice(0, 500) }).where('local_name', '=', sub.local_name).execute().catch(() => {})
    return { error: message }
  }
}

type ClaimedSubscription = NonNullable<Awaited<ReturnType<typeof claimSubscription>>>

/**
 * Pulls a subscription this process holds, records the outcome with it (time, error; the count of
 * pulls), then hunts what it added. A failed pull throws (after recording it); a failed hunt does
 * not (the pull is applied): it is the outcome's `huntError` and the subscription's last error.
 */
async function pullHeld(app: App, sub: ClaimedSubscription, owner: string, options: PullOptions): Promise<PullOutcome> {
  const db = app.database.db
  // Renewed while the pull and its hunt run; a lease lost (this process stalled past it) is logged.
  const renew = setInterval(() => {
    db.updateTable('list_subscriptions').set({ pull_lease_until: leaseUntil() }).where('local_name', '=', sub.local_name).where('pull_owner', '=', owner).executeTakeFirst()
      .then((r) => { if (Number(r.numUpdatedRows) === 0) app.logger.warn({ list: sub.local_name }, 'a pull lost its hold on the subscription (another process may pull it too)') })
      .catch(() => {})
  }, (PULL_LEASE_SECONDS * 1000) / 4)
  renew.unref()
  try {
    let pulled: Awaited<ReturnType<typeof pullSubscription>>
    try {
      pulled = await pullSubscription(db, sub, { copyFrom: app.database.copyFrom, pageSize: options.pageSize, signal: options.signal })
    } catch (error) {
      // Stopped (Ctrl-C, a worker shutting down) is not the peer's fault: nothing to record.
      if (!options.signal?.aborted) {
        await db.updateTable('list_subscriptions').set({ last_pull_at: sql<Date>`now()`, last_error: describeError(error).message.slice(0, 500), pulls: sql<number>`pulls + 1` })
          .where('local_name', '=', sub.local_name).execute().catch(() => {})
      }
      throw error
    }
    await db.updateTable('list_subscriptions').set({ last_pull_at: sql<Date>`now()`, last_error: null, pulls: sql<number>`pulls + 1` })
      .where('local_name', '=', sub.local_name).execute()
    const { pending, ...result } = pulled
    const hunt = await huntPulled(app, sub, pending, options)
    return {
      list: sub.local_name, url: sub.url, remote: sub.remote_name, status: 'pulled', result,
      ...(hunt.run ? { retroHunt: hunt.run } : {}), ...(hunt.error ? { huntError: hunt.error } : {}),
    }
  } finally {
    clearInterval(renew)
  }
}

/**
 * Pulls one subscription unless another process is pulling it (then `busy`), and hunts what it
 * added. Never throws for the peer's faults: a failed pull is recorded on the subscription (the
 * next pull tries again from the saved cursor) and is the outcome `failed`.
 */
export async function pullOne(app: App, name: string, options: PullOptions = {}): Promise<PullOutcome> {
  const db = app.database.db
  const owner = pullOwner()
  const sub = await claimSubscription(db, name, owner)
  if (sub === undefined) {
    const held = await db.selectFrom('list_subscriptions').where('local_name', '=', name).select(['url', 'remote_name', 'pull_owner', 'pull_lease_until']).executeTakeFirst()
    // Gone since the names were read (a `lists subscribe` whose first pull failed removes its own): not a reason to stop the others.
    if (held === undefined) return { list: name, url: '-', remote: '-', status: 'failed', error: `no subscription into "${name}" any more`, cause: undefined }
    return { list: name, url: held.url, remote: held.remote_name, status: 'busy', owner: held.pull_owner, until: held.pull_lease_until }
  }
  try {
    return await pullHeld(app, sub, owner, options)
  } catch (error) {
    return { list: name, url: sub.url, remote: sub.remote_name, status: 'failed', error: describeError(error).message, cause: error }
  } finally {
    await releaseSubscription(db, name, owner).catch(() => {})
  }
}

/**
 * Pulls every subscription (or the one named), one after the other, each held by this process
 * while it is pulled and hunted: what `lists pull` and the scheduled pulls run. One failing does
 * not stop the others; a signal stops the one running and starts no other.
 */
export async function pullSubscriptions(app: App, options: PullOptions & { readonly name?: string; readonly onOutcome?: (outcome: PullOutcome) => void } = {}): Promise<PullOutcome[]> {
  let q = app.database.db.selectFrom('list_subscriptions').select('local_name').orderBy('local_name')
  if (options.name !== undefined) q = q.where('local_name', '=', options.name)
  const names = (await q.execute()).map((r) => r.local_name)
  if (options.name !== undefined && names.length === 0) throw new NonRetryableError('NO_SUCH_SUBSCRIPTION', `no subscription into "${options.name}" (lists subscriptions)`)
  const outcomes: PullOutcome[] = []
  for (const name of names) {
    if (options.signal?.aborted) break
    const outcome = await pullOne(app, name, options)
    outcomes.push(outcome)
    options.onOutcome?.(outcome)
  }
  return outcomes
}

function huntSummary(h: RetroHuntRun): string {
  return `retro-hunt: ${h.entries} new ${h.entries === 1 ? 'entry' : 'entries'} looked for among ${h.mediaScanned} media in ${h.seconds.toFixed(1)} s: `
    + `${h.matchedMedia} media matched (${h.newMatches} new ${h.newMatches === 1 ? 'match' : 'matches'}), ${h.notices} ${h.notices === 1 ? 'notice' : 'notices'}, ${h.gone} ${h.gone === 1 ? 'URL' : 'URLs'} already gone`
}

/** A pull's outcome as `lists pull` prints it: one line (and the hunt's), or one JSON object. */
function printOutcome(o: PullOutcome, json: boolean): void {
  const where = `${o.list} <- ${o.url} ${o.remote}`
  if (o.status === 'pulled') {
    if (json) process.stdout.write(`${JSON.stringify({ ...o.result, ...(o.retroHunt ? { retroHunt: o.retroHunt } : {}), ...(o.huntError ? { retroHuntError: o.huntError } : {}) })}\n`)
    else process.stdout.write(`${pullSummary(o.result)}\n${o.retroHunt ? `  ${huntSummary(o.retroHunt)}\n` : ''}${o.huntError ? `  ${o.huntError}\n` : ''}`)
  } else if (o.status === 'busy') {
    if (json) process.stdout.write(`${JSON.stringify({ list: o.list, url: o.url, remote: o.remote, busy: { owner: o.owner, until: o.until } })}\n`)
    else process.stdout.write(`${where}: skipped: being pulled by ${o.owner ?? '?'} now (held until ${o.until?.toISOString() ?? '?'})\n`)
  } else if (json) process.stdout.write(`${JSON.stringify({ list: o.list, url: o.url, remote: o.remote, error: o.error })}\n`)
  else process.stdout.write(`${where}: failed: ${o.error}\n`)
}

/** The hunt's progress on stderr: rewritten in place on a terminal, else a line every 5 s of a long hunt. */
function huntProgress(): (p: RetroHuntProgress) => void {
  const tty = process.stderr.isTTY === true
  let last = performance.now()
  return (p) => {
    const now = performance.now()
    if (!tty && (now - last < 5000 || p.scanned >= p.total)) return
    last = now
    const line = `retro-hunt: ${p.scanned}/${p.total} media searched, ${p.matchedMedia} matched`
    process.stderr.write(tty ? `\r${line}\x1b[K${p.scanned >= p.total ? '\n' : ''}` : `${line}\n`)
  }
}

/** Ctrl-C (or SIGTERM) stops a pull between pages, and its hunt between steps, and lets the subscription go. */
async function stoppable<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController()
  let firstAt = 0
  const onSignal = (signal: NodeJS.Signals) => {
    // One Ctrl-C can arrive twice (to the process group, and relayed by `pnpm arachnid`'s tsx parent).
    if (stop.signal.aborted && performance.now() - firstAt < 1000) return
    if (stop.signal.aborted) process.exit(130)
    firstAt = performance.now()
    process.stderr.write(`\narachnid: ${signal}: stopping the pull; what is applied stays, and the next pull goes on from there (${signal} again to leave at once)\n`)
    stop.abort(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    return await fn(stop.signal)
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
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
    .description('follow another deployment\'s list through its matching service (an API user with the export scope there; the password on stdin): stored, pulled now, and again by lists pull and on notify worker\'s schedule (ARACHNID_PULL_INTERVAL); what each pull adds is looked for among the media already seen (a retro-hunt) unless --no-retro-hunt')
    .argument('<url>', 'the peer\'s matching service (http://host:port/), or the list\'s own URL there (.../api/v1/lists/NAME)')
    .requiredOption('--name <name>', 'the local list the entries go into (made by the first pull; it must not exist yet)', text('--name'))
    .requiredOption('--user <user>', 'the API user on the peer', text('--user'))
    .option('--remote <name>', 'the list\'s name on the peer (default: the name in the URL, else --name)', text('--remote'))
    .option('--page <n>', `entries asked for per request (default ${PULL_PAGE}; the peer allows up to its ARACHNID_API_MAX_BATCH)`, integer('--page', 1, 1_000_000))
    .option('--no-retro-hunt', 'never look for this subscription\'s pulled entries among the media already seen (kept with the subscription; `lists hunt NAME` still looks)')
    .option('--allow <cidr...>', 'addresses or CIDRs the first pull\'s retro-hunt may recheck although private (e.g. 127.0.0.1/32)', addressRange('--allow'))
    .option('--json', 'print the first pull\'s result as JSON')
    .action(async (url: string, options: { name: string; user: string; remote?: string; page?: number; retroHunt: boolean; allow?: string[]; json?: boolean }) => {
      const peer = parsePeerUrl(url)
      const remote = options.remote ?? peer.remote ?? options.name
      const password = await readPassword()
      if (password === '') throw new ConfigError('the password: expected it on stdin (or typed at the prompt), got nothing')
      await withApp(loadConfig(), async (app) => {
        const db = app.database.db
        if (await db.selectFrom('hash_lists').where('name', '=', options.name).select('id').executeTakeFirst()) {
          throw new NonRetryableError('LIST_EXISTS', `a list named "${options.name}" exists already: subscribe into a new one (its content would be replaced by the peer's)`)
        }
        // Held by this command from the start, so no scheduled pull takes it before the first pull is done.
        const owner = pullOwner()
        const sub = await db.insertInto('list_subscriptions')
          .values({ local_name: options.name, url: peer.base, remote_name: remote, user_name: options.user, password, retro_hunt: options.retroHunt, pull_owner: owner, pull_lease_until: leaseUntil() })
          .onConflict((oc) => oc.column('local_name').doNothing()).returning(SUBSCRIPTION_COLUMNS).executeTakeFirst()
        if (sub === undefined) throw new NonRetryableError('SUBSCRIPTION_EXISTS', `"${options.name}" follows a peer already (lists subscriptions)`)
        let outcome: PullOutcome
        try {
          outcome = await stoppable((signal) => pullHeld(app, sub, owner, { pageSize: options.page, allow: options.allow, signal, onHuntProgress: huntProgress() }))
        } catch (error) {
          // Refused or unreachable before anything was applied: nothing is kept.
          const now = await db.selectFrom('list_subscriptions').where('local_name', '=', options.name).select('cursor').executeTakeFirst()
          if (now?.cursor === '0') await db.deleteFrom('list_subscriptions').where('local_name', '=', options.name).execute()
          throw error
        } finally {
          await releaseSubscription(db, options.name, owner).catch(() => {})
        }
        if (!options.json) process.stdout.write(`subscribed ${options.name} to ${peer.base} ${remote} as ${options.user}${options.retroHunt ? '' : ' (no retro-hunts)'}\n`)
        printOutcome(outcome, options.json === true)
        if (outcome.status === 'pulled' && outcome.huntError) process.exitCode = 1
      })
    })

  lists.command('subscriptions')
    .description('the lists followed from other deployments: peer, list there, user, cursor, classification, retro-hunts on or off, last pull and its error, a pull running now')
    .option('--json', 'one JSON object per line')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const rows = await app.database.db.selectFrom('list_subscriptions')
          .select(['local_name', 'url', 'remote_name', 'user_name', 'cursor', 'classification', 'retro_hunt', 'pulls', 'last_pull_at', 'last_error', 'created_at', 'pull_owner', 'pull_lease_until',
            sql<boolean>`pull_lease_until > now()`.as('held'), sql<boolean>`hunt_version_id is not null`.as('hunt_pending')])
          .orderBy('local_name').execute()
        const out = rows.map((r) => ({
          list: r.local_name, url: r.url, remote: r.remote_name, user: r.user_name, cursor: r.cursor, classification: r.classification, retroHunt: r.retro_hunt,
          pulls: r.pulls, lastPullAt: r.last_pull_at, lastError: r.last_error, createdAt: r.created_at,
          /** A pull running now: who, and until when it holds the subscription (renewed while it runs). */
          pulling: r.held ? { owner: r.pull_owner, until: r.pull_lease_until } : null,
          /** Pulled entries a retro-hunt has still to look for (the last one failed or was stopped). */
          huntPending: r.hunt_pending,
        }))
        if (options.json) for (const s of out) process.stdout.write(`${JSON.stringify(s)}\n`)
        else if (out.length === 0) process.stdout.write('no subscriptions\n')
        else for (const s of out) {
          process.stdout.write(`${s.list} <- ${s.url} ${s.remote} as ${s.user}: cursor ${s.cursor}, ${s.classification ?? '-'}, ${s.pulls} pulls${s.retroHunt ? '' : ', no retro-hunts'}`
            + `${s.lastPullAt ? `, last ${s.lastPullAt.toISOString()}` : ''}${s.lastError ? `, failed: ${s.lastError}` : ''}${s.pulling ? `, being pulled by ${s.pulling.owner}` : ''}\n`)
        }
      })
    })

  lists.command('pull')
    .description('pull the subscribed lists (or one) from their peers now: entries added and retracted there since the last pull, what was added then looked for among the media already seen (a retro-hunt) unless --no-retro-hunt or the subscription says so; one another process is pulling is skipped')
    .argument('[name]', 'the local list of one subscription (default: every subscription)')
    .option('--page <n>', `entries asked for per request (default ${PULL_PAGE}; the peer allows up to its ARACHNID_API_MAX_BATCH)`, integer('--page', 1, 1_000_000))
    .option('--no-retro-hunt', 'do not look for what this pull adds among the media already seen (`lists hunt NAME` still can)')
    .option('--allow <cidr...>', 'addresses or CIDRs the retro-hunt\'s live rechecks may contact although private (e.g. 127.0.0.1/32)', addressRange('--allow'))
    .option('--json', 'one JSON object per subscription')
    .action(async (name: string | undefined, options: { page?: number; retroHunt: boolean; allow?: string[]; json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        await stoppable(async (signal) => {
          const outcomes = await pullSubscriptions(app, {
            name, pageSize: options.page, retroHunt: options.retroHunt, allow: options.allow, signal, onHuntProgress: huntProgress(),
            onOutcome: (o) => printOutcome(o, options.json === true),
          })
          if (outcomes.length === 0 && !options.json) process.stdout.write('no subscriptions\n')
          // One peer failing does not stop the others, but the command says so.
          if (outcomes.some((o) => o.status === 'failed' || (o.status === 'pulled' && o.huntError))) process.exitCode = 1
          if (signal.aborted) process.exitCode = 130
        })
      })
    })
}
