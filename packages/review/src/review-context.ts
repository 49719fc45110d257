import type { Database, Kysely } from '@arachnid/core'
import type { RetroHuntScope } from '@arachnid/matcher'
import type { AckLinks, CreateNoticesOptions, ProviderLookup, Reporter } from '@arachnid/notifier'
import type { LoginThrottle } from './login-throttle.js'
import type { MediaPreviewer } from './media-preview.js'
import type { ReviewMetrics } from './review-metrics.js'
import type { SessionStore } from './session-store.js'

/** What every area of the review server works with: passed to each route plugin as its options. */
export interface ReviewContext {
  readonly db: Kysely<Database>
  readonly sessions: SessionStore
  readonly throttle: LoginThrottle
  readonly previewer: MediaPreviewer
  readonly metrics: ReviewMetrics
  /** Who sends the notices a confirmation creates, and how they are made. */
  readonly notices: { readonly reporter: Reporter; readonly lookup?: ProviderLookup; readonly options?: CreateNoticesOptions }
  readonly sessionHours: number
  readonly cookieSecure: boolean
  readonly metricsToken: string
  readonly ack: AckLinks | undefined
  readonly loginRateLimit: { readonly max: number; readonly windowMs: number }
  readonly previewRateLimit: { readonly max: number; readonly windowMs: number }
  /** Starts the retro-hunt of a classification's new list entries (runs on after the request); absent: no hunt. */
  readonly startRetroHunt?: (scope: RetroHuntScope) => void
}
