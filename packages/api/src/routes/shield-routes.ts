import { Transform } from 'node:stream'
import { ArachnidError } from '@arachnid/core'
import { HashError, type ImageHashes } from '@arachnid/hasher'
import type { KnownMatch, Probe } from '@arachnid/matcher'
import { looksLikeVideo } from '@arachnid/video'
import { HttpError } from '@arachnid/web'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { chargeOrRefuse, mediaBodyLimit } from '../api-app.js'
import type { ApiContext, Tally } from '../api-context.js'
import { type ScannedMedia, pdqFromBase64, scannedMedia, scannedPdqHash } from '../shield.js'

const nearMatchDetails = {
  type: 'object',
  properties: {
    timestamp: { type: 'number' }, sha1_base32: { type: 'string' }, sha256_hex: { type: 'string' },
    classification: { type: 'string', enum: ['csam', 'harmful-abusive-material', 'no-known-match'] },
  },
}
const classification = { type: 'string', enum: ['csam', 'harmful-abusive-material', 'no-known-match'] }
const matchType = { type: ['string', 'null'], enum: ['exact', 'near', null] }
const scannedMediaSchema = {
  type: 'object',
  properties: {
    sha1_base32: { type: 'string' }, sha256_hex: { type: 'string' }, size_bytes: { type: 'integer' }, classification, match_type: matchType,
    is_match: { type: 'boolean' }, near_match_details: { type: 'array', items: nearMatchDetails },
  },
}

/** Both spellings: the SDK sends the trailing slash, a hand-written client may not. */
function both(path: string): [string, boolean][] {
  return [[path, false], [path.slice(0, -1), true]]
}

/** Hash errors as statuses: the input's fault is a 4xx naming the hasher's code. */
function hashFailure(error: unknown): never {
  if (!(error instanceof HashError)) throw error
  switch (error.code) {
    case 'EMPTY': throw new HttpError(400, 'EMPTY', 'the body is empty: send the media\'s bytes')
    case 'TOO_LARGE': throw new HttpError(413, 'TOO_LARGE', `the media is too large to decode (TOO_LARGE: ${error.message})`)
    case 'UNSUPPORTED_FORMAT': case 'CORRUPT': case 'UNSAFE_SVG':
      throw new HttpError(422, error.code, `the media could not be decoded (${error.code}: ${error.message})`)
    case 'TIMEOUT': throw new HttpError(503, 'TIMEOUT', 'decoding the media took too long; try again later')
    // A video beyond its bounds (too long, too many frames or streams) or with nothing to hash.
    case 'TOO_LONG': case 'TOO_MANY_FRAMES': case 'TOO_MANY_STREAMS':
      throw new HttpError(413, error.code, `the video is beyond this service's bounds (${error.code}: ${error.message})`)
    case 'NO_VIDEO_STREAM': throw new HttpError(422, error.code, `the media could not be decoded (${error.code}: ${error.message})`)
    case 'FFMPEG_UNAVAILABLE': throw new HttpError(503, error.code, 'this service cannot decode video now (ffmpeg is unavailable)')
    default: throw error
  }
}

/** The fetcher's refusals as statuses (the URL is the caller's; what it served is never kept). */
function fetchFailure(error: unknown): never {
  if (!(error instanceof ArachnidError)) throw error
  const status = ({ BAD_URL: 400, UNSUPPORTED_SCHEME: 400, BLOCKED_ADDRESS: 403, TOO_LARGE: 413, TOO_MANY_REDIRECTS: 422, HTTP_STATUS: 422, TIMEOUT: 504, NETWORK: 502 } as Record<string, number>)[error.code]
  if (status === undefined) throw error
  throw new HttpError(status, error.code, `the URL could not be fetched (${error.code}: ${error.message})`)
}

function count(tally: Tally, c: string): void {
  if (c === 'csam') tally.csam++
  else if (c === 'harmful-abusive-material') tally.harmful++
  else tally.noKnownMatch++
}

/**
 * Arachnid Shield's v1 endpoints (the wire format of CdnCentreForChildProtection's public SDKs):
 * POST /v1/media/ (the raw bytes), /v1/url/ ({"url"}) and /v1/pdq/ ({"hashes": [base64...]}).
 * Media are hashed in memory with the project's hasher and never stored.
 */
