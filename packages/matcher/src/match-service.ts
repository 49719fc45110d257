import type { KnownMatch, Probe } from './matcher.js'

/**
 * What matching needs from whoever answers it: the in-process `Matcher` (the default) or a
 * `RemoteMatcher` talking to `arachnid api` (with ARACHNID_MATCHER_URL). Callers that only match
 * (crawl workers, `match`, the media pipeline) take this, so either can be injected.
 *
 * A `match` call answers every probe or throws: it never returns a partial or empty answer
 * because the answerer was unreachable (a remote one waits and retries instead).
 *
 * @example
 * async function known(service: MatchService, md5: string): Promise<boolean> {
 *   const [found] = await service.match([{ algorithm: 'md5', hash: md5 }])
 *   return found!.length > 0
 * }
 */
export interface MatchService {
  /** The matches of each probe, in probe order, nearest first. Malformed probes match nothing. */
  match(probes: readonly Probe[]): Promise<KnownMatch[][]>
  /**
   * Checks that matching can be done at all before work that needs it starts (a remote service's
   * credentials are refused, say): throws what `match` would throw. Absent: nothing to check.
   */
  check?(): Promise<void>
  /** Releases what the service holds (connections, pending retries); only for services the caller created. */
  close?(): Promise<void>
}
