import { Hasher } from '@arachnid/hasher'
import { type RetroHuntProgress, type RetroHuntResult, type RetroHuntScope, queueSuspects, retroHunt } from '@arachnid/matcher'
import { AckLinks, DnsHostResolver, MatchIntake, ProviderDirectory, Rechecker, loadNoticeTemplates, parseDnsServers } from '@arachnid/notifier'
import type { App } from './app.js'

export interface RetroHuntRun extends RetroHuntResult {
  /** Emails of the hunt's notices delivered (SMTP or .eml). */
  readonly delivered: number
}

/**
 * A retro-hunt as the CLI runs it: the list's new entries against every media seen, what matches
 * recorded through the review policy (the notifier's intake), and each URL not noticed yet checked
 * live before its notice (bounded fetch and hashes, as notice rechecks do): gone content gets no
 * notice and is recorded as gone. The hunt's notices are delivered before it returns.
 */
export async function runRetroHunt(
  app: App, scope: RetroHuntScope,
  io: { readonly allow?: readonly string[]; readonly signal?: AbortSignal; readonly onProgress?: (p: RetroHuntProgress) => void } = {},
): Promise<RetroHuntRun> {
  const { config, database, logger } = app
  const hasher = new Hasher({ maxBytes: config.maxMediaBytes, maxPixels: config.maxPixels })
  const { VideoHasher } = await import('@arachnid/video')
  const videoHasher = new VideoHasher({
    maxBytes: config.maxVideoBytes, maxPixels: config.maxPixels, maxWallMs: config.videoTimeoutMs,
    maxFrames: config.maxVideoFrames, maxDurationSeconds: config.maxVideoSeconds,
  })
  const templates = config.noticeTemplateDir ? await loadNoticeTemplates(config.noticeTemplateDir) : undefined
  const ack = config.ackSecret && config.ackBaseUrl ? new AckLinks({ secret: config.ackSecret, baseUrl: config.ackBaseUrl, ttlHours: config.ackTtlHours }) : undefined
  const reporter = { name: config.reporterName, from: config.noticeFrom }
  const intake = new MatchIntake(database.db, {
    reporter, lookup: await ProviderDirectory.load(database.db),
    notices: { ack, templates, recheckIntervalSeconds: config.recheckIntervalSeconds, retryBaseSeconds: Math.max(1, config.deliveryIntervalSeconds) },
  })
  const rechecker = new Rechecker({
    db: database.db, hosts: new DnsHostResolver({ servers: parseDnsServers(config.dnsServers) }), hasher, videoHasher, mail: { reporter, ack, templates },
  }, {
    maxBytes: config.maxMediaBytes, maxVideoBytes: config.maxVideoBytes, timeoutMs: config.requestTimeoutMs, maxRedirects: config.maxRedirects,
    allowPrivate: config.allowPrivate, allowAddresses: io.allow ?? [],
    blockhashThreshold: config.blockhashThreshold, pdqThreshold: config.pdqThreshold, pdqMinQuality: config.pdqMinQuality, logger,
  })
  try {
    const result = await retroHunt(database.db, scope, async (findings, huntId) => {
      const outcome = await intake.intakeStored(findings.map((f) => ({ mediaId: f.mediaId, jobId: null, matches: f.matches })), {
        huntId, recheck: (url, mediaId) => rechecker.check(url, mediaId),
      })
      // Media now confirmed anchor their pages: what was seen beside them and matches nothing becomes a suspect.
      await queueSuspects(database.db, outcome.notifiable)
      return { newMatches: outcome.recorded.length, notices: outcome.notices.created, gone: outcome.gone }
    }, {
      blockhashThreshold: config.blockhashThreshold, pdqThreshold: config.pdqThreshold, pdqMinQuality: config.pdqMinQuality,
      videoMatchShare: config.videoMatchShare, signal: io.signal, onProgress: io.onProgress,
    })
    let delivered = 0
    if (result.notices > 0) delivered = (await (await app.delivery()).deliverDue()).sent
    return { ...result, delivered }
  } finally {
    rechecker.close()
    await hasher.close()
    await videoHasher.close()
  }
}
