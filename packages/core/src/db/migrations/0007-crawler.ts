import { statements } from './statements.js'

/**
 * A notice records the crawl job that created it, so each job's figures count its own notices
 * (two jobs of one site no longer both claim them). Notices made outside a crawl (an analyst's
 * confirmation) have none. Existing notices are given the latest job, started before the
 * notice, that fetched its URL: what the job figures counted until now.
 */
export const crawler = statements([
  `alter table notices add column job_id integer references crawl_jobs(id) on delete set null`,
  `create index notices_job on notices (job_id)`,
  `update notices n set job_id = (
    select f.job_id from media_fetches f join crawl_jobs j on j.id = f.job_id
    where f.url = n.media_url and j.created_at <= n.created_at
    order by j.created_at desc, j.id desc limit 1)
  where n.job_id is null`,
])
