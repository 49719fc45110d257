import { describe, expect, it } from 'vitest'
import { DEFAULT_REVIEW_POLICY, type KnownMatch, type MatchContext, decideStatus } from '@arachnid/matcher'

const match = (algorithm: KnownMatch['algorithm'], distance: number): KnownMatch => ({
  knownHashId: 1, listId: 1, list: 'l', listVersion: 1, algorithm, hash: '00'.repeat(32), distance, category: null, externalId: null,
})
const context = (over: Partial<MatchContext> = {}): MatchContext => ({
  policy: DEFAULT_REVIEW_POLICY, listMode: 'verified', mediaQuality: 100, entryQuality: null, suppressed: false, ...over,
})

/** The policy's rules in their order of precedence, at the edges of each threshold. */
describe('decideStatus', () => {
  it.each([
    ['exact on a verified list', match('sha256', 0), context(), 'auto-confirmed', 'exact'],
    ['md5 with exact auto-notify off', match('md5', 0), context({ policy: { ...DEFAULT_REVIEW_POLICY, autoExact: false } }), 'pending', 'exact'],
    ['PDQ at the auto threshold', match('pdq', 16), context(), 'auto-confirmed', 'near-close'],
    ['PDQ just above it', match('pdq', 17), context(), 'pending', 'near'],
    ['blockhash at its auto threshold', match('blockhash', 12), context(), 'auto-confirmed', 'near-close'],
    ['blockhash just above it', match('blockhash', 13), context(), 'pending', 'near'],
    ['a stricter policy', match('pdq', 10), context({ policy: { ...DEFAULT_REVIEW_POLICY, autoPdqDistance: 8 } }), 'pending', 'near'],
    ['close PDQ on low-quality content', match('pdq', 0), context({ mediaQuality: 79 }), 'pending', 'low-quality'],
    ['close PDQ on content of exactly the minimum quality', match('pdq', 0), context({ mediaQuality: 80 }), 'auto-confirmed', 'near-close'],
    ['close blockhash on content of unknown quality', match('blockhash', 0), context({ mediaQuality: null }), 'pending', 'low-quality'],
    ['close PDQ against a low-quality list entry', match('pdq', 0), context({ entryQuality: 60 }), 'pending', 'low-quality'],
    ['low quality does not hold exact matches', match('sha1', 0), context({ mediaQuality: 10 }), 'auto-confirmed', 'exact'],
    ['exact on a review-required list', match('sha256', 0), context({ listMode: 'review-required' }), 'pending', 'review-required'],
    ['suppressed before anything else', match('sha256', 0), context({ suppressed: true, listMode: 'review-required' }), 'rejected', 'suppressed'],
  ] as const)('%s', (_name, m, c, status, reason) => {
    expect(decideStatus(m, c)).toEqual({ status, reason })
  })
})
