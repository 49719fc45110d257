import type { Kysely } from 'kysely'
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration'
import { CriticalError } from '../errors.js'
import { initial } from './migrations/0001-initial.js'
import { matcherScale } from './migrations/0002-matcher-scale.js'
import { notifier } from './migrations/0003-notifier.js'
import { crawlerFrontier } from './migrations/0004-crawler-frontier.js'
import { review } from './migrations/0005-review.js'
import { crawler } from './migrations/0007-crawler.js'
import { notifierReview } from './migrations/0008-notifier-review.js'
import { web } from './migrations/0009-web.js'
import { api } from './migrations/0010-api.js'
import { video } from './migrations/0011-video.js'
import { urlPatterns } from './migrations/0012-url-patterns.js'
import { listGrowth } from './migrations/0014-list-growth.js'
import { ignoreLists } from './migrations/0015-ignore-lists.js'
import { listSharing } from './migrations/0016-list-sharing.js'
import { suspects } from './migrations/0018-suspects.js'
import { listPulls } from './migrations/0019-list-pulls.js'

/**
 * One set of migrations for both dialects, applied in name order. Each area adds its own file
 * under migrations/ and one line here; names are numbered so they sort in the order written.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_initial': initial,
  '0002_matcher_scale': matcherScale,
  '0003_notifier': notifier,
  '0004_crawler_frontier': crawlerFrontier,
  '0005_review': review,
  '0007_crawler': crawler,
  '0008_notifier_review': notifierReview,
  '0009_web': web,
  '0010_api': api,
  '0011_video': video,
  '0012_url_patterns': urlPatterns,
  '0014_list_growth': listGrowth,
  '0015_ignore_lists': ignoreLists,
  '0016_list_sharing': listSharing,
  '0018_suspects': suspects,
  '0019_list_pulls': listPulls,
}

class InCodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...MIGRATIONS }
  }
}

/** Applies every pending migration; throws a CriticalError naming the one that failed. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  // Areas add migrations independently; a database that already ran a later-numbered one must
  // still accept an earlier-numbered newcomer rather than refuse to start.
  const migrator = new Migrator({ db, provider: new InCodeMigrationProvider(), allowUnorderedMigrations: true })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error !== undefined || failed !== undefined) {
    throw new CriticalError('MIGRATION', `migration ${failed?.migrationName ?? '(unknown)'} failed: ${String((error as Error)?.message ?? error)}`, { cause: error })
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
