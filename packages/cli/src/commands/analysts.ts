import os from 'node:os'
import readline from 'node:readline'
import type { Command } from 'commander'
import { ANALYST_ROLES, type AnalystRole, ConfigError, LIST_REVIEW_MODES, type ListReviewMode, NonRetryableError, SUSPECT_MODES, type SuspectMode, loadConfig } from '@arachnid/core'
import { loadReviewPolicy, loadSuspectPolicy } from '@arachnid/matcher'
import { MAX_PRIORITY, addAnalyst, disableAnalyst, listAnalysts, listReviewModes, listSuspects, parsePolicyChange, parseSuspectPolicyChange, setListReview, setListSuspects, suspectCounts, updateReviewPolicy, updateSuspectPolicy } from '@arachnid/review'
import { withApp } from '../app.js'
import { choice, integer, text, threshold, warnLargeThreshold } from '../parse-options.js'

const ON_OFF = ['on', 'off'] as const

const cliActor = () => ({ id: null, name: `cli:${os.userInfo().username}` })

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
}

/** Asks on the terminal without echoing what is typed. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true })
    const output = rl as unknown as { _writeToOutput: (s: string) => void }
    rl.question(question, (answer) => {
      rl.close()
      process.stderr.write('\n')
      resolve(answer)
    })
    output._writeToOutput = () => {}
  })
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) return readStdin()
  const first = await prompt('password: ')
  const second = await prompt('again: ')
  if (first !== second) throw new NonRetryableError('PASSWORD_MISMATCH', 'the two passwords differ')
  return first
}

export function registerAnalysts(program: Command): void {
  const analysts = program.command('analysts').description('review accounts, and the review policy (what notifies at once and what waits for an analyst)')
  analysts.command('add')
    .description('create an account, or set a new password and role (ends its sessions); the password is read from stdin, or asked for on a terminal')
    .argument('<name>', 'account name')
    .requiredOption('--role <role>', `one of ${ANALYST_ROLES.join(', ')}`, choice('--role', ANALYST_ROLES))
    .action(async (name: string, options: { role: AnalystRole }) => {
      const password = await readPassword()
      await withApp(loadConfig(), async (app) => {
        const added = await addAnalyst(app.database.db, { name, role: options.role, password }, cliActor())
        process.stdout.write(`${added.created ? 'created' : 'updated'} ${added.name} (${added.role})\n`)
      })
    })
  analysts.command('list')
    .description('accounts and their roles')
    .option('--json', 'one JSON object per line')
    .action(async (options: { json?: boolean }) => {
      await withApp(loadConfig(), async (app) => {
        const accounts = await listAnalysts(app.database.db)
        if (accounts.length === 0 && !options.json) {
          process.stdout.write(`no accounts yet (create one with "analysts add NAME --role ${ANALYST_ROLES.join('|')}")\n`)
          return
        }
        for (const a of accounts) {
          process.stdout.write(options.json ? `${JSON.stringify(a)}\n` : `${a.name.padEnd(24)} ${a.role.padEnd(10)} ${a.disabled ? 'disabled' : 'active'}\n`)
        }
      })
    })
  analysts.command('disable')
    .description('disable an account and end its sessions (accounts stay, since the audit log names them)')
    .argument('<name>', 'account name')
    .action(async (name: string) => {
      await withApp(loadConfig(), async (app) => {
        if (!await disableAnalyst(app.database.db, name, cliActor())) throw new NonRetryableError('NOT_FOUND', `no account ${name}`)
        process.stdout.write(`disabled ${name}\n`)
      })
    })
  analysts.command('policy')
    .description('show or change the review policy, and mark lists verified or review-required (changes are audited)')
    .option('--auto-exact <on|off>', 'exact matches on verified lists notify at once', choice('--auto-exact', ON_OFF))
    .option('--auto-pdq <n>', 'PDQ matches at most this distance (0 to 256) on verified lists notify at once', threshold('--auto-pdq'))
    .option('--auto-blockhash <n>', 'blockhash matches at most this distance (0 to 256) on verified lists notify at once', threshold('--auto-blockhash'))
    .option('--min-quality <n>', 'perceptual matches on hashes of lower PDQ quality (0 to 100) always wait', integer('--min-quality', 0, 100))
    .option('--two-analysts <on|off>', 'near matches need two analysts to confirm', choice('--two-analysts', ON_OFF))
    .option('--list <name>', 'a list to mark (with --mode and/or --priority)', text('--list'))
    .option('--mode <mode>', `${LIST_REVIEW_MODES.join(' or ')}`, choice('--mode', LIST_REVIEW_MODES))
    .option('--priority <n>', `queue priority of the list's matches (higher first, after distance; ${-MAX_PRIORITY} to ${MAX_PRIORITY})`, integer('--priority', -MAX_PRIORITY, MAX_PRIORITY))
    .option('--reason <text>', 'why (recorded in the audit log)')
    .option('--json', 'JSON output')
    .action(async (options: { autoExact?: string; autoPdq?: number; autoBlockhash?: number; minQuality?: number; twoAnalysts?: string; list?: string; mode?: ListReviewMode; priority?: number; reason?: string; json?: boolean }) => {
      if ((options.mode !== undefined || options.priority !== undefined) && options.list === undefined) throw new ConfigError('--mode and --priority need --list NAME')
      warnLargeThreshold('--auto-pdq', options.autoPdq)
      warnLargeThreshold('--auto-blockhash', options.autoBlockhash)
      await withApp(loadConfig(), async (app) => {
        const db = app.database.db
        const change = parsePolicyChange({
          autoExact: options.autoExact, autoPdqDistance: options.autoPdq, autoBlockhashDistance: options.autoBlockhash,
          minQuality: options.minQuality, twoAnalystsNear: options.twoAnalysts,
        })
        if (Object.keys(change).length > 0) await updateReviewPolicy(db, change, cliActor(), options.reason)
        if (options.list) await setListReview(db, { name: options.list }, { mode: options.mode, priority: options.priority }, cliActor(), options.reason)
        const policy = await loadReviewPolicy(db)
        const lists = await listReviewModes(db)
        if (options.json) return void process.stdout.write(`${JSON.stringify({ policy, lists })}\n`)
        process.stdout.write(`exact matches notify at once: ${policy.autoExact ? 'yes' : 'no'}; PDQ <= ${policy.autoPdqDistance} and blockhash <= ${policy.autoBlockhashDistance} notify at once; `
          + `quality < ${policy.minQuality} waits; two analysts for near matches: ${policy.twoAnalystsNear ? 'yes' : 'no'}\n`)
        for (const l of lists) process.stdout.write(`  ${l.name.padEnd(28)} ${l.mode.padEnd(16)} priority ${l.priority}\n`)
      })
    })
  analysts.command('suspects')
    .description('show or change the suspect policy (media seen beside confirmed matches that match nothing, queued for analysts to classify on the review page\'s Suspects tab), mark lists for the per-list mode, and count what waits (changes are audited)')
    .option('--mode <mode>', `${SUSPECT_MODES.join(', ')}: queue no suspects, beside any confirmed match, or beside confirmed matches of lists marked with --list NAME --on`, choice('--mode', SUSPECT_MODES))
    .option('--per-page <n>', 'suspects queued at most per page (0 to 10000)', integer('--per-page', 0, 10_000))
    .option('--per-job <n>', 'suspects queued at most per crawl job (0 to 10000000)', integer('--per-job', 0, 10_000_000))
    .option('--two-analysts <on|off>', 'a classification takes effect when two analysts agree', choice('--two-analysts', ON_OFF))
    .option('--break-after <n>', 'previews a review session is shown before it is prompted to take a break (0: never; 0 to 100000)', integer('--break-after', 0, 100_000))
    .option('--list <name>', 'a list to mark for the per-list mode (with --on or --off)', text('--list'))
    .option('--on', 'with --list: its confirmed matches queue suspects')
    .option('--off', 'with --list: they do not')
    .option('--reason <text>', 'why (recorded in the audit log)')
    .option('--json', 'JSON output')
    .action(async (options: { mode?: SuspectMode; perPage?: number; perJob?: number; twoAnalysts?: string; breakAfter?: number; list?: string; on?: boolean; off?: boolean; reason?: string; json?: boolean }) => {
      if ((options.on || options.off) && options.list === undefined) throw new ConfigError('--on and --off need --list NAME')
      if (options.list !== undefined && options.on === options.off) throw new ConfigError('--list NAME needs --on or --off')
      await withApp(loadConfig(), async (app) => {
        const db = app.database.db
        const change = parseSuspectPolicyChange({ mode: options.mode, perPage: options.perPage, perJob: options.perJob, twoAnalysts: options.twoAnalysts, previewsBeforeBreak: options.breakAfter })
        if (Object.keys(change).length > 0) await updateSuspectPolicy(db, change, cliActor(), options.reason)
        if (options.list !== undefined) await setListSuspects(db, { name: options.list }, options.on === true, cliActor(), options.reason)
        const policy = await loadSuspectPolicy(db)
        const lists = (await db.selectFrom('hash_lists').where('suspects', '=', true).select('name').orderBy('name').execute()).map((l) => l.name)
        const counts = await suspectCounts(db)
        const oldest = (await listSuspects(db, { limit: 1 }))[0]
        if (options.json) return void process.stdout.write(`${JSON.stringify({ policy, lists, suspects: counts, oldestPending: oldest?.queuedAt ?? null })}\n`)
        process.stdout.write(`suspects: ${policy.mode}${policy.mode === 'per-list' ? ` (lists: ${lists.join(', ') || 'none marked'})` : ''}; at most ${policy.perPage} per page and ${policy.perJob} per job; `
          + `two analysts: ${policy.twoAnalysts ? 'yes' : 'no'}; break prompted after ${policy.previewsBeforeBreak || 'no number of'} previews\n`)
        process.stdout.write(`  pending ${counts.pending}, csam ${counts.csam}, harmful-abusive-material ${counts['harmful-abusive-material']}, not ${counts.not}${oldest ? `; oldest waiting since ${oldest.queuedAt.toISOString()}` : ''}\n`)
      })
    })
}
