import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import readline from 'node:readline'
import path from 'node:path'
import type { Command } from 'commander'
import { ConfigError, loadConfig } from '@arachnid/core'
import { IMPORT_MODES, LIST_FORMATS, importList, isListFormat, listLists, retractHashes, showList, type ImportMode } from '@arachnid/matcher'
import { withApp } from '../app.js'

function threshold(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 256) throw new ConfigError(`a threshold is an integer 0..256, got "${value}"`)
  return n
}

export function registerLists(program: Command): void {
  const lists = program.command('lists').description('known-hash lists: import, list, show, retract')
  lists.command('import')
    .description('import a new version of a list (active only once complete; the old one matches until then)')
    .argument('<file>', 'list file')
    .requiredOption('--name <name>', 'list name')
    .option('--format <format>', `${LIST_FORMATS.join(' | ')} (csv: "algorithm,hash[,category][,external_id]" with a header)`, 'csv')
    .option('--append', 'add the rows to the active version instead of making a new one')
    .option('--strict', 'apply nothing when any row is bad')
    .option('--pdq-threshold <n>', 'this list\'s PDQ threshold', threshold)
    .option('--blockhash-threshold <n>', 'this list\'s blockhash threshold', threshold)
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: { name: string; format: string; append?: boolean; strict?: boolean; pdqThreshold?: number; blockhashThreshold?: number; json?: boolean }) => {
      if (!isListFormat(options.format)) throw new ConfigError(`--format must be one of ${LIST_FORMATS.join(', ')}`)
      const format = options.format
      await access(file).catch(() => { throw new ConfigError(`cannot read ${file}`) })
      await withApp(loadConfig(), async (app) => {
        const lines = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity })
        const mode: ImportMode = options.append ? 'append' : IMPORT_MODES[0]
        const started = performance.now()
        const result = await importList(app.database.db, {
          name: options.name, lines, format, mode, strict: options.strict, source: path.basename(file),
          pdqThreshold: options.pdqThreshold, blockhashThreshold: options.blockhashThreshold, copyFrom: app.database.copyFrom,
        })
        const seconds = (performance.now() - started) / 1000
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
        else {
          process.stdout.write(result.applied
            ? `${result.list} v${result.version}: ${result.imported} hashes ${mode === 'append' ? 'appended' : 'imported'} in ${seconds.toFixed(1)} s, ${result.rejected.length} rows rejected\n`
            : `${result.list}: nothing applied (--strict), ${result.rejected.length} rows rejected\n`)
          for (const r of result.rejected.slice(0, 50)) process.stdout.write(`  line ${r.line}: ${r.reason}\n`)
          if (result.rejected.length > 50) process.stdout.write(`  ... and ${result.rejected.length - 50} more\n`)
        }
        if (result.rejected.length > 0) process.exitCode = result.applied ? 0 : 1
      })
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
          process.stdout.write(`${l.name} v${l.version ?? '-'}: ${l.hashes} hashes (${Object.entries(l.byAlgorithm).map(([a, n]) => `${a} ${n}`).join(', ')})\n`)
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
          `${d.name}: active version ${d.version ?? '-'}, ${d.hashes} hashes, ${d.retracted} retracted`,
          `  thresholds: pdq ${d.pdqThreshold ?? 'default'}, blockhash ${d.blockhashThreshold ?? 'default'}`,
          `  by algorithm: ${Object.entries(d.byAlgorithm).map(([a, n]) => `${a} ${n}`).join(', ') || '-'}`,
          `  by category: ${Object.entries(d.byCategory).map(([c, n]) => `${c || '(none)'} ${n}`).join(', ') || '-'}`,
          '  versions:',
          ...d.versions.map((v) => `    v${v.version} ${v.status}: ${v.rows} rows, ${v.rejected} rejected, ${v.format ?? '?'} ${v.source ?? ''} (created ${v.createdAt.toISOString()}${v.activatedAt ? `, activated ${v.activatedAt.toISOString()}` : ''})`),
        ]
        process.stdout.write(`${out.join('\n')}\n`)
      })
    })
  lists.command('retract')
    .description('retract hashes: they stop matching at once and are kept for audit')
    .argument('<hash...>', 'hashes (hex)')
    .option('--list <name>', 'only in this list')
    .option('--reason <text>', 'why, kept with the hash')
    .option('--json', 'JSON output')
    .action(async (hashes: string[], options: { list?: string; reason?: string; json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const result = await retractHashes(app.database.db, { hashes, list: options.list, reason: options.reason })
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
        else {
          for (const r of result.retracted) process.stdout.write(`retracted ${r.list} ${r.algorithm}:${r.hash}\n`)
          for (const h of result.notFound) process.stdout.write(`not found ${h}\n`)
        }
        if (result.notFound.length > 0) process.exitCode = 1
      })
    })
}
