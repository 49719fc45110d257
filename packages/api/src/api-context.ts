import type { Database, Kysely, Logger } from '@arachnid/core'
import type { ImageHasher } from '@arachnid/hasher'
import type { Matcher } from '@arachnid/matcher'
import type { VideoHashes } from '@arachnid/video'
import type { BoundedFetcher, FetchOptions } from '@arachnid/net'
import type { AuditWriter, Caller, TokenBuckets, UserDirectory } from './access.js'
import type { ApiMetrics } from './api-metrics.js'

/** What the routes share: the database, the matcher, the hasher and fetcher, the users and limits. */
export interface ApiContext {
  readonly db: Kysely<Database>
  /** The service's matcher, as the routes use it (match calls are counted; see ApiServer). */
  readonly matcher: Pick<Matcher, 'match' | 'stats'>
  readonly hasher: ImageHasher
  /** Hashes uploaded and fetched videos (ffmpeg, in memory). */
  readonly videoHasher: { hash(bytes: Uint8Array): Promise<VideoHashes> }
  readonly fetcher: BoundedFetcher
  readonly fetchOptions: FetchOptions
  readonly users: UserDirectory
  readonly buckets: TokenBuckets
  readonly audit: AuditWriter
  readonly metrics: ApiMetrics
  readonly logger: Logger | undefined
  /** True once the index is loaded: before that every matching endpoint answers 503. */
  readonly ready: () => boolean
  readonly maxBatch: number
  readonly maxMediaBytes: number
  /** Bytes of one video (its own bound, above an image's). */
  readonly maxVideoBytes: number
  /** Largest JSON body, in bytes, on the batch endpoint (the others take less). */
  readonly jsonBodyLimit: number
  /** A body must arrive within this long (plus time for its size): slower is a 408. */
  readonly bodyTimeoutMs: number
  /** Failed authentications allowed per client address per second. */
  readonly authFailureRate: number
  /**
   * Matching calls under way at once, at most; one more is refused at once with 429 and
   * Retry-After (the service is busy) instead of waiting in a queue no caller can see.
   */
  readonly maxInFlight: number
  /** Matching calls admitted and not yet answered (the admission hook keeps it). */
  readonly inFlight: { count: number }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated API user (set by the access hook on every matching endpoint). */
    caller?: Caller
    /** What the call checked, for the audit, metrics and the daily quota. */
    tally?: Tally
  }
  interface FastifyContextConfig {
    /** The endpoint's name in metrics and the audit (e.g. "v1/pdq"). */
    endpoint?: string
    /** Needs an API user (HTTP Basic) and the loaded index. */
    matching?: boolean
  }
}

/** Counts of one call. */
export interface Tally {
  hashes: number
  media: number
  csam: number
  harmful: number
  noKnownMatch: number
  malformed: number
}

export function emptyTally(): Tally {
  return { hashes: 0, media: 0, csam: 0, harmful: 0, noKnownMatch: 0, malformed: 0 }
}
