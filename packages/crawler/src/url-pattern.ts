/**
 * The shape of a URL, so that the members of one URL family share it: the host (with its port)
 * and the path with its variable parts masked, plus the sorted set of query keys (their values
 * dropped). The crawl budgets URL families by what they yield (see PatternBudget in frontier.ts):
 * an endless calendar, a "next" chain or session-id permutations of one listing are each one
 * pattern however many URLs they spell.
 *
 * Masked, in each path segment (and query key), in this order:
 * - UUIDs -> `{uuid}`
 * - dates (2026-12-06, 2026_12_06, 2026.12.06) -> `{date}`
 * - hex ids: runs of 6 or more hex digits with at least two digits and a letter -> `{hex}`
 * - tokens: runs of 16 or more of `[A-Za-z0-9_-]` with a digit and a letter, and either no hyphen
 *   or both letter cases (base64-ish session ids and cursors; a lower-case slug such as
 *   `my-long-post-title-2024` is a name, not a token, and keeps its words) -> `{token}`
 * - every other run of digits -> `{n}`
 * - matrix parameter values (`;jsessionid=...`) -> `;jsessionid=*`
 *
 * Scheme and fragment are ignored; the host is lower-cased.
 *
 * @example
 * urlPattern('http://a.example/calendar/2026/12/06?view=day')  // 'a.example/calendar/{n}/{n}/{n}?view'
 * urlPattern('http://a.example/calendar/2031/01/17?view=week') // the same
 * urlPattern('http://a.example/gallery/page/1800')             // 'a.example/gallery/page/{n}'
 */
export function urlPattern(url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url
  const path = u.pathname.split('/').map(maskSegment).join('/')
  const keys = [...new Set([...u.searchParams.keys()].map(maskSegment))].sort()
  return `${u.host.toLowerCase()}${path}${keys.length > 0 ? `?${keys.join('&')}` : ''}`
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi
const DATE = /(?<!\d)\d{4}([-_.])\d{1,2}\1\d{1,2}(?!\d)/g
/** A maximal run of token characters (not starting or ending inside a longer one). */
const TOKEN_RUN = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{16,}(?![A-Za-z0-9_-])/g
const HEX_RUN = /(?<![0-9a-z])[0-9a-f]{6,}(?![0-9a-z])/gi
const DIGITS = /\d+/g
const MATRIX = /;([^;=]*)=[^;]*/g

function isToken(run: string): boolean {
  if (!/\d/.test(run) || !/[A-Za-z]/.test(run)) return false
  return !run.includes('-') || (/[a-z]/.test(run) && /[A-Z]/.test(run))
}

function isHexId(run: string): boolean {
  return /[a-f]/i.test(run) && (run.match(/\d/g)?.length ?? 0) >= 2
}

/** One path segment or query key with its variable parts masked. */
function maskSegment(segment: string): string {
  if (segment === '') return segment
  return segment
    .replace(MATRIX, ';$1=*')
    .replace(UUID, '{uuid}')
    .replace(DATE, '{date}')
    .replace(HEX_RUN, (run) => (isHexId(run) ? '{hex}' : run))
    .replace(TOKEN_RUN, (run) => (isToken(run) ? '{token}' : run))
    .replace(DIGITS, '{n}')
}
