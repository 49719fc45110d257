import { createReadStream } from 'node:fs'
import { access, constants, stat } from 'node:fs/promises'
import path from 'node:path'
import { addAbortSignal } from 'node:stream'
import type { Command } from 'commander'
import { ArachnidError, ConfigError, LIST_CLASSIFICATIONS, type ListClassification, NonRetryableError, loadConfig } from '@arachnid/core'
import {
  IMPORT_MODES, LIST_FORMATS, importList, listLists, readLines, retractHashes, setListClassification, showList,
  type ImportListResult, type ImportMode, type ListFormat, type RetroHuntProgress, type RetroHuntScope,
} from '@arachnid/matcher'
import { type App, withApp } from '../app.js'
import { runRetroHunt } from '../retro-hunt.js'
import { registerListSharing } from './list-sharing.js'
import { addressRange, choice, text, threshold, warnLargeThreshold } from '../parse-options.js'

/** Checked before the database is opened, so a mistyped path costs one line and no database work. */
async function checkReadable(file: string): Promise<void> {
  if (file === '-') {
    // Typed at a terminal, nothing would say the command is waiting for the list.
    if (process.stdin.isTTY) process.stderr.write('arachnid: reading the list from stdin (Ctrl-D ends)\n')
    return
  }
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.code ?? error.message}`, { cause: error })
  })
  if (info.isDirectory()) throw new ConfigError(`cannot read ${file}: it is a directory`)
  await access(file, constants.R_OK).catch((error: unknown) => { throw new ConfigError(`cannot read ${file}: permission denied`, { cause: error }) })
}

/**
 * The file's lines (stdin for `-`), read as the import asks for them: the stream is opened at the
 * first line wanted and read no faster than the rows are written, so no line is lost while the
 * import is still making its version (a readline interface created up front dropped them).
 */
async function* fileLines(file: string, signal: AbortSignal): AsyncGenerator<string, void, undefined> {
  try {
    // Aborting destroys the stream, so an import waiting on a slow pipe or a terminal stops at once too.
    yield* readLines(addAbortSignal(signal, file === '-' ? process.stdin : createReadStream(file)))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new NonRetryableError('UNREADABLE', `cannot read ${file}: ${(error as Error).message}`, { cause: error })
    throw error
  }
}

/** A known video's name from its vPDQ file's name: `clip.mp4.txt` -> `clip.mp4`. */
function videoNameOf(file: string): string {
  return path.basename(file).replace(/\.(txt|vpdq)$/i, '')
}

/** Several vPDQ files as one stream: each starts with the `# video: NAME` line that names its video. */
async function* videoFileLines(files: readonly string[], signal: AbortSignal): AsyncGenerator<string, void, undefined> {
  for (const file of files) {
    yield `# video: ${videoNameOf(file)}`
    yield* fileLines(file, signal)
  }
}

/**
 * The retro-hunt after an import: a progress line on stderr (rewritten in place on a terminal),
 * then one summary line on stdout (or the figures, for --json). Ctrl-C stops it between steps.
 */
