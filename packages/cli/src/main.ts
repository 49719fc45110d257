#!/usr/bin/env node
import { Command, CommanderError } from 'commander'
import { ArachnidError } from '@arachnid/core'

type Register = (program: Command) => void

/**
 * Every command's module, in the order `--help` lists them. Only the module of the command being
 * run is loaded (each pulls in its own packages: Crawlee, Chromium's driver, pg-boss...), so a
 * quick command starts quickly; `--help` and unknown commands load them all.
 */
const COMMANDS: readonly (readonly [readonly string[], () => Promise<Register>])[] = [
  [['demo'], async () => (await import('./commands/demo.js')).registerDemo],
  [['crawl'], async () => (await import('./commands/crawl.js')).registerCrawl],
  [['worker'], async () => (await import('./commands/worker.js')).registerWorker],
  [['jobs'], async () => (await import('./commands/jobs.js')).registerJobs],
  [['hash'], async () => (await import('./commands/hash.js')).registerHash],
  [['lists'], async () => (await import('./commands/lists.js')).registerLists],
  [['match'], async () => (await import('./commands/match.js')).registerMatch],
  [['notices', 'providers', 'notify'], async () => (await import('./commands/notices.js')).registerNotices],
  [['stats'], async () => (await import('./commands/stats.js')).registerStats],
  [['serve'], async () => (await import('./commands/serve.js')).registerServe],
  [['api'], async () => (await import('./commands/api.js')).registerApi],
  [['analysts'], async () => (await import('./commands/analysts.js')).registerAnalysts],
  [['config'], async () => (await import('./commands/config.js')).registerConfig],
]

const program = new Command('arachnid')
  .description('Find known child sexual abuse material on the web by hash and get it taken down: crawl, hash, match, notify.')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride()

// `arachnid notices list | head -5`: the reader has gone, which is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
}

const named = process.argv.slice(2).find((a) => !a.startsWith('-'))
const wanted = COMMANDS.filter(([names]) => named !== undefined && names.includes(named))
for (const [, load] of wanted.length > 0 ? wanted : COMMANDS) (await load())(program)

// A command whose work never settles (a promise nothing resolves) would otherwise end with an
// empty event loop and exit 0 as if it had succeeded.
let settled = false
process.on('beforeExit', () => {
  if (settled) return
  settled = true
  process.stderr.write('arachnid: internal error: the command stopped before it finished (nothing was left to wait for)\n')
  process.exitCode = 1
})

try {
  await program.parseAsync(process.argv)
  settled = true
} catch (error) {
  settled = true
  if (error instanceof CommanderError) process.exitCode = error.exitCode
  else if (error instanceof ArachnidError) {
    process.stderr.write(`arachnid: ${error.message}\n`)
    process.exitCode = 2
  } else {
    // One line for the operator; the stack only when asked for (LOG_LEVEL=debug).
    const verbose = /^(debug|trace)$/i.test(process.env.LOG_LEVEL ?? '')
    const message = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error)
    process.stderr.write(`arachnid: ${verbose && error instanceof Error ? error.stack : `${message.split('\n')[0]} (LOG_LEVEL=debug shows where)`}\n`)
    process.exitCode = 1
  }
}