export const shieldRoutes: FastifyPluginAsync<ApiContext> = async (app, context) => {
  /** A video: its file hashes exactly, and its frames (one per second) near image entries and known videos. */
  const scanVideo = async (request: FastifyRequest, bytes: Uint8Array): Promise<ScannedMedia> => {
    if (bytes.length > context.maxVideoBytes) throw new HttpError(413, 'TOO_LARGE', `a video of ${bytes.length} bytes: at most ${context.maxVideoBytes} (ARACHNID_MAX_VIDEO_BYTES)`)
    let hashes
    try {
      hashes = await context.videoHasher.hash(bytes)
    } catch (error) {
      hashFailure(error)
    }
    const probes: Probe[] = [
      { algorithm: 'sha256', hash: hashes.sha256 }, { algorithm: 'md5', hash: hashes.md5 }, { algorithm: 'sha1', hash: hashes.sha1 },
      { algorithm: 'vpdq', hash: hashes.sha256, frames: hashes.frames },
      // A letterboxed copy matches by its frames with the bars cut off (vPDQ's own frames do not).
      ...(hashes.unbarredFrames ? [{ algorithm: 'vpdq' as const, hash: hashes.sha256, frames: hashes.unbarredFrames }] : []),
    ]
    const found: KnownMatch[] = (await context.matcher.match(probes)).flat()
    const result = scannedMedia({ sha1: hashes.sha1, sha256: hashes.sha256, bytes: hashes.bytes }, found)
    count(request.tally!, result.classification)
    return result
  }

  const scan = async (request: FastifyRequest, bytes: Uint8Array, contentType?: string): Promise<ScannedMedia> => {
    if (looksLikeVideo(bytes, contentType)) return scanVideo(request, bytes)
    if (bytes.length > context.maxMediaBytes) throw new HttpError(413, 'TOO_LARGE', `${bytes.length} bytes of what is not a video: at most ${context.maxMediaBytes} (ARACHNID_MAX_MEDIA_BYTES)`)
    let hashes: ImageHashes
    try {
      hashes = await context.hasher.hash(bytes)
    } catch (error) {
      hashFailure(error)
    }
    const probes: Probe[] = [
      { algorithm: 'sha256', hash: hashes.sha256 }, { algorithm: 'md5', hash: hashes.md5 }, { algorithm: 'sha1', hash: hashes.sha1 },
      { algorithm: 'pdq', hash: hashes.pdq, quality: hashes.pdqQuality, ...(hashes.pdqDihedral ? { dihedral: hashes.pdqDihedral } : {}) },
      { algorithm: 'blockhash', hash: hashes.blockhash },
    ]
    const found: KnownMatch[] = (await context.matcher.match(probes)).flat()
    const result = scannedMedia({ sha1: hashes.sha1, sha256: hashes.sha256, bytes: hashes.bytes }, found)
    count(request.tally!, result.classification)
    return result
  }

  // Raw media: a scope of its own, where the media types are read as bytes (up to ARACHNID_MAX_MEDIA_BYTES).
  await app.register(async (media) => {
    // Wrapped in an object: the body is then one field, not a Buffer whose bytes look like fields.
    for (const [type, bodyLimit] of [
      ['application/octet-stream', mediaBodyLimit(undefined, context)], [/^image\//, context.maxMediaBytes], [/^video\//, context.maxVideoBytes],
    ] as const) {
      media.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, { bytes: body }))
    }
    for (const [url, hide] of both('/v1/media/')) {
      media.post(url, {
        // A video may be larger than an image: the bytes say which it is, and each has its bound.
        bodyLimit: mediaBodyLimit(undefined, context),
        // A declared length over the bound of the declared type is refused before any byte is read
        // (the route's own bodyLimit is the largest type's, so it would not be).
        preParsing: async (request: FastifyRequest, _reply: FastifyReply, payload: NodeJS.ReadableStream) => {
          const declared = Number(request.headers['content-length'])
          const limit = mediaBodyLimit(request.headers['content-type'], context)
          if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, 'TOO_LARGE', `request body too large: at most ${limit} bytes`)
          // A body without a length (chunked) is cut off at the same bound, not read to its end.
          let seen = 0
          const capped = new Transform({
            transform(chunk: Buffer, _encoding, callback) {
              seen += chunk.length
              if (seen <= limit) return callback(null, chunk)
              callback(Object.assign(new HttpError(413, 'TOO_LARGE', `request body too large: at most ${limit} bytes`), { statusCode: 413 }))
              // Stop reading the rest: the answer goes out and the connection closes.
              request.raw.unpipe(capped)
              request.raw.pause()
            },
          })
          payload.on('error', (error) => capped.destroy(error))
          return payload.pipe(capped)
        },
        config: { endpoint: 'v1/media', matching: true },
        schema: {
          hide, summary: 'Scan an image or a video: the raw bytes, with its Content-Type (Arachnid Shield v1); a video\'s near_match_details give where in it each match lies',
          consumes: ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'video/mp4', 'video/webm', 'video/quicktime', 'video/x-matroska', 'application/octet-stream'],
          response: { 200: scannedMediaSchema },
        },
      }, async (request, reply) => {
        const body = request.body as { bytes?: unknown }
        if (!Buffer.isBuffer(body?.bytes)) throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `unsupported Content-Type ${JSON.stringify(String(request.headers['content-type'] ?? '(none)').slice(0, 100))}: send the media's own type (image/jpeg, image/png...) or application/octet-stream`)
        if (body.bytes.length === 0) throw new HttpError(400, 'EMPTY', 'the body is empty: send the media\'s bytes')
        await chargeOrRefuse(context, request, reply, 1)
        request.tally!.media = 1
        return scan(request, body.bytes, request.headers['content-type'])
      })
    }
  })

  for (const [url, hide] of both('/v1/url/')) {
    app.post(url, {
      bodyLimit: 16 * 1024,
      config: { endpoint: 'v1/url', matching: true },
      schema: {
        hide, summary: 'Fetch the media at a URL and scan it (Arachnid Shield v1)',
        body: { type: 'object', required: ['url'], properties: { url: { type: 'string', minLength: 1, maxLength: 8192, description: 'an http(s) URL of the media' } } },
        response: { 200: scannedMediaSchema },
      },
    }, async (request, reply) => {
      const { url } = request.body as { url: string }
      await chargeOrRefuse(context, request, reply, 1)
      request.tally!.media = 1
      let fetched
      try {
        fetched = await context.fetcher.fetch(url, context.fetchOptions)
      } catch (error) {
        fetchFailure(error)
      }
      const type = fetched.headers['content-type']
      return scan(request, fetched.body, Array.isArray(type) ? type[0] : type)
    })
  }

  for (const [url, hide] of both('/v1/pdq/')) {
    app.post(url, {
      bodyLimit: Math.max(16 * 1024, context.maxBatch * 64),
      config: { endpoint: 'v1/pdq', matching: true },
      schema: {
        hide, summary: 'Match PDQ hashes (base64 of the 32 bytes each) (Arachnid Shield v1)',
        body: { type: 'object', required: ['hashes'], properties: { hashes: { type: 'array', items: { type: 'string' }, description: `a list of PDQ hashes, base64 of 32 bytes each, at most ${context.maxBatch}` } } },
        response: {
          200: {
            type: 'object',
            properties: {
              scanned_hashes: {
                type: 'object',
                additionalProperties: { type: 'object', properties: { classification, match_type: matchType, near_match_details: { anyOf: [nearMatchDetails, { type: 'null' }] } } },
              },
            },
          },
        },
      },
    }, async (request, reply) => handlePdq(context, request, reply))
  }
}

