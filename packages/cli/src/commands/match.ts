import type { Command } from 'commander'
import { loadConfig } from '@arachnid/core'
import { readLines } from '@arachnid/matcher'
import { type ParsedProbe, matchParsed, parseProbe } from '@arachnid/api'
import { withApp } from '../app.js'

const BATCH = 1000

export function registerMatch(program: Command): void {
  program.command('match')
    .description('read "algorithm:hex" lines on stdin and print the matches of each (batched)')
    .option('--json', 'one JSON object per input line, as the matching service\'s batch endpoint (/api/v1/match) answers each probe')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        // Typed at a terminal, nothing would say the command is waiting for input.
        if (process.stdin.isTTY) process.stderr.write('arachnid: reading algorithm:hex lines from stdin (Ctrl-D ends)\n')
        // Pulled as the batches are matched, so no line is read ahead and dropped.
        const input = readLines(process.stdin)
        let batch: ParsedProbe[] = []
        const flush = async () => {
          // The same parsing and the same JSON per probe as the batch endpoint, so the two agree.
          for (const out of await matchParsed(app.matcher, batch)) {
            if (options.json) process.stdout.write(`${JSON.stringify(out)}\n`)
            else if ('error' in out) process.stdout.write(`${out.input}\terror: ${out.error}\n`)
            else process.stdout.write(`${out.input}\t${out.matches.length === 0 ? 'no match' : out.matches.map((m) => `${m.list}:${m.algorithm}:d=${m.distance}${m.ignore ? ' (ignore list)' : ''}`).join(' ')}\n`)
          }
          batch = []
        }
        for await (const raw of input) {
          const line = raw.trim()
          if (line === '' || line.startsWith('#')) continue
          batch.push(parseProbe(line))
          if (batch.length >= BATCH) await flush()
        }
        await flush()
      })
    })
}
