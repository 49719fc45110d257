import type { Command } from 'commander'
import { loadConfig, redactUrl, SETTINGS } from '@arachnid/core'

export function registerConfig(program: Command): void {
  program.command('config')
    .description('print every setting: environment variable, default, current value')
    .option('--markdown', 'as a Markdown table (the README uses it)')
    .action((options: { markdown?: boolean }) => {
      const config = loadConfig()
      const current = (key: string) => {
        const value = String((config as Record<string, unknown>)[key])
        return key === 'databaseUrl' || key === 'smtpUrl' ? (value ? redactUrl(value) : '') : value
      }
      if (options.markdown) {
        process.stdout.write('| Variable | Default | Meaning |\n|---|---|---|\n')
        for (const [, s] of Object.entries(SETTINGS)) process.stdout.write(`| \`${s.env}\` | ${s.default === '' ? '(unset)' : `\`${s.default}\``} | ${s.doc} |\n`)
        return
      }
      for (const [key, s] of Object.entries(SETTINGS)) process.stdout.write(`${s.env.padEnd(30)} ${current(key)}\n`)
    })
}
