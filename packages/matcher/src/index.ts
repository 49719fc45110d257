export * from './algorithms.js'
export { importList, DEFAULT_IMPORT_OPTIONS, IMPORT_MODES, type ImportMode, type ImportListOptions, type ImportListResult, type RejectedRow } from './import-list.js'
export { listLists, showList, retractHashes, type ListSummary, type ListDetails, type ListVersionInfo, type RetractOptions, type RetractResult } from './list-admin.js'
export { readLines } from './read-lines.js'
export { LIST_FORMATS, isListFormat, createLineParser, type ListFormat, type ListRow, type LineParser } from './list-formats.js'
export { Matcher, DEFAULT_MATCHER_OPTIONS, bytesToWords, type MatcherOptions, type MatcherStats, type Probe, type KnownMatch } from './matcher.js'
export { HammingIndex, DEFAULT_HAMMING_INDEX_OPTIONS, chunkRadii, type HammingIndexOptions } from './hamming-index.js'
export {
  recordMatches, decideStatus, loadReviewPolicy, notifiableMedia, DEFAULT_REVIEW_POLICY, REVIEW_REASONS,
  type RecordedMatch, type ReviewPolicy, type MatchContext, type ReviewReason,
} from './record-matches.js'
export { hamming256, hexToWords, popcount32 } from './hamming.js'
