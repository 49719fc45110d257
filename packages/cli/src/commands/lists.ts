import { createReadStream } from 'node:fs'
import { access, constants, stat } from 'node:fs/promises'
import path from 'node:path'
import { addAbortSignal } from 'node:stream'
import type { Command } from 'commander'
import { ArachnidError, ConfigError, LIST_CLASSIFICATIONS, type ListClassification, NonRetryableError, loadConfig } from '@arachnid/core'
import {
  IMPORT_MODES, LIST_FORMATS, importList, listLists, readLines, retractHashes, setListClassification, showList,
  type ImportListResult, type ImportMode, type ListFormat,
} from '@arachnid/matcher'
import { withApp } from '../app.js'
import { choice, text, threshold, warnLargeThreshold } from '../parse-options.js'

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
    .option('--json', 'print the result as JSON')
    .action(async (files: string[], options: { name: string; format: ListFormat; append?: boolean; strict?: boolean; pdqThreshold?: number; blockhashThreshold?: number; classification?: ListClassification; json?: boolean }) => {
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
      const onSignal = (signal: NodeJS.Signals) => {
        // One Ctrl-C can arrive twice: from the terminal to the process group, and relayed by the
        // tsx parent (`pnpm arachnid`). A second one within a second is the same one.
        if (stop.signal.aborted && performance.now() - firstSignalAt < 1000) return
        if (stop.signal.aborted) {
          process.stderr.write(`\narachnid: ${signal} again: leaving at once; ${options.name} may keep an unfinished version ('importing'), which never matches\n`)
          process.exit(130)
        }
        firstSignalAt = performance.now()
        process.stderr.write(`\narachnid: ${signal}: stopping the import; nothing will be applied to ${options.name} (${signal} again to leave at once)\n`)
        stop.abort(signal)
      }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      try {
        await withApp(loadConfig(), async (app) => {
          const started = performance.now()
          const result = await importList(app.database.db, {
            name: options.name, lines: files.length > 1 ? videoFileLines(files, stop.signal) : fileLines(file, stop.signal), format: options.format, mode, strict: options.strict,
            source: files.length > 1 ? `${files.length} files` : file === '-' ? 'stdin' : path.basename(file), signal: stop.signal,
            videoName: file === '-' ? undefined : videoNameOf(file),
            pdqThreshold: options.pdqThreshold, blockhashThreshold: options.blockhashThreshold, classification: options.classification, copyFrom: app.database.copyFrom,
          })
          const seconds = (performance.now() - started) / 1000
          if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
          else {
            process.stdout.write(`${importSummary(result, { mode, format: options.format, strict: options.strict === true, seconds })}\n`)
            for (const r of result.rejected.slice(0, 50)) process.stdout.write(`  line ${r.line}: ${r.reason}\n`)
            if (result.rejected.length > 50) process.stdout.write(`  ... and ${result.rejected.length - 50} more\n`)
          }
          if (!result.applied) process.exitCode = 1
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
    .description('one list: counts by algorithm and category, retracted hashes, version history')
    .argument('<name>', 'list name')
    .option('--json', 'JSON output')
    .action(async (name: string, options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const d = await showList(app.database.db, name)
        if (options.json) { process.stdout.write(`${JSON.stringify(d)}\n`); return }
        const out = [
          `${d.name}: active version ${d.version ?? '-'}, ${count(d.hashes, 'hash', 'hashes')}, ${d.retracted} retracted`,
          `  classification: ${d.classification}`,
          `  thresholds: pdq ${d.pdqThreshold ?? 'default'}, blockhash ${d.blockhashThreshold ?? 'default'}`,
          `  by algorithm: ${byAlgorithm(d.byAlgorithm) || '-'}`,
          `  by category: ${Object.entries(d.byCategory).map(([c, n]) => `${c || '(none)'} ${n}`).join(', ') || '-'}`,
          '  versions:',
          ...d.versions.map((v) => `    v${v.version} ${v.status}: ${v.rows} rows, ${v.rejected} rejected, ${v.format ?? '?'} ${v.source ?? ''} (created ${v.createdAt.toISOString()}${v.activatedAt ? `, activated ${v.activatedAt.toISOString()}` : ''})`),
        ]
        process.stdout.write(`${out.join('\n')}\n`)
      })
    })
  lists.command('set')
    .description('change a list\'s settings: its classification (from the next match on)')
    .argument('<name>', 'list name')
    .requiredOption('--classification <c>', LIST_CLASSIFICATIONS.join(' | '), choice('--classification', LIST_CLASSIFICATIONS))
    .action(async (name: string, options: { classification: ListClassification }) => {
      await withApp(loadConfig(), async (app) => {
        await setListClassification(app.database.db, name, options.classification)
        process.stdout.write(`${name}: classification ${options.classification}\n`)
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
}
