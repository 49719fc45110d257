import type { Command } from 'commander'
import { type Config, type Database, type Kysely, type Logger, loadConfig } from '@arachnid/core'
import { AddressGuard } from '@arachnid/net'
import { AckLinks, loadNoticeTemplates } from '@arachnid/notifier'
import { ReviewServer, type ReviewServerOptions } from '@arachnid/review'
import type { RetroHuntScope } from '@arachnid/matcher'
import { withApp } from '../app.js'
import { runRetroHunt } from '../retro-hunt.js'
import { addressRange, port, text } from '../parse-options.js'
import { apiServerOptions, untilStopped } from './api.js'

/** The review server's options from the configuration (what `serve` runs, and what tests start in-process). */
export async function reviewServerOptions(config: Config, db: Kysely<Database>, extra: { readonly allow?: readonly string[]; readonly logger?: Logger } = {}): Promise<ReviewServerOptions> {
  const ack = config.ackSecret && config.ackBaseUrl ? new AckLinks({ secret: config.ackSecret, baseUrl: config.ackBaseUrl, ttlHours: config.ackTtlHours }) : undefined
  const allow = [...config.previewAllow.split(',').map((s) => s.trim()).filter(Boolean), ...(extra.allow ?? [])]
  return {
    db, logger: extra.logger, ack,
    reporter: { name: config.reporterName, from: config.noticeFrom },
    sessionHours: config.sessionHours, cookieSecure: config.cookieSecure, metricsToken: config.metricsToken,
    noticeOptions: {
      ack, recheckIntervalSeconds: config.recheckIntervalSeconds,
      templates: config.noticeTemplateDir ? await loadNoticeTemplates(config.noticeTemplateDir) : undefined,
    },
    previewGuard: new AddressGuard({ allowPrivate: config.allowPrivate, allow }),
    previewLimits: { maxBytes: config.maxMediaBytes, maxVideoBytes: config.maxVideoBytes, videoTimeoutMs: config.videoTimeoutMs, maxPixels: config.maxPixels, timeoutMs: config.requestTimeoutMs, maxRedirects: config.maxRedirects },
  }
}

export function registerServe(program: Command): void {
  program.command('serve')
    .description('the analysts\' review page and JSON API (its OpenAPI document at /openapi.json), the provider acknowledgement page (/ack/...), /healthz and Prometheus /metrics, on the same database')
    .option('--port <n>', 'port, 0 to 65535 (0: any free port; default ARACHNID_SERVE_PORT)', port('--port'))
    .option('--host <address>', 'address to listen on (default ARACHNID_SERVE_HOST)', text('--host'))
    .option('--allow <cidr>', 'address or CIDR a live preview may fetch from although private (repeatable)', addressRange('--allow'), [])
    .option('--api', 'also run the matching service (as `arachnid api`) in this process, on ARACHNID_API_PORT / ARACHNID_API_HOST: the way to have both on the embedded database, which one process holds')
    .option('--api-port <n>', 'the matching service\'s port with --api (default ARACHNID_API_PORT; 0: any free port)', port('--api-port'))
    .action(async (options: { port?: number; host?: string; allow: string[]; api?: boolean; apiPort?: number }) => {
      const config = loadConfig({ servePort: options.port, serveHost: options.host, apiPort: options.apiPort })
      await withApp(config, async (app) => {
        // A classified suspect's new list entries are looked for among the media seen, as after an
        // import (live rechecks before notices, delivered at once), in this process, after the answer.
        const retroHunt = async (scope: RetroHuntScope, signal: AbortSignal) => {
          const result = await runRetroHunt(app, scope, { allow: options.allow, signal })
          // One line per hunt, as `lists import` prints its own: what an operator watching the server wants to see.
          process.stderr.write(`retro-hunt of a classification finished: ${result.entries} new entries of list ${scope.listId} looked for among ${result.mediaScanned} media: `
            + `${result.matchedMedia} media matched, ${result.newMatches} new matches, ${result.notices} notices, ${result.gone} URLs already gone\n`)
        }
        const server = await ReviewServer.start({ ...await reviewServerOptions(config, app.database.db, { allow: options.allow, logger: app.logger }), retroHunt }, { port: config.servePort, host: config.serveHost })
        try {
          const { ApiServer } = options.api ? await import('@arachnid/api') : { ApiServer: undefined }
          // Its own Fastify app on its own port: Shield's clients expect {"detail"} errors and Basic auth, not the review's sessions.
          const api = ApiServer && await ApiServer.start(apiServerOptions(config, app.database.db, app.localMatcher(), app.logger), { port: config.apiPort, host: config.apiHost })
          try {
            process.stderr.write(`review server: http://${config.serveHost}:${server.port}/ (Ctrl-C to stop; emails of confirmed notices are sent by "notify run" or "notify worker")\n`)
            if (api) process.stderr.write(`matching service: http://${config.apiHost}:${api.port}/ (/healthz answers 200 once the index is loaded)\n`)
            await untilStopped()
          } finally {
            await api?.close()
          }
        } finally {
          await server.close()
        }
      })
    })
}
