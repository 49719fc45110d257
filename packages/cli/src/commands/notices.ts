import type { Command } from 'commander'
import { type Config, NonRetryableError, loadConfig } from '@arachnid/core'
import { Hasher } from '@arachnid/hasher'
import {
  NotifierService, NotifyScheduler, createBoss, listNotices, listUnassigned, noticeHistory, notifierOptionsFromConfig, parseProviderRule, releaseHeld, setProviderRule,
} from '@arachnid/notifier'
import { type App, withApp } from '../app.js'
import { ListPullScheduler } from '../list-pull-scheduler.js'
import { addressRange, decimal, text } from '../parse-options.js'

/** pg-boss polls no faster than every 0.5 s; an idle worker asking less than every 10 minutes would look dead. */
const POLL_SECONDS = { min: 0.5, max: 600 } as const

async function openNotifier(app: App, allow: readonly string[]): Promise<{ service: NotifierService; close(): Promise<void> }> {
  const { config } = app
  const hasher = new Hasher({ maxBytes: config.maxMediaBytes, maxPixels: config.maxPixels })
  // Rechecks of noticed videos hash what their URL serves now with ffmpeg.
  const { VideoHasher } = await import('@arachnid/video')
  const videoHasher = new VideoHasher({
    maxBytes: config.maxVideoBytes, maxPixels: config.maxPixels, maxWallMs: config.videoTimeoutMs,
    maxFrames: config.maxVideoFrames, maxDurationSeconds: config.maxVideoSeconds,
  })
  const service = await NotifierService.create(await notifierOptionsFromConfig(config, {
    db: app.database.db, transport: await app.transport(), hasher, videoHasher, logger: app.logger, allowAddresses: allow,
  }))
  return {
    service,
    async close() {
      service.close()
      await hasher.close()
      await videoHasher.close()
    },
  }
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

export function registerNotices(program: Command): void {
  const notices = program.command('notices').description('removal notices: what was sent, to whom, and what became of it')
  notices.command('list')
    .description('notices with provider, delivery state, reminders and removal, newest first')
    .option('--open', 'only open notices')
    .option('--json', 'one JSON object per line')
    .action(async (options: { open?: boolean; json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const rows = await listNotices(app.database.db, { open: options.open })
        if (rows.length === 0 && !options.json) {
          process.stdout.write(options.open ? 'no open notices\n' : 'no notices yet (a crawl\'s matches and analysts\' confirmations create them)\n')
          return
        }
        for (const n of rows) {
          if (options.json) printJson(n)
          else {
            const extra = [n.reminders ? `${n.reminders} reminders` : '', n.escalations ? `${n.escalations} escalations` : '', n.ack ? `ack ${n.ack}` : '', n.reupload ? 're-upload' : ''].filter(Boolean).join(', ')
            process.stdout.write(`${n.reference}  ${n.status.padEnd(7)} ${(n.delivery ?? 'unassigned').padEnd(10)} ${n.provider ?? '-'} <${n.to ?? '-'}>  ${n.mediaUrl}${extra ? `  (${extra})` : ''}\n`)
          }
        }
        if (!options.json) process.stdout.write(`${rows.length} notices\n`)
      })
    })
  notices.command('show')
    .description('one notice: its state, every email and its full history')
    .argument('<reference>', 'reference ID, e.g. ARN-ABCDE-FGHJK')
    .option('--json', 'JSON output')
    .action(async (reference: string, options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const history = await noticeHistory(app.database.db, reference.trim().toUpperCase())
        if (!history) throw new NonRetryableError('NOT_FOUND', `no notice ${reference}`)
        if (options.json) return printJson(history)
        const n = history.notice
        const out = process.stdout
        out.write(`${n.reference}  ${n.status}${n.removedAt ? ` (removed ${n.removedAt.toISOString()})` : ''}\n`)
        out.write(`  media URL  ${n.mediaUrl}\n  provider   ${n.provider ?? '(unassigned)'} <${n.abuseEmail ?? '-'}>\n  detected   ${n.detectedAt.toISOString()}\n`)
        out.write(`  checks     ${n.checks}${n.lastCheck ? ` (last: ${n.lastCheck})` : ''}${n.nextCheckAt ? `, next ${n.nextCheckAt.toISOString()}` : ''}\n`)
        out.write(`  reminders  ${n.reminders}, escalations ${n.escalations}${n.ack ? `, provider says: ${n.ack}` : ''}${n.reuploadOf ? `, re-upload of ${n.reuploadOf}` : ''}\n`)
        out.write('emails:\n')
        for (const e of history.emails) out.write(`  ${e.kind.padEnd(10)} ${e.status.padEnd(10)} to ${e.to}  ${e.sentAt?.toISOString() ?? '-'}  ${e.messageId}${e.inDoubt ? '  (in doubt)' : ''}${e.lastError ? `  last error: ${e.lastError}` : ''}\n`)
        out.write('history:\n')
        for (const e of history.events) out.write(`  ${e.at.toISOString()}  ${e.kind.padEnd(10)} ${JSON.stringify(e.detail)}\n`)
      })
    })

  const providers = program.command('providers').description('the local provider directory (CIDR or domain -> provider and abuse address) and the unassigned list')
  providers.command('set')
    .description('map a CIDR or a domain to a provider and its abuse address (overrides RDAP)')
    .argument('<pattern>', 'CIDR (203.0.113.0/24) or domain (example.net, covers subdomains)')
    .requiredOption('--name <name>', 'provider name', text('--name'))
    .requiredOption('--email <address>', 'abuse address')
    .action(async (pattern: string, options: { name: string; email: string }) => {
      // Checked before the database is opened: a typo costs nothing and changes nothing.
      const checked = parseProviderRule({ pattern, name: options.name, abuseEmail: options.email })
      await withApp(loadConfig(), async (app) => {
        const rule = await setProviderRule(app.database.db, checked)
        process.stdout.write(`${rule.kind} ${rule.pattern} -> ${checked.name} <${checked.abuseEmail}>\n`)
      })
    })
  providers.command('list')
    .description('directory rules, providers found through RDAP, and hosts still unassigned')
    .option('--json', 'JSON output')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const db = app.database.db
        const rules = await db.selectFrom('provider_rules as r').innerJoin('providers as p', 'p.id', 'r.provider_id')
          .select(['r.kind', 'r.pattern', 'p.name', 'p.abuse_email']).orderBy('p.name').execute()
        const rdap = await db.selectFrom('providers').select(['name', 'abuse_email', 'rdap_handle']).where('source', '=', 'rdap').orderBy('name').execute()
        const unassigned = await listUnassigned(db)
        if (options.json) return printJson({ rules, rdap, unassigned })
        if (rules.length + rdap.length + unassigned.length === 0) {
          process.stdout.write('no providers: no directory rules, none found through RDAP yet, no unassigned hosts (add a rule with "providers set PATTERN --name N --email E")\n')
          return
        }
        for (const r of rules) process.stdout.write(`${r.kind.padEnd(6)} ${r.pattern.padEnd(30)} ${r.name} <${r.abuse_email}>\n`)
        for (const r of rdap) process.stdout.write(`rdap   ${(r.rdap_handle ?? '').padEnd(30)} ${r.name} <${r.abuse_email}>\n`)
        if (unassigned.length > 0) process.stdout.write(`unassigned (fix with "providers set", or wait for the retry):\n`)
        for (const u of unassigned) process.stdout.write(`  ${u.host.padEnd(30)} ${u.notices} notices, ${u.attempts} attempts, next ${u.nextAttemptAt.toISOString()}: ${u.lastError ?? ''}\n`)
      })
    })

  const notify = program.command('notify').description('notice delivery, rechecks, reminders and escalation')
  notify.command('run')
    .description('one pass: retry unassigned hosts, recheck due notices (reminders, escalations, removals), deliver every email that is due')
    .option('--allow <cidr>', 'address or CIDR rechecks may contact although private (repeatable)', addressRange('--allow'), [])
    .option('--json', 'JSON output')
    .action(async (options: { allow: string[]; json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const notifier = await openNotifier(app, options.allow)
        try {
          const result = await notifier.service.runOnce()
          if (options.json) return printJson(result)
          const { assign, recheck, delivery } = result
          process.stdout.write(`${delivery.sent} sent, ${delivery.retrying} to retry, ${delivery.failed} failed, ${delivery.deferred ?? 0} deferred by the rate limit (${(await app.transport()).name}); `
            + `${recheck.checked} rechecked: ${recheck.present} still there, ${recheck.gone} gone, ${recheck.inconclusive} inconclusive, ${recheck.removed} removals recorded, `
            + `${recheck.reminders} reminders, ${recheck.escalations} escalations; ${assign.assigned} notices assigned, ${assign.unassigned} hosts still unassigned\n`)
        } finally {
          await notifier.close()
        }
      })
    })
  notify.command('worker')
    .description('the long-running notifier: delivery and recheck passes scheduled through pg-boss on the same database (run any number; they share the work); also pulls the lists followed from peers every ARACHNID_PULL_INTERVAL seconds and retro-hunts what they add (0 or --no-pull: not)')
    .option('--allow <cidr>', 'address or CIDR rechecks may contact although private (repeatable)', addressRange('--allow'), [])
    .option('--poll <seconds>', `how often idle workers ask for a job, in seconds (${POLL_SECONDS.min} to ${POLL_SECONDS.max})`, decimal('--poll', POLL_SECONDS.min, POLL_SECONDS.max), 2)
    .option('--no-pull', 'this worker does not pull the subscribed lists (others may; ARACHNID_PULL_INTERVAL=0 stops scheduled pulls everywhere)')
    .action(async (options: { allow: string[]; poll: number; pull: boolean }) => {
      const config: Config = loadConfig()
      await withApp(config, async (app) => {
        const notifier = await openNotifier(app, options.allow)
        const boss = createBoss({ pglite: app.database.pglite, url: config.databaseUrl })
        const scheduler = new NotifyScheduler(boss, notifier.service, { intervalSeconds: config.deliveryIntervalSeconds, pollingIntervalSeconds: options.poll, logger: app.logger })
        // Scheduled list pulls share the boss (the notifier's scheduler starts and stops it).
        const pulls = options.pull && config.pullIntervalSeconds > 0
          ? new ListPullScheduler(boss, app, { intervalSeconds: config.pullIntervalSeconds, pollingIntervalSeconds: options.poll, allow: options.allow, logger: app.logger })
          : undefined
        const stopped = new Promise<void>((resolve) => {
          for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve())
        })
        try {
          await scheduler.start()
          await pulls?.start()
          process.stderr.write(`notify worker ${process.pid} started (${app.database.dialect}, ${(await app.transport()).name}, every ${config.deliveryIntervalSeconds} s; `
            + `${pulls ? `list pulls every ${config.pullIntervalSeconds} s` : `no list pulls (${options.pull ? 'ARACHNID_PULL_INTERVAL=0' : '--no-pull'})`})\n`)
          await stopped
        } finally {
          await pulls?.stop()
          await scheduler.stop()
          await notifier.close()
        }
      })
    })
  notify.command('release')
    .description('send again the emails of a notice that were held in doubt (ARACHNID_IN_DOUBT=hold) after a crash')
    .argument('<reference>', 'reference ID')
    .action(async (reference: string) => {
      await withApp(loadConfig(), async (app) => {
        const ref = reference.trim().toUpperCase()
        // An unknown reference is an error (NOT_FOUND, exit 2), not "nothing to release".
        const count = await releaseHeld(app.database.db, ref)
        process.stdout.write(count > 0 ? `${count} held emails released\n` : `0 held emails released: none of ${ref}'s emails is held\n`)
      })
    })
}