async function huntAfterImport(app: App, scope: RetroHuntScope, io: { allow?: readonly string[]; signal: AbortSignal; json: boolean }): Promise<Record<string, unknown>> {
  const tty = process.stderr.isTTY === true
  // Not on a terminal: a line every 5 s of a long hunt, none for a short one (the summary says the rest).
  let lastLine = performance.now()
  const progress = (p: RetroHuntProgress) => {
    const now = performance.now()
    if (!tty && (now - lastLine < 5000 || p.scanned >= p.total)) return
    lastLine = now
    const line = `retro-hunt: ${p.scanned}/${p.total} media searched, ${p.matchedMedia} matched`
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`)
  }
  try {
    const result = await runRetroHunt(app, scope, { allow: io.allow, signal: io.signal, onProgress: progress })
    if (tty) process.stderr.write('\n')
    if (!io.json) {
      process.stdout.write(`retro-hunt: ${result.entries} new ${result.entries === 1 ? 'entry' : 'entries'} looked for among ${result.mediaScanned} media in ${result.seconds.toFixed(1)} s: `
        + `${count(result.matchedMedia, 'media matched', 'media matched')} (${count(result.newMatches, 'new match', 'new matches')}), ${count(result.notices, 'notice', 'notices')}, `
        + `${count(result.gone, 'URL', 'URLs')} already gone\n`)
    }
    return { ...result }
  } catch (error) {
    if (tty) process.stderr.write('\n')
    if (!(error instanceof ArachnidError && error.code === 'INTERRUPTED')) throw error
    process.stderr.write('arachnid: retro-hunt interrupted: the import is applied; run `lists hunt NAME` to look again\n')
    return { interrupted: true }
  }
}

/** URLs found gone shown per retro-hunt by `lists show`. */
const GONE_URLS_SHOWN = 5

const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

function importSummary(result: ImportListResult, o: { mode: ImportMode; format: ListFormat; strict: boolean; seconds: number }): string {
  const rejected = count(result.rejected.length, 'row', 'rows')
  if (!result.applied) {
    return o.strict && result.rejected.length > 0
      ? `${result.list}: nothing applied (--strict), ${rejected} rejected`
      : `${result.list}: nothing applied: every row was rejected (is --format ${o.format} right?), ${rejected} rejected`
  }
  const notes = [
    ...(result.repeated > 0 ? [`${count(result.repeated, 'row repeats', 'rows repeat')} an earlier row (stored once)`] : []),
    ...(result.alreadyPresent > 0 ? [`${count(result.alreadyPresent, 'row was', 'rows were')} already in the list`] : []),
  ]
  return `${result.list} v${result.version}: ${count(result.imported, 'hash', 'hashes')} ${o.mode === 'append' ? 'appended' : 'imported'} in ${o.seconds.toFixed(1)} s, ${rejected} rejected${notes.map((n) => `, ${n}`).join('')}`
}

function byAlgorithm(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts).map(([a, n]) => `${a} ${n}`).join(', ')
}

export function registerLists(program: Command): void {
  const lists = program.command('lists').description('known-hash lists: import, list, show, set, retract')
  lists.command('import')
    .description('import a new version of a list (active only once complete; the old one matches until then)')
    .argument('<files...>', 'list file (- for stdin); with --format vpdq, one file per known video (vPDQ\'s output), named by the file')
    .requiredOption('--name <name>', 'list name', text('--name'))
    .option('--format <format>', `${LIST_FORMATS.join(' | ')} (csv: "algorithm,hash[,category][,external_id]" with a header)`, choice('--format', LIST_FORMATS), 'csv')
    .option('--append', 'add the rows to the active version instead of making a new one (rows already there are not added again)')
    .option('--strict', 'apply nothing when any row is bad')
    .option('--pdq-threshold <n>', 'this list\'s PDQ threshold (0 to 256)', threshold('--pdq-threshold'))
    .option('--blockhash-threshold <n>', 'this list\'s blockhash threshold (0 to 256)', threshold('--blockhash-threshold'))
    .option('--classification <c>', `what the list's entries are, as the matching service's Shield-compatible answers say: ${LIST_CLASSIFICATIONS.join(' | ')} (a new list: csam; an existing one keeps its own unless given)`, choice('--classification', LIST_CLASSIFICATIONS))
    .option('--ignore', 'make it an ignore list (set before any row goes in): a media matching one of its entries (say a stock image that collides with a known hash) has all its matches recorded suppressed, never noticed nor queued')
    .option('--no-retro-hunt', 'do not look for the new entries among the media already seen (a retro-hunt runs by default before the command returns)')
    .option('--allow <cidr...>', 'addresses or CIDRs the retro-hunt\'s live rechecks may contact although private (e.g. 127.0.0.1/32)', addressRange('--allow'))
    .option('--json', 'print the result as JSON')
    .action(async (files: string[], options: { name: string; format: ListFormat; append?: boolean; strict?: boolean; pdqThreshold?: number; blockhashThreshold?: number; classification?: ListClassification; ignore?: boolean; retroHunt: boolean; allow?: string[]; json?: boolean }) => {
      warnLargeThreshold('--pdq-threshold', options.pdqThreshold)
      warnLargeThreshold('--blockhash-threshold', options.blockhashThreshold)
      if (files.length > 1 && options.format !== 'vpdq') throw new ConfigError(`one list file at a time (got ${files.length}); only --format vpdq takes several files, one per video`)
      if (files.length > 1 && files.includes('-')) throw new ConfigError('- (stdin) cannot be given with other files')
      for (const file of files) await checkReadable(file)
      const file = files[0]!
      const mode: ImportMode = options.append ? 'append' : IMPORT_MODES[0]
      // Ctrl-C (or SIGTERM): stop between rows and undo, so an interrupted import leaves nothing
      // behind (no half-written version, no list it created); a second one leaves at once.
      const stop = new AbortController()
      let firstSignalAt = 0
      // Once the import is applied, Ctrl-C stops the retro-hunt only.
      let applied = false
      const onSignal = (signal: NodeJS.Signals) => {
        // One Ctrl-C can arrive twice: from the terminal to the process group, and relayed by the
        // tsx parent (`pnpm arachnid`). A second one within a second is the same one.
        if (stop.signal.aborted && performance.now() - firstSignalAt < 1000) return
        if (stop.signal.aborted) {
          process.stderr.write(`\narachnid: ${signal} again: leaving at once; ${options.name} may keep an unfinished version ('importing'), which never matches\n`)
          process.exit(130)
        }
        firstSignalAt = performance.now()
        process.stderr.write(applied
          ? `\narachnid: ${signal}: stopping the retro-hunt; the import is applied, and what the hunt found so far is recorded\n`
          : `\narachnid: ${signal}: stopping the import; nothing will be applied to ${options.name} (${signal} again to leave at once)\n`)
        stop.abort(signal)
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      try {
        await withApp(loadConfig(), async (app) => {
          const started = performance.now()
          // Flagged before the rows go in, so no entry of it ever matches unflagged; a new list the
          // import then fails to fill is removed by the import itself (it has no version).
          if (options.ignore) {
            await app.database.db.insertInto('hash_lists').values({ name: options.name, description: null, ignore: true })
              .onConflict((oc) => oc.column('name').doUpdateSet({ ignore: true })).execute()
          }
          const result = await importList(app.database.db, {
            name: options.name, lines: files.length > 1 ? videoFileLines(files, stop.signal) : fileLines(file, stop.signal), format: options.format, mode, strict: options.strict,
            source: files.length > 1 ? `${files.length} files` : file === '-' ? 'stdin' : path.basename(file), signal: stop.signal,
            videoName: file === '-' ? undefined : videoNameOf(file),
            pdqThreshold: options.pdqThreshold, blockhashThreshold: options.blockhashThreshold, classification: options.classification, copyFrom: app.database.copyFrom,
          })
          const seconds = (performance.now() - started) / 1000
          if (!options.json) {
            process.stdout.write(`${importSummary(result, { mode, format: options.format, strict: options.strict === true, seconds })}\n`)
            for (const r of result.rejected.slice(0, 50)) process.stdout.write(`  line ${r.line}: ${r.reason}\n`)
            if (result.rejected.length > 50) process.stdout.write(`  ... and ${result.rejected.length - 50} more\n`)
          }
          let hunt: Record<string, unknown> | undefined
          applied = result.applied
          if (result.applied && options.retroHunt && result.versionId !== undefined && result.added !== undefined) {
            hunt = await huntAfterImport(app, {
              listId: result.listId, versionId: result.versionId, firstId: result.added.first, lastId: result.added.last, trigger: mode === 'append' ? 'append' : 'import',
            }, { allow: options.allow, signal: stop.signal, json: options.json === true })
          }
          if (options.json) process.stdout.write(`${JSON.stringify(hunt ? { ...result, retroHunt: hunt } : result)}\n`)
          if (!result.applied) process.exitCode = 1
          if (hunt?.interrupted) process.exitCode = 130
        })
      } catch (error) {
        if (!(error instanceof ArachnidError && error.code === 'INTERRUPTED')) throw error
        process.stderr.write(`arachnid: interrupted (${String(stop.signal.reason)}): nothing applied to ${options.name}\n`)
        process.exitCode = 130
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    })
  lists.command('list')
    .description('each list with its active version and hash counts')
    .option('--json', 'JSON output')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const all = await listLists(app.database.db)
        if (options.json) process.stdout.write(`${JSON.stringify(all)}\n`)
        else if (all.length === 0) process.stdout.write('no lists\n')
        else for (const l of all) {
          process.stdout.write(l.version === null
            ? `${l.name}: no active version yet\n`
            : `${l.name} v${l.version}: ${count(l.hashes, 'hash', 'hashes')}${l.hashes > 0 ? ` (${byAlgorithm(l.byAlgorithm)})` : ''}, ${l.classification}\n`)
        }
      })
    })
  lists.command('show')
    .description('one list: counts by algorithm and category, retracted hashes, version history, and its retro-hunts (what started each, when, media searched, matches, notices, URLs found gone on recheck)')
    .argument('<name>', 'list name')
    .option('--json', 'JSON output')
    .action(async (name: string, options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const shown = await showList(app.database.db, name)
        // Each hunt with the URLs its live rechecks found gone (so got no notice), the first few of them.
        const ids = shown.retroHunts.map((h) => h.id)
        const gone = ids.length === 0 ? [] : await app.database.db.selectFrom('retro_hunt_urls').where('hunt_id', 'in', ids).where('outcome', '=', 'gone')
          .select(['hunt_id', 'url', 'reason', 'checked_at']).orderBy('hunt_id', 'desc').orderBy('url').execute()
        const d = {
          ...shown,
          retroHunts: shown.retroHunts.map((h) => ({
            ...h, goneUrls: gone.filter((g) => g.hunt_id === h.id).slice(0, GONE_URLS_SHOWN).map((g) => ({ url: g.url, reason: g.reason, checkedAt: g.checked_at })),
          })),
        }
        if (options.json) { process.stdout.write(`${JSON.stringify(d)}\n`); return }
        const out = [
          `${d.name}: active version ${d.version ?? '-'}, ${count(d.hashes, 'hash', 'hashes')}, ${d.retracted} retracted`,
          `  classification: ${d.classification}`,
          `  thresholds: pdq ${d.pdqThreshold ?? 'default'}, blockhash ${d.blockhashThreshold ?? 'default'}`,
          `  by algorithm: ${byAlgorithm(d.byAlgorithm) || '-'}`,
          `  by category: ${Object.entries(d.byCategory).map(([c, n]) => `${c || '(none)'} ${n}`).join(', ') || '-'}`,
          '  versions:',
          ...d.versions.map((v) => `    v${v.version} ${v.status}: ${v.rows} rows, ${v.rejected} rejected, ${v.format ?? '?'} ${v.source ?? ''} (created ${v.createdAt.toISOString()}${v.activatedAt ? `, activated ${v.activatedAt.toISOString()}` : ''})`),
          `  retro-hunts:${d.retroHunts.length === 0 ? ' none' : ''}`,
          ...d.retroHunts.flatMap((h) => [
            `    #${h.id} ${h.trigger} ${h.status}: ${h.entries} entries among ${h.mediaScanned} media, ${h.matchedMedia} matched (${h.newMatches} new matches), ${h.notices} notices, ${h.gone} URLs gone `
              + `(${h.startedAt.toISOString()}${h.finishedAt ? `, ${((h.finishedAt.getTime() - h.startedAt.getTime()) / 1000).toFixed(1)} s` : ''})`,
            ...h.goneUrls.map((g) => `      gone: ${g.url}${g.reason ? ` (${g.reason})` : ''}`),
            ...(h.gone > h.goneUrls.length ? [`      gone: ... and ${h.gone - h.goneUrls.length} more`] : []),
          ]),
        ]
        process.stdout.write(`${out.join('\n')}\n`)
      })
    })
  lists.command('hunt')
    .description('retro-hunt: look for the list\'s active version among every media seen so far (matches through the review policy; notices after a live recheck; gone content recorded, not noticed)')
    .argument('<name>', 'list name')
    .option('--allow <cidr...>', 'addresses or CIDRs the live rechecks may contact although private (e.g. 127.0.0.1/32)', addressRange('--allow'))
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: { allow?: string[]; json?: boolean }) => {
      const stop = new AbortController()
      const onSignal = () => {
        process.stderr.write('\narachnid: stopping the retro-hunt; what it found so far is recorded\n')
        stop.abort()
      }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      try {
        await withApp(loadConfig(), async (app) => {
          const list = await app.database.db.selectFrom('hash_lists as l').innerJoin('hash_list_versions as v', 'v.id', 'l.active_version_id')
            .where('l.name', '=', name).select(['l.id', 'v.id as version_id', 'v.first_id', 'v.last_id']).executeTakeFirst()
          if (list === undefined) throw new NonRetryableError('NO_SUCH_LIST', `no list named "${name}" with an active version`)
          if (list.first_id === null || list.last_id === null) throw new NonRetryableError('EMPTY_LIST', `list "${name}" has no entries to look for`)
          const hunt = await huntAfterImport(app, { listId: list.id, versionId: list.version_id, firstId: list.first_id, lastId: list.last_id, trigger: 'command' },
            { allow: options.allow, signal: stop.signal, json: options.json === true })
          if (options.json) process.stdout.write(`${JSON.stringify(hunt)}\n`)
          if (hunt.interrupted) process.exitCode = 130
        })
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    })
  lists.command('set')
    .description('change a list\'s settings: its classification, whether it is an ignore list (from the next match on)')
    .argument('<name>', 'list name')
    .option('--classification <c>', LIST_CLASSIFICATIONS.join(' | '), choice('--classification', LIST_CLASSIFICATIONS))
    .option('--ignore', 'make it an ignore list: media matching its entries have all their matches recorded suppressed (never noticed nor queued)')
    .option('--no-ignore', 'make it an ordinary list again (matches already recorded stay as they are)')
    .action(async (name: string, options: { classification?: ListClassification; ignore?: boolean }) => {
      if (options.classification === undefined && options.ignore === undefined) throw new ConfigError('nothing to set: give --classification, --ignore or --no-ignore')
      await withApp(loadConfig(), async (app) => {
        if (options.classification !== undefined) {
          await setListClassification(app.database.db, name, options.classification)
          process.stdout.write(`${name}: classification ${options.classification}\n`)
        }
        if (options.ignore !== undefined) {
          const updated = await app.database.db.updateTable('hash_lists').set({ ignore: options.ignore }).where('name', '=', name).executeTakeFirst()
          if (Number(updated.numUpdatedRows) === 0) throw new NonRetryableError('NO_SUCH_LIST', `no list named "${name}"`)
          process.stdout.write(`${name}: ${options.ignore ? 'an ignore list (its matches suppress the rest)' : 'not an ignore list'}\n`)
        }
      })
    })
  lists.command('retract')
    .description('retract hashes: they stop matching at once and are kept for audit')
    .argument('<hash...>', 'hashes: hex, or algorithm:hex as match reads them')
    .option('--list <name>', 'only in this list')
    .option('--reason <text>', 'why, kept with the hash')
    .option('--json', 'JSON output')
    .action(async (hashes: string[], options: { list?: string; reason?: string; json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const result = await retractHashes(app.database.db, { hashes, list: options.list, reason: options.reason })
        const already = new Set(result.alreadyRetracted)
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
        else {
          // One line per list entry, although a version may hold it more than once (imports before repeats were dropped).
          for (const line of new Set(result.retracted.map((r) => `retracted ${r.list} ${r.algorithm}:${r.hash}`))) process.stdout.write(`${line}\n`)
          for (const h of result.notFound) process.stdout.write(`${already.has(h) ? 'already retracted' : 'not found'} ${h}\n`)
        }
        // Retracting again what is retracted already is done, not an error.
        if (result.notFound.some((h) => !already.has(h))) process.exitCode = 1
      })
    })
  registerListSharing(lists)
}
