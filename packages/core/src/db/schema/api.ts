/** The matching service: list classifications, API users, their daily use and the audit of their calls. */
import type { ColumnType, Generated } from 'kysely'
import type { CreatedAt, NullableTimestamp } from './column-types.js'

export const LIST_CLASSIFICATIONS = ['csam', 'harmful-abusive-material'] as const
/** What a list's matches are, in Arachnid Shield's words; `csam` wins when both match. */
export type ListClassification = (typeof LIST_CLASSIFICATIONS)[number]

declare module './lists.js' {
  interface HashListTable {
    /** What this list's entries are (Shield's classification). Added by the API's migration. */
    classification: ColumnType<ListClassification, ListClassification | undefined, ListClassification>
  }
}

/** A partner or worker allowed to call the matching service (HTTP Basic). */
export interface ApiUserTable {
  id: Generated<number>
  name: string
  /** scrypt, self-describing (`scrypt$N$r$p$salt$key`); the password itself is shown once. */
  password_hash: string
  /** Requests per second; null: the service's default (ARACHNID_API_RATE). */
  rate: number | null
  /** Hashes and media per UTC day; null: the service's default (ARACHNID_API_DAILY_QUOTA). */
  daily_quota: ColumnType<string | null, number | null | undefined, number | null>
  disabled_at: NullableTimestamp
  created_at: CreatedAt
  /** What the user may do: `match` (every user), `export` (read lists' changes to subscribe to them). */
  scopes: ColumnType<string[], string[] | undefined, string[]>
}

export const API_SCOPES = ['match', 'export'] as const
export type ApiScope = (typeof API_SCOPES)[number]

/** Another deployment's list this one follows (`lists subscribe`): pulled into a local list. */
export interface ListSubscriptionTable {
  id: Generated<number>
  /** The local list the peer's entries go into (one subscription per local list). */
  local_name: string
  /** The peer's matching service (its base URL). */
  url: string
  remote_name: string
  user_name: string
  /** The API user's password, as given: every pull presents it (HTTP Basic). */
  password: string
  /** How far the peer's change log has been applied (`N`, or `C:R` inside change C). */
  cursor: ColumnType<string, string | undefined, string>
  /** The peer's classification of the list at the last pull. */
  classification: ColumnType<string | null, string | null | undefined, string | null>
  pulls: ColumnType<number, number | undefined, number>
  last_pull_at: NullableTimestamp
  last_error: ColumnType<string | null, string | null | undefined, string | null>
  created_at: CreatedAt
  /** Whether pulled entries are looked for among the media already seen (a retro-hunt). */
  retro_hunt: ColumnType<boolean, boolean | undefined, boolean>
  /** Who is pulling it now, and until when at most (renewed while the pull runs). */
  pull_owner: ColumnType<string | null, string | null | undefined, string | null>
  pull_lease_until: NullableTimestamp
  /** Entries pulled and not hunted yet: a version and the ids it gained. */
  hunt_version_id: ColumnType<number | null, number | null | undefined, number | null>
  hunt_first_id: ColumnType<number | null, number | null | undefined, number | null>
  hunt_last_id: ColumnType<number | null, number | null | undefined, number | null>
}

/** Hashes and media checked by a user in one UTC day. */
export interface ApiUsageTable {
  user_id: number
  day: ColumnType<Date, string, string>
  count: ColumnType<string, number | undefined, number>
}

/** One call: who, which endpoint, its status and counts; never the media or what a URL served. */
export interface ApiAuditTable {
  id: ColumnType<string, never, never>
  /** null: the caller was not authenticated. */
  user_id: number | null
  endpoint: string
  at: CreatedAt
  status: number
  hashes: ColumnType<number, number | undefined, number>
  media: ColumnType<number, number | undefined, number>
  csam: ColumnType<number, number | undefined, number>
  harmful: ColumnType<number, number | undefined, number>
  no_known_match: ColumnType<number, number | undefined, number>
  malformed: ColumnType<number, number | undefined, number>
}

/** The matching service's tables. */
export interface ApiTables {
  api_users: ApiUserTable
  api_usage: ApiUsageTable
  api_audit: ApiAuditTable
  list_subscriptions: ListSubscriptionTable
}
