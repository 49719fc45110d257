import type { CrawlTables } from './crawl.js'
import type { ListTables } from './lists.js'
import type { MatchTables } from './matches.js'
import type { MediaTables } from './media.js'
import type { NoticeTables } from './notices.js'
import type { ProviderTables } from './providers.js'
import type { ReviewTables } from './review.js'
import type { WebTables } from './web.js'
import type { ApiTables } from './api.js'

export * from './crawl.js'
export * from './lists.js'
export * from './matches.js'
export * from './media.js'
export * from './notices.js'
export * from './providers.js'
export * from './review.js'
export * from './web.js'
export * from './api.js'

/**
 * Every table, as kysely sees it. Each area declares its tables in its own file (one per
 * migration area) and joins here with one line.
 */
export interface Database
  extends CrawlTables,
    MediaTables,
    ListTables,
    MatchTables,
    ProviderTables,
    NoticeTables,
    ReviewTables,
    WebTables,
    ApiTables {}