async function handlePdq(context: ApiContext, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const { hashes } = request.body as { hashes: string[] }
  if (hashes.length > context.maxBatch) throw new HttpError(413, 'TOO_MANY_HASHES', `${hashes.length} hashes in one call: at most ${context.maxBatch} (ARACHNID_API_MAX_BATCH)`)
  // Each key once, exactly as sent (the SDK looks its hashes up by the strings it sent).
  const keys = [...new Set(hashes)]
  const probes: Probe[] = []
  for (const [i, key] of keys.entries()) {
    const pdq = pdqFromBase64(key)
    if ('error' in pdq) {
      request.tally!.malformed++
      throw new HttpError(400, 'BAD_HASH', `hashes[${hashes.indexOf(key)}] ${JSON.stringify(key.slice(0, 60))}: ${pdq.error} (expected base64 of the 32 bytes of a PDQ hash)`)
    }
    probes[i] = { algorithm: 'pdq', hash: pdq.hex }
  }
  await chargeOrRefuse(context, request, reply, hashes.length)
  request.tally!.hashes = hashes.length
  const found = probes.length > 0 ? await context.matcher.match(probes) : []
  const scanned: Record<string, unknown> = {}
  keys.forEach((key, i) => {
    const result = scannedPdqHash(found[i]!)
    count(request.tally!, result.classification)
    scanned[key] = result
  })
  return { scanned_hashes: scanned }
}
