export { AddressGuard, BlockedAddressError, BLOCKED_RANGES, resolveThrough, type AddressGuardOptions } from './address-guard.js'
export { BoundedFetcher, evidenceHeaders, FETCH_ERROR_CODES, EVIDENCE_HEADERS, DEFAULT_USER_AGENT, type FetchOptions, type FetchedBody, type OpenResponse } from './bounded-fetcher.js'
export { retryAfterMs } from './retry-after.js'
