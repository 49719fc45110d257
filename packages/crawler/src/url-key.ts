/**
 * The de-duplication key of a URL within a job: scheme and host lower-cased, default port and
 * fragment dropped, query parameters sorted, so equivalent spellings are crawled once.
 */
export function urlKey(url: string): string {
  const u = new URL(url)
  u.hash = ''
  if ((u.protocol === 'http:' && u.port === '80') || (u.protocol === 'https:' && u.port === '443')) u.port = ''
  const params = [...u.searchParams.entries()].sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
  u.search = ''
  for (const [k, v] of params) u.searchParams.append(k, v)
  return u.toString()
}
