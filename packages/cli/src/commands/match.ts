import type { Command } from 'commander'
import { loadConfig } from '@arachnid/core'
import { isAlgorithm, normaliseHash, readLines, type Probe } from '@arachnid/matcher'
import { withApp } from '../app.js'

const BATCH = 1000

export function registerMatch(program: Command): void {
  program.command('match')
    .description('read "algorithm:hex" lines on stdin and print the matches of each (batched)')
    .option('--json', 'one JSON object per input line')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        // Typed at a terminal, nothing would say the command is waiting for input.
        if (process.stdin.isTTY) process.stderr.write('arachnid: reading algorithm:hex lines from stdin (Ctrl-D ends)\n')
        // Pulled as the batches are matched, so no line is read ahead and dropped.
        const input = readLines(process.stdin)
        let batch: { input: string; probe?: Probe; error?: string }[] = []
        const flush = async () => {
          const probes = batch.filter((b) => b.probe).map((b) => b.probe!)
          const results = probes.length > 0 ? await app.matcher.match(probes) : []
          let i = 0
          for (const item of batch) {
            const out = item.error !== undefined
              ? { input: item.input, error: item.error }
              : { input: item.input, matches: results[i++]!.map((m) => ({ list: m.list, algorithm: m.algorithm, hash: m.hash, distance: m.distance, category: m.category })) }
            if (options.json) process.stdout.write(`${JSON.stringify(out)}\n`)
            else if ('error' in out) process.stdout.write(`${out.input}\terror: ${out.error}\n`)
            else process.stdout.write(`${out.input}\t${out.matches.length === 0 ? 'no match' : out.matches.map((m) => `${m.list}:${m.algorithm}:d=${m.distance}`).join(' ')}\n`)
          }
          batch = []
        }
        for await (const raw of input) {
          const line = raw.trim()
          if (line === '' || line.startsWith('#')) continue
          const [algorithm = '', hex = ''] = line.split(':', 2)
          const alg = algorithm.toLowerCase()
          if (!isAlgorithm(alg)) batch.push({ input: line, error: `unknown algorithm "${algorithm}"` })
          else {
            const norm = normaliseHash(alg, hex)
            batch.push('error' in norm ? { input: line, error: norm.error } : { input: line, probe: { algorithm: alg, hash: norm.hex } })
          }
          if (batch.length >= BATCH) await flush()
        }
        await flush()
      })
    })
}
