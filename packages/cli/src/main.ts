#!/usr/bin/env node
import { Command, CommanderError } from 'commander'
import { ArachnidError } from '@arachnid/core'
import { registerAnalysts } from './commands/analysts.js'
import { registerConfig } from './commands/config.js'
import { registerCrawl } from './commands/crawl.js'
import { registerDemo } from './commands/demo.js'
import { registerHash } from './commands/hash.js'
import { registerJobs } from './commands/jobs.js'
import { registerLists } from './commands/lists.js'
import { registerMatch } from './commands/match.js'
import { registerNotices } from './commands/notices.js'
import { registerServe } from './commands/serve.js'
import { registerStats } from './commands/stats.js'
import { registerWorker } from './commands/worker.js'

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

registerDemo(program)
registerCrawl(program)
registerWorker(program)
registerJobs(program)
registerHash(program)
registerLists(program)
registerMatch(program)
registerNotices(program)
registerStats(program)
registerServe(program)
registerAnalysts(program)
registerConfig(program)

try {
  await program.parseAsync(process.argv)
} catch (error) {
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
