import { PassThrough } from 'node:stream'
import type { Logger } from '@arachnid/core'
import { DEFAULT_WEB_APP_OPTIONS, HttpError, type Problem, createWebApp, metricsRoute } from '@arachnid/web'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { chargeQuota, secondsToUtcMidnight } from './access.js'
import { type ApiContext, emptyTally } from './api-context.js'
import { batchRoutes } from './routes/batch-routes.js'
import { healthRoutes } from './routes/health-routes.js'
import { listRoutes } from './routes/list-routes.js'
import { shieldRoutes } from './routes/shield-routes.js'

/** A body must keep coming at this rate at least (on top of the base time), or it is a 408. */
const MIN_BODY_BYTES_PER_SECOND = 64 * 1024

/** The largest body /v1/media/ reads for a Content-Type: an image's bound, a video's, or the larger for an unnamed type. */
export function mediaBodyLimit(contentType: string | undefined, limits: { readonly maxMediaBytes: number; readonly maxVideoBytes: number }): number {
  const type = (contentType ?? '').toLowerCase()
  if (type.startsWith('image/')) return limits.maxMediaBytes
  if (type.startsWith('video/')) return limits.maxVideoBytes
  return Math.max(limits.maxMediaBytes, limits.maxVideoBytes)
}

/**
 * What a refusal says in `detail`: Shield's clients print it, so the words are for a person
 * calling the API (the framework's own words are about forms and JSON in general).
 */
export function detailOf(problem: Problem, request: FastifyRequest, limits?: { readonly maxMediaBytes: number; readonly maxVideoBytes: number }): string {
  switch (problem.code) {
    case 'TOO_LARGE': {
      // /v1/media/ bounds each media type on its own: an image's bytes, a video's, and either for octet-stream.
      const limit = request.routeOptions.config.endpoint === 'v1/media' && limits ? mediaBodyLimit(request.headers['content-type'], limits) : request.routeOptions.bodyLimit
      return `request body too large: at most ${limit ?? 'the limit'} bytes on ${request.routeOptions.url ?? 'this endpoint'}`
    }
    case 'UNSUPPORTED_MEDIA_TYPE': return request.routeOptions.config.endpoint === 'v1/media'
      ? `unsupported Content-Type ${JSON.stringify(String(request.headers['content-type'] ?? '(none)').slice(0, 100))}: send the media's own type (image/jpeg, image/png...) or application/octet-stream`
      : `unsupported Content-Type ${JSON.stringify(String(request.headers['content-type'] ?? '(none)').slice(0, 100))}: send application/json`
    case 'BAD_JSON': return 'the body is not a JSON object'
    default: return problem.message
  }
}

/**
 * The matching service's routes as one Fastify plugin: Shield's v1 endpoints, the batch endpoint,
 * /healthz and /metrics, behind one access hook (the index is loaded, then HTTP Basic, then the
 * user's rate) and with every call counted, timed and audited.
 */
