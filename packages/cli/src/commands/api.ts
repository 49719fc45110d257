import type { Command } from 'commander'
import { API_SCOPES, type ApiScope, type Config, ConfigError, type Database, type Kysely, type Logger, loadConfig } from '@arachnid/core'
import type { ApiServerOptions } from '@arachnid/api'
import type { Matcher } from '@arachnid/matcher'
import { AddressGuard } from '@arachnid/net'
import { withApp } from '../app.js'
import { integer, port, text } from '../parse-options.js'

/** The matching service's options from the configuration (what `api` and `serve --api` run). */
export function apiServerOptions(config: Config, db: Kysely<Database>, matcher: Matcher, logger?: Logger): ApiServerOptions {
  return {
    db, matcher, logger,
    maxBatch: config.apiMaxBatch, defaultRate: config.apiRate, defaultQuota: config.apiDailyQuota,
    maxMediaBytes: config.maxMediaBytes, maxVideoBytes: config.maxVideoBytes, videoTimeoutMs: config.videoTimeoutMs, maxVideoSeconds: config.maxVideoSeconds, maxPixels: config.maxPixels,
    fetchTimeoutMs: config.requestTimeoutMs, maxRedirects: config.maxRedirects,
    guard: new AddressGuard({ allowPrivate: config.allowPrivate }),
  }
}

/** A repeatable option whose every value must be one of `allowed`. */
function collect<T extends string>(flag: string, allowed: readonly T[]): (value: string, previous?: T[]) => T[] {
  return (value, previous = []) => {
    if (!(allowed as readonly string[]).includes(value)) throw new ConfigError(`${flag} ${JSON.stringify(value.slice(0, 40))}: expected ${allowed.join(' or ')}`)
    return [...previous, value as T]
  }
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilStopped(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve(signal))
  })
}

export function registerApi(program: Command): void {
  const api = program.command('api')
    .description('the matching service: Arachnid Shield v1 endpoints (/v1/media/, /v1/url/, /v1/pdq/), the batch endpoint (/api/v1/match), /healthz, /metrics and /openapi.json, on the same database; and its users')
    .option('--port <n>', 'port, 0 to 65535 (0: any free port; default ARACHNID_API_PORT)', port('--port'))
    .option('--host <address>', 'address to listen on (default ARACHNID_API_HOST)', text('--host'))
    .action(async (options: { port?: number; host?: string }) => {
      const config = loadConfig({ apiPort: options.port, apiHost: options.host })
      const { ApiServer } = await import('@arachnid/api')
      await withApp(config, async (app) => {
        const server = await ApiServer.start(apiServerOptions(config, app.database.db, app.localMatcher(), app.logger), { port: config.apiPort, host: config.apiHost })
        process.stderr.write(`matching service: http://${config.apiHost}:${server.port}/ (Ctrl-C to stop; /healthz answers 200 once the index is loaded)\n`)
        void server.loaded.then(() => process.stderr.write(`matching service: index loaded, answering\n`))
        await untilStopped()
        await server.close()
      })
    })

  const users = api.command('users').description('API users: add (prints the password once), list, disable')
  users.command('add')
    .description('add an API user; its password is generated and printed once (stored hashed)')
    .argument('<name>', 'user name (letters, digits, . _ @ -)')
    .option('--rate <n>', 'requests per second (default ARACHNID_API_RATE)', integer('--rate', 1, 1_000_000))
    .option('--quota <n>', 'hashes and media per UTC day (default ARACHNID_API_DAILY_QUOTA)', integer('--quota', 1, 1_000_000_000_000))
    .option('--scope <scope...>', `what it may do besides matching: export (read lists' changes, for another deployment's lists subscribe); one of ${API_SCOPES.join(', ')}`, collect('--scope', API_SCOPES))
    .option('--json', 'print {"user", "password"} as one JSON line')
    .action(async (name: string, options: { rate?: number; quota?: number; scope?: ApiScope[]; json?: boolean }) => {
      const { addApiUser } = await import('@arachnid/api')
      await withApp(loadConfig(), async (app) => {
        const added = await addApiUser(app.database.db, { name, rate: options.rate, quota: options.quota, scopes: options.scope })
        if (options.json) process.stdout.write(`${JSON.stringify(added)}\n`)
        else process.stdout.write(`added ${added.user}; password (shown only now): ${added.password}\n`)
      })
    })
  users.command('list')
    .description('API users: rate, daily quota, used today (UTC), disabled, created')
    .option('--json', 'one JSON object per line')
    .action(async (options: { json?: boolean }) => {
      const { listApiUsers } = await import('@arachnid/api')
      await withApp(loadConfig(), async (app) => {
        const config = app.config
        const all = await listApiUsers(app.database.db)
        if (options.json) for (const u of all) process.stdout.write(`${JSON.stringify(u)}\n`)
        else if (all.length === 0) process.stdout.write('no API users\n')
        else {
          for (const u of all) {
            process.stdout.write(`${u.name}: ${u.rate ?? `${config.apiRate} (default)`} req/s, quota ${u.quota ?? `${config.apiDailyQuota} (default)`}/day, ${u.usedToday} used today${u.scopes ? `, scopes ${u.scopes.join(' ')}` : ''}${u.disabled ? ', disabled' : ''}, created ${u.createdAt.toISOString()}\n`)
          }
        }
      })
    })
  users.command('disable')
    .description('disable an API user: its calls are refused (401) within a second')
    .argument('<name>', 'user name')
    .action(async (name: string) => {
      const { disableApiUser } = await import('@arachnid/api')
      await withApp(loadConfig(), async (app) => {
        const result = await disableApiUser(app.database.db, name)
        process.stdout.write(result.alreadyDisabled ? `${name} was disabled already\n` : `disabled ${name}\n`)
      })
    })
}
