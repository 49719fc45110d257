import { HttpError } from '@arachnid/web'
import type { FastifyPluginAsync } from 'fastify'
import { chargeOrRefuse } from '../api-app.js'
import type { ApiContext } from '../api-context.js'
import { matchParsed, parseProbe, probeWeight } from '../batch-format.js'
import { verdictOf } from '../shield.js'

const probeSchema = {
  description: '"algorithm:hex" (sha256, md5, sha1, pdq, blockhash), or {"algorithm", "hash", "quality"?: 0-100, "dihedral"?: [pdq hex, ...]}, or a video: {"algorithm": "vpdq", "hash"?: sha256 hex, "frames": [{"pdq", "quality", "timestamp"}, ...]}',
  anyOf: [
    { type: 'string' },
    {
      type: 'object',
      properties: {
        algorithm: { type: 'string' }, hash: { type: 'string' }, quality: { type: 'number' }, dihedral: { type: 'array', items: { type: 'string' } },
        frames: {
          type: 'array', description: 'vpdq only: one PDQ per second of the video, as `arachnid hash --json` prints them',
          items: { type: 'object', properties: { pdq: { type: 'string' }, quality: { type: 'number' }, timestamp: { type: 'number' } } },
        },
      },
    },
  ],
}

const matchSchema = {
  type: 'object',
  properties: {
    list: { type: 'string' }, algorithm: { type: 'string' }, hash: { type: 'string' }, distance: { type: 'integer' },
    category: { type: ['string', 'null'] }, version: { type: 'integer' }, listId: { type: 'integer' }, knownHashId: { type: 'integer' },
    externalId: { type: ['string', 'null'] }, classification: { type: 'string', enum: ['csam', 'harmful-abusive-material'] },
    ignore: { type: 'boolean', description: 'true when the list is an ignore list: the probe\'s other matches are suppressed (absent otherwise)' },
    transform: { type: 'integer', description: 'which of the dihedral hashes matched (index into "dihedral"); absent for the hash itself' },
    timestamps: { type: 'array', items: { type: 'number' }, description: 'a video probe: the timestamps (seconds) of its frames that matched' },
    share: { type: 'number', description: 'a video probe matched to a known video: the share of its distinct frames of quality >= 50 that matched' },
  },
}

/**
 * POST /api/v1/match: any algorithm, up to ARACHNID_API_MAX_BATCH probes per call, one result
 * per probe in order: its matches (distance, list, version, category, classification...) or why
 * it is malformed. The same JSON as `arachnid match --json` prints per input line.
 */
export const batchRoutes: FastifyPluginAsync<ApiContext> = async (app, context) => {
  app.post('/api/v1/match', {
    config: { endpoint: 'api/v1/match', matching: true },
    schema: {
      summary: 'Match a batch of hashes of any algorithm',
      body: { type: 'object', required: ['probes'], properties: { probes: { type: 'array', items: probeSchema, description: `a list of probes ("algorithm:hex" or objects), at most ${context.maxBatch}` } } },
      response: {
        200: {
          type: 'object',
          properties: {
            results: {
              type: 'array',
              items: { type: 'object', properties: { input: { type: 'string' }, matches: { type: 'array', items: matchSchema }, error: { type: 'string' } } },
            },
          },
        },
      },
    },
  }, async (request, reply) => {
    const { probes } = request.body as { probes: unknown[] }
    if (probes.length > context.maxBatch) throw new HttpError(413, 'TOO_MANY_PROBES', `${probes.length} probes in one call: at most ${context.maxBatch} (ARACHNID_API_MAX_BATCH)`)
    const parsed = probes.map(parseProbe)
    // Every hash costs one (a video's frames each): a video probe is not one cheap lookup.
    const weight = parsed.reduce((n, p) => n + probeWeight(p), 0)
    // As many hashes as the largest batch of images with their 8 dihedral hashes each.
    if (weight > context.maxBatch * 9) throw new HttpError(413, 'TOO_MANY_PROBES', `${weight} hashes (video frames and dihedral hashes included) in one call: at most ${context.maxBatch * 9}`)
    await chargeOrRefuse(context, request, reply, weight)
    // Counted once charged: a refused call checked nothing.
    const tally = request.tally!
    tally.hashes = weight
    const results = await matchParsed(context.matcher, parsed)
    for (const r of results) {
      if ('error' in r) tally.malformed++
      else {
        const { classification } = verdictOf(r.matches)
        if (classification === 'csam') tally.csam++
        else if (classification === 'harmful-abusive-material') tally.harmful++
        else tally.noKnownMatch++
      }
    }
    return { results }
  })
}
