import type { Command } from 'commander'
import { loadConfig } from '@arachnid/core'
import { listNotices, setProviderRule } from '@arachnid/notifier'
import { withApp } from '../app.js'

export function registerNotices(program: Command): void {
  const notices = program.command('notices').description('removal notices: what was sent, to whom')
  notices.command('list')
    .description('notices with provider and delivery state, newest first')
    .option('--open', 'only open notices')
    .option('--json', 'one JSON object per line')
    .action(async (options: { open?: boolean; json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const rows = await listNotices(app.database.db, { open: options.open })
        for (const n of rows) {
          if (options.json) process.stdout.write(`${JSON.stringify(n)}\n`)
          else process.stdout.write(`${n.reference}  ${n.status.padEnd(7)} ${(n.delivery ?? 'unassigned').padEnd(10)} ${n.provider ?? '-'} <${n.to ?? '-'}>  ${n.mediaUrl}\n`)
        }
        if (!options.json) process.stdout.write(`${rows.length} notices\n`)
      })
    })

  const providers = program.command('providers').description('the local provider directory (CIDR or domain -> provider and abuse address)')
  providers.command('set')
    .description('map a CIDR or a domain to a provider and its abuse address')
    .argument('<pattern>', 'CIDR (203.0.113.0/24) or domain (example.net, covers subdomains)')
    .requiredOption('--name <name>', 'provider name')
    .requiredOption('--email <address>', 'abuse address')
    .action(async (pattern: string, options: { name: string; email: string }) => {
      await withApp(loadConfig(), async (app) => {
        const rule = await setProviderRule(app.database.db, { pattern, name: options.name, abuseEmail: options.email })
        process.stdout.write(`${rule.kind} ${rule.pattern} -> ${options.name} <${options.email}>\n`)
      })
    })
  providers.command('list')
    .description('directory rules')
    .option('--json', 'JSON output')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const rows = await app.database.db.selectFrom('provider_rules as r').innerJoin('providers as p', 'p.id', 'r.provider_id')
          .select(['r.kind', 'r.pattern', 'p.name', 'p.abuse_email']).orderBy('p.name').execute()
        if (options.json) process.stdout.write(`${JSON.stringify(rows)}\n`)
        else for (const r of rows) process.stdout.write(`${r.kind.padEnd(6)} ${r.pattern.padEnd(30)} ${r.name} <${r.abuse_email}>\n`)
      })
    })

  program.command('notify')
    .description('notice delivery')
    .command('run')
    .description('deliver every notice email that is due (SMTP_URL, or .eml files in the outbox folder)')
    .action(async () => {
      await withApp(loadConfig(), async (app) => {
        const result = await app.delivery().deliverDue()
        process.stdout.write(`${result.sent} sent, ${result.retrying} to retry, ${result.failed} failed (${app.transport().name})\n`)
      })
    })
}
