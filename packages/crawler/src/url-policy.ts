import { ConfigError } from '@arachnid/core'

/**
 * URLs the crawler must never follow because fetching them makes a third party fetch content:
 * reverse-image search and "fetch this URL for me" endpoints. Each entry is a host suffix with an
 * optional path prefix; configurable per job.
 */
export const DEFAULT_DENY_LIST = [
  'images.google.com/searchbyimage', 'www.google.com/searchbyimage', 'lens.google.com/uploadbyurl', 'lens.google.com/v3/upload',
  'tineye.com/search', 'yandex.com/images/search', 'yandex.ru/images/search', 'www.bing.com/images/search',
  'www.bing.com/images/searchbyimage', 'saucenao.com/search.php', 'iqdb.org', 'trace.moe', 'pimeyes.com',
  'web.archive.org/save', 'archive.ph/submit', 'archive.today/submit', 'translate.google.com/translate',
  'translate.goog', 'validator.w3.org', 'developers.facebook.com/tools/debug',
] as const

export const SKIP_REASONS = ['OUT_OF_SCOPE', 'DEPTH', 'MAX_PAGES', 'HOST_MAX_PAGES', 'URL_TOO_LONG', 'QUERY_EXPLOSION', 'REPEATED_PATH', 'DENY_LIST', 'ROBOTS', 'THIRD_PARTY_FETCH', 'PATTERN_BARREN'] as const
export type SkipReason = (typeof SKIP_REASONS)[number]

export interface UrlPolicyOptions {
  /** Longest URL followed. Default 2048. */
  readonly maxUrlLength?: number
  /** Most query parameters on a followed URL. Default 12. */
  readonly maxQueryParams?: number
  /** Most times one path segment may repeat (…/a/b/a/b/a/…). Default 3. */
  readonly maxRepeatedSegments?: number
  /** Deny-list entries ("host[/path-prefix]"). Default DEFAULT_DENY_LIST. */
  readonly denyList?: readonly string[]
}

export const DEFAULT_URL_POLICY: Required<UrlPolicyOptions> = {
  maxUrlLength: 2048, maxQueryParams: 12, maxRepeatedSegments: 3, denyList: DEFAULT_DENY_LIST,
}

const FETCH_PARAMS = /^(url|u|imgurl|image_url|img|src|uri|target)$/i

/** One deny-list entry: a host (and its subdomains), optionally one port, and a path prefix. */
export interface DenyEntry {
  readonly host: string
  /** Only this port (the scheme's default port counts as given), or any port when undefined. */
  readonly port?: number
  /** Path prefix ('' for the whole host). */
  readonly path: string
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 }

/**
 * Parses a deny-list entry, `host[:port][/path-prefix]` (an `http(s)://` in front is accepted and
 * ignored), and throws a ConfigError naming the entry and the expected form when it is not one:
 * an entry that matches nothing must not be taken silently.
 *
 * @example
 * parseDenyEntry('127.0.0.1:8080/private') // { host: '127.0.0.1', port: 8080, path: '/private' }
 */
export function parseDenyEntry(entry: string): DenyEntry {
  const refuse = (why: string) => new ConfigError(`deny-list entry ${JSON.stringify(entry)}: ${why}; expected host[:port][/path-prefix], e.g. example.org/private or 127.0.0.1:8080/private`)
  const text = entry.trim().replace(/^https?:\/\//i, '')
  if (text === '' || /[\s?#@\\]/.test(text) || /^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw refuse('not a host and path')
  const slash = text.indexOf('/')
  const authority = slash < 0 ? text : text.slice(0, slash)
  const path = slash < 0 ? '' : text.slice(slash).toLowerCase()
  let url: URL
  try {
    url = new URL(`http://${authority}/`)
  } catch {
    throw refuse('not a host name or address')
  }
  // URL() forgives much ("%41", "127.1"): an ASCII host it would rewrite is not what the operator meant.
  const explicitPort = /:(\d+)$/.exec(authority)?.[1]
  const given = explicitPort === undefined ? authority.toLowerCase() : authority.slice(0, -explicitPort.length - 1).toLowerCase()
  if ((/^[\x21-\x7e]*$/.test(given) && url.hostname !== given) || given.startsWith('.') || given.endsWith('.')) throw refuse('not a host name or address')
  if (explicitPort !== undefined) {
    const port = Number(explicitPort)
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw refuse(`port ${explicitPort} is not 1 to 65535`)
    return { host: url.hostname, port, path }
  }
  if (authority.includes(':') && !authority.startsWith('[')) throw refuse('not a host name or address')
  return { host: url.hostname, path }
}

/** Whether a URL falls under one deny-list entry. */
export function denies(entry: DenyEntry, url: URL): boolean {
  const host = url.hostname.toLowerCase()
  if (host !== entry.host && !host.endsWith(`.${entry.host}`)) return false
  if (entry.port !== undefined && entry.port !== (url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port))) return false
  return url.pathname.toLowerCase().startsWith(entry.path)
}

const parsedEntries = new WeakMap<readonly string[], DenyEntry[]>()

/** Deny-list entries parsed once per list (the frontier checks every link of every page). */
function denyEntries(list: readonly string[]): DenyEntry[] {
  let parsed = parsedEntries.get(list)
  if (parsed === undefined) {
    parsed = list.map(parseDenyEntry)
    parsedEntries.set(list, parsed)
  }
  return parsed
}

/** Why a media URL must not be fetched: the deny list and third-party fetch endpoints apply to media too. */
export function refuseMediaUrl(url: URL, options: Required<UrlPolicyOptions> = DEFAULT_URL_POLICY): SkipReason | undefined {
  if (denyEntries(options.denyList).some((entry) => denies(entry, url))) return 'DENY_LIST'
  if (fetchesForThirdParty(url)) return 'THIRD_PARTY_FETCH'
  return undefined
}

function fetchesForThirdParty(url: URL): boolean {
  const hostAndPath = `${url.hostname.toLowerCase()}${url.pathname.toLowerCase()}`
  return [...url.searchParams.entries()].some(([k, v]) => FETCH_PARAMS.test(k) && /^https?:\/\//i.test(v)) && /search|lookup|proxy|fetch|translate|render|screenshot/i.test(hostAndPath)
}

/**
 * Why a URL must not be followed, or undefined when it may. Catches crawler traps (endless
 * calendars and parameter explosions show up as long URLs, many parameters or repeating path
 * segments) and third-party fetch endpoints (deny list, or any URL whose query hands another
 * absolute URL to a known search or proxy host).
 */
export function refuseUrl(url: URL, options: Required<UrlPolicyOptions> = DEFAULT_URL_POLICY): SkipReason | undefined {
  const text = url.toString()
  if (text.length > options.maxUrlLength) return 'URL_TOO_LONG'
  if (denyEntries(options.denyList).some((entry) => denies(entry, url))) return 'DENY_LIST'
  const params = [...url.searchParams.keys()]
  if (params.length > options.maxQueryParams) return 'QUERY_EXPLOSION'
  if (fetchesForThirdParty(url)) return 'THIRD_PARTY_FETCH'
  const segments = url.pathname.split('/').filter((s) => s !== '')
  const counts = new Map<string, number>()
  for (const s of segments) {
    const n = (counts.get(s) ?? 0) + 1
    if (n > options.maxRepeatedSegments) return 'REPEATED_PATH'
    counts.set(s, n)
  }
  return undefined
}
