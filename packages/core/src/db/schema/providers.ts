/** Hosting providers: who they are, the local directory that overrides RDAP, cached RDAP answers and per-host lookups. */
import type { ColumnType, Generated } from 'kysely'
import type { CreatedAt, Timestamp } from './column-types.js'

export interface ProviderTable {
  id: Generated<number>
  name: string
  abuse_email: string
  source: string
  created_at: CreatedAt
  rdap_handle: string | null
}

/** Local provider directory: a CIDR or a domain (and its subdomains) mapped to a provider. */
export interface ProviderRuleTable {
  id: Generated<number>
  kind: 'cidr' | 'domain'
  pattern: string
  provider_id: number
  created_at: CreatedAt
}

/** RDAP answers per IP, kept until expires_at. */
export interface RdapCacheTable {
  ip: string
  result: ColumnType<Record<string, unknown>, string, string>
  fetched_at: CreatedAt
  expires_at: Timestamp
}

/** Hosts and whether a provider was found for them; 'unassigned' ones are retried and shown to operators. */
export interface ProviderLookupTable {
  host: string
  status: 'resolved' | 'unassigned'
  attempts: ColumnType<number, number | undefined, number>
  addresses: ColumnType<string[], string | undefined, string>
  last_error: string | null
  provider_id: number | null
  next_attempt_at: CreatedAt
  updated_at: CreatedAt
}

/** Hosting providers, the local directory, RDAP answers and host lookups. */
export interface ProviderTables {
  providers: ProviderTable
  provider_rules: ProviderRuleTable
  rdap_cache: RdapCacheTable
  provider_lookups: ProviderLookupTable
}
