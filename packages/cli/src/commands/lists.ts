import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import readline from 'node:readline'
import path from 'node:path'
import type { Command } from 'commander'
import { ConfigError, loadConfig } from '@arachnid/core'
import { importList, listLists } from '@arachnid/matcher'
import { withApp } from '../app.js'

export function registerLists(program: Command): void {
  const lists = program.command('lists').description('known-hash lists: import, list')
  lists.command('import')
    .description('import a new version of a list from CSV "algorithm,hash[,category][,external_id]" with a header')
    .argument('<file>', 'CSV file')
    .requiredOption('--name <name>', 'list name')
    .option('--strict', 'apply nothing when any row is bad')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, options: { name: string; strict?: boolean; json?: boolean }) => {
      await access(file).catch(() => { throw new ConfigError(`cannot read ${file}`) })
      await withApp(loadConfig(), async (app) => {
        const lines = readline.createInterface({ input: createReadStream(file), crlfDelay: Infinity })
        const result = await importList(app.database.db, { name: options.name, lines, strict: options.strict, source: path.basename(file) })
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`)
        else {
          process.stdout.write(result.applied
            ? `${result.list} v${result.version}: ${result.imported} hashes imported, ${result.rejected.length} rows rejected\n`
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
}
