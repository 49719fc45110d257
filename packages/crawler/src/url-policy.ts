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

export const SKIP_REASONS = ['OUT_OF_SCOPE', 'DEPTH', 'MAX_PAGES', 'HOST_MAX_PAGES', 'URL_TOO_LONG', 'QUERY_EXPLOSION', 'REPEATED_PATH', 'DENY_LIST', 'ROBOTS', 'THIRD_PARTY_FETCH'] as const
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

/**
 * Why a URL must not be followed, or undefined when it may. Catches crawler traps (endless
 * calendars and parameter explosions show up as long URLs, many parameters or repeating path
 * segments) and third-party fetch endpoints (deny list, or any URL whose query hands another
 * absolute URL to a known search or proxy host).
 */
export function refuseUrl(url: URL, options: Required<UrlPolicyOptions> = DEFAULT_URL_POLICY): SkipReason | undefined {
  const text = url.toString()
  if (text.length > options.maxUrlLength) return 'URL_TOO_LONG'
  const host = url.hostname.toLowerCase()
  const hostAndPath = `${host}${url.pathname.toLowerCase()}`
  for (const entry of options.denyList) {
    const [entryHost = '', ...rest] = entry.toLowerCase().split('/')
    const entryPath = rest.length > 0 ? `/${rest.join('/')}` : ''
    if ((host === entryHost || host.endsWith(`.${entryHost}`)) && hostAndPath.slice(host.length).startsWith(entryPath)) return 'DENY_LIST'
  }
  const params = [...url.searchParams.keys()]
  if (params.length > options.maxQueryParams) return 'QUERY_EXPLOSION'
  if ([...url.searchParams.entries()].some(([k, v]) => FETCH_PARAMS.test(k) && /^https?:\/\//i.test(v)) && /search|lookup|proxy|fetch|translate|render|screenshot/i.test(hostAndPath)) {
    return 'THIRD_PARTY_FETCH'
  }
  const segments = url.pathname.split('/').filter((s) => s !== '')
  const counts = new Map<string, number>()
  for (const s of segments) {
    const n = (counts.get(s) ?? 0) + 1
    if (n > options.maxRepeatedSegments) return 'REPEATED_PATH'
    counts.set(s, n)
  }
  return undefined
}
