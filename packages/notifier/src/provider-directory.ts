import net from 'node:net'
import ipaddr from 'ipaddr.js'
import { type Database, type Kysely, NonRetryableError } from '@arachnid/core'

export interface Provider {
  readonly id: number
  readonly name: string
  readonly abuseEmail: string
  /** The directory rule that chose this provider. */
  readonly matchedBy: string
}

export interface ProviderRuleInput {
  /** A CIDR ("203.0.113.0/24", a single address is a /32 or /128) or a domain ("example.net" covers its subdomains). */
  readonly pattern: string
  readonly name: string
  readonly abuseEmail: string
}

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/

/** Classifies and normalises a directory pattern, or throws a NonRetryableError saying why not. */
export function parsePattern(pattern: string): { kind: 'cidr' | 'domain'; pattern: string } {
  const trimmed = pattern.trim().toLowerCase()
  if (trimmed.includes('/') || net.isIP(trimmed)) {
    try {
      const [addr, bits] = trimmed.includes('/') ? ipaddr.parseCIDR(trimmed) : [ipaddr.parse(trimmed), net.isIPv4(trimmed) ? 32 : 128] as const
      return { kind: 'cidr', pattern: `${addr.toNormalizedString()}/${bits}` }
    } catch (error) {
      throw new NonRetryableError('BAD_PATTERN', `"${pattern}" is not a valid CIDR`, { cause: error })
    }
  }
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(trimmed) || trimmed.length > 253) {
    throw new NonRetryableError('BAD_PATTERN', `"${pattern}" is neither a CIDR (e.g. 203.0.113.0/24) nor a domain name (e.g. example.net)`)
  }
  return { kind: 'domain', pattern: trimmed }
}

/**
 * Checks a directory rule before anything is written: a provider name (not empty, at most 200
 * characters), an abuse address that is an email address, and a CIDR or domain pattern. Throws a
 * NonRetryableError saying which part is wrong; returns the rule trimmed and normalised.
 */
export function parseProviderRule(input: ProviderRuleInput): ProviderRuleInput & { kind: 'cidr' | 'domain' } {
  const name = input.name.trim()
  if (name === '') throw new NonRetryableError('BAD_NAME', 'the provider name is empty')
  if (name.length > 200) throw new NonRetryableError('BAD_NAME', 'the provider name is longer than 200 characters')
  const abuseEmail = input.abuseEmail.trim()
  if (!EMAIL.test(abuseEmail) || abuseEmail.length > 320) throw new NonRetryableError('BAD_EMAIL', `"${input.abuseEmail}" is not an email address (expected e.g. abuse@example.net)`)
  const { kind, pattern } = parsePattern(input.pattern)
  return { kind, pattern, name, abuseEmail }
}

/** Adds or replaces a directory rule, creating the provider when it is new. */
export async function setProviderRule(db: Kysely<Database>, rule: ProviderRuleInput): Promise<{ providerId: number; kind: 'cidr' | 'domain'; pattern: string }> {
  const { kind, pattern, ...input } = parseProviderRule(rule)
  return db.transaction().execute(async (trx) => {
    const provider = await trx.insertInto('providers').values({ name: input.name, abuse_email: input.abuseEmail, source: 'directory' })
      .onConflict((oc) => oc.column('name').doUpdateSet({ abuse_email: input.abuseEmail }))
      .returning('id').executeTakeFirstOrThrow()
    await trx.insertInto('provider_rules').values({ kind, pattern, provider_id: provider.id })
      .onConflict((oc) => oc.column('pattern').doUpdateSet({ kind, provider_id: provider.id })).execute()
    return { providerId: provider.id, kind, pattern }
  })
}

interface Rule { kind: 'cidr' | 'domain'; pattern: string; provider: Omit<Provider, 'matchedBy'>; cidr?: [ipaddr.IPv4 | ipaddr.IPv6, number] }

/**
 * The local provider directory: CIDR and domain rules mapped to providers. The most specific rule
 * wins (longest prefix; longest domain), and a domain rule wins over an address rule, since the
 * operator named that site on purpose.
 */
export class ProviderDirectory {
  /** The directory alone: a host it does not name has not been asked of DNS and RDAP (see ProviderLookup). */
  readonly asksRdap = false
  readonly #rules: Rule[]

  private constructor(rules: Rule[]) {
    this.#rules = rules
  }

  static async load(db: Kysely<Database>): Promise<ProviderDirectory> {
    const rows = await db.selectFrom('provider_rules as r').innerJoin('providers as p', 'p.id', 'r.provider_id')
      .select(['r.kind', 'r.pattern', 'p.id', 'p.name', 'p.abuse_email']).execute()
    return new ProviderDirectory(rows.map((row) => ({
      kind: row.kind, pattern: row.pattern,
      provider: { id: row.id, name: row.name, abuseEmail: row.abuse_email },
      cidr: row.kind === 'cidr' ? ipaddr.parseCIDR(row.pattern) : undefined,
    })))
  }

  get size(): number {
    return this.#rules.length
  }

  /** The provider for a host and the address it was served from, or undefined. */
  resolve(host: string, ip: string | null): Provider | undefined {
    const hostname = host.toLowerCase().replace(/\.$/, '')
    let best: { rule: Rule; score: number } | undefined
    for (const rule of this.#rules) {
      if (rule.kind === 'domain') {
        if (hostname === rule.pattern || hostname.endsWith(`.${rule.pattern}`)) {
          const score = 1000 + rule.pattern.length
          if (!best || score > best.score) best = { rule, score }
        }
      } else if (ip && rule.cidr && ipaddr.isValid(ip)) {
        let addr = ipaddr.parse(ip)
        if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address()
        if (addr.kind() === rule.cidr[0].kind() && addr.match(rule.cidr as never)) {
          const score = rule.cidr[1]
          if (!best || score > best.score) best = { rule, score }
        }
      }
    }
    return best ? { ...best.rule.provider, matchedBy: `${best.rule.kind} ${best.rule.pattern}` } : undefined
  }
}