export const apiPlugin: FastifyPluginAsync<ApiContext> = async (app, context) => {
  // Before anything of the body is read: a loading index, a stranger and a caller over its rate cost nothing more.
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config
    if (!config.matching) return
    request.tally = emptyTally()
    if (!context.ready()) {
      reply.header('retry-after', '1')
      throw new HttpError(503, 'LOADING', 'the index is still loading; try again in a moment')
    }
    // An address that failed too often lately is refused before its credentials cost a scrypt.
    const address = `ip:${request.ip}`
    const held = context.buckets.wait(address, context.authFailureRate)
    if (held > 0) {
      reply.header('retry-after', String(held))
      throw new HttpError(429, 'RATE_LIMITED', `too many failed authentications from this address; try again in ${held} s`)
    }
    const caller = await context.users.authenticate(request.headers.authorization)
    if (caller === undefined) {
      context.buckets.take(address, context.authFailureRate)
      reply.header('www-authenticate', 'Basic realm="arachnid"')
      throw new HttpError(401, 'UNAUTHORIZED', 'authentication failed: send the name and password of an enabled API user (HTTP Basic)')
    }
    request.caller = caller
    const wait = context.buckets.take(caller.id, caller.rate)
    if (wait > 0) {
      reply.header('retry-after', String(wait))
      throw new HttpError(429, 'RATE_LIMITED', `more than ${caller.rate} requests per second; try again in ${wait} s`)
    }
    // Admission: a bounded number of calls at work; the next is told at once to come back, so no
    // caller waits behind a queue it cannot see (500 connections at once timed out before).
    if (context.inFlight.count >= context.maxInFlight) {
      context.metrics.busy.inc()
      reply.header('retry-after', '1')
      throw new HttpError(429, 'BUSY', `the service is at its limit of ${context.maxInFlight} calls at once; try again in 1 s`)
    }
    context.inFlight.count++
    // Released however the exchange ends: answered, refused later, or the client gone.
    reply.raw.once('close', () => { context.inFlight.count-- })
  })
  // A body that trickles in (one byte a second) would hold a connection for as long as the client
  // likes: it must arrive within the base time plus what its size needs at a modest rate.
  app.addHook('preParsing', async (request, reply, payload) => {
    if (!request.routeOptions.config.matching) return payload
    const declared = Number(request.headers['content-length'])
    if (declared === 0 || (!Number.isFinite(declared) && request.headers['transfer-encoding'] === undefined)) return payload
    const expected = Number.isFinite(declared) ? declared : (request.routeOptions.bodyLimit ?? 0)
    // Never past node's own limit for a whole request (which answers without our detail).
    const ms = Math.min(context.bodyTimeoutMs + (expected / MIN_BODY_BYTES_PER_SECOND) * 1000, DEFAULT_WEB_APP_OPTIONS.requestTimeoutMs - 1000)
    const out = new PassThrough() as PassThrough & { receivedEncodedLength?: number }
    out.receivedEncodedLength = 0
    const timer = setTimeout(() => {
      reply.header('connection', 'close')
      out.destroy(new HttpError(408, 'BODY_TIMEOUT', `the body did not arrive within ${(ms / 1000).toFixed(1)} s`))
    }, ms)
    // Cleared however the exchange ends: read in full, refused before reading (413), or cut off.
    const done = () => clearTimeout(timer)
    timer.unref()
    payload.on('data', (chunk: Buffer) => { out.receivedEncodedLength! += chunk.length })
    out.on('end', done)
    out.on('close', done)
    reply.raw.once('close', done)
    payload.pipe(out)
    return out
  })
  app.addHook('onSend', async (_request, reply) => {
    // A refused body may still be arriving: end the connection rather than read the rest.
    if (reply.statusCode === 413 || reply.statusCode === 408) reply.header('connection', 'close')
  })
  app.addHook('onResponse', async (request, reply) => {
    const endpoint = request.routeOptions.config.endpoint ?? 'other'
    context.metrics.requests.inc({ endpoint, status: `${Math.floor(reply.statusCode / 100)}xx` })
    context.metrics.latency.observe({ endpoint }, reply.elapsedTime / 1000)
    const tally = request.tally
    if (!request.routeOptions.config.matching || tally === undefined || reply.statusCode === 503) return
    context.metrics.probes.inc({ endpoint }, tally.hashes + tally.media)
    for (const [classification, n] of [['csam', tally.csam], ['harmful-abusive-material', tally.harmful], ['no-known-match', tally.noKnownMatch], ['malformed', tally.malformed]] as const) {
      if (n > 0) context.metrics.verdicts.inc({ endpoint, classification }, n)
    }
    context.audit.add({ userId: request.caller?.id ?? null, endpoint, status: reply.statusCode, ...tally })
  })
  await app.register(healthRoutes, context)
  await app.register(batchRoutes, context)
  await app.register(shieldRoutes, context)
  await app.register(listRoutes, context)
  metricsRoute(app, context.metrics.registry, { endpoint: 'metrics' })
}

/**
 * Charges `n` hashes or media to the caller's daily quota (in the database, shared by every
 * service process), or refuses the call with 429 and the time until the quota starts again.
 */
export async function chargeOrRefuse(context: ApiContext, request: FastifyRequest, reply: FastifyReply, n: number): Promise<void> {
  const caller = request.caller!
  if (await chargeQuota(context.db, caller, n)) return
  const wait = secondsToUtcMidnight()
  reply.header('retry-after', String(wait))
  throw new HttpError(429, 'QUOTA_EXCEEDED', `the daily quota of ${caller.quota} hashes and media would be exceeded by this call's ${n}; it starts again at 00:00 UTC (in ${wait} s)`)
}

/** The service as a Fastify app on @arachnid/web: errors as Shield's `{"detail": "..."}`, the OpenAPI document at /openapi.json. */
export async function buildApiApp(context: ApiContext, logger: Logger | undefined): Promise<FastifyInstance> {
  const app = await createWebApp({
    logger,
    errorShape: (problem, request) => ({ detail: detailOf(problem, request, context) }),
    bodyLimit: context.jsonBodyLimit,
    openapi: {
      title: 'Arachnid matching service', version: '1',
      description: 'Arachnid Shield v1 compatible endpoints (/v1/media/, /v1/url/, /v1/pdq/) and the batch endpoint (/api/v1/match). HTTP Basic with an API user (`arachnid api users add`); every error is {"detail": "..."}.',
      routeConfig: { endpoint: 'openapi' },
    },
  })
  await app.register(apiPlugin, context)
  await app.ready()
  return app
}
