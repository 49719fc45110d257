import { statements } from './statements.js'

/**
 * Scheduled pulls of the lists followed from peers. Whether a subscription's pulled entries are
 * looked for among the media already seen (`retro_hunt`, set by `lists subscribe --no-retro-hunt`);
 * who is pulling it now (`pull_owner` until `pull_lease_until`: one process at a time, however many
 * run the schedule, and a process that dies leaves it to the next after the lease); and the entries
 * pulled but not hunted yet (`hunt_*`: a version and the id range it gained), saved with the cursor
 * so a pull that stops before its hunt still has them hunted by the next one.
 */
export const listPulls = statements([
  `alter table list_subscriptions add column retro_hunt boolean not null default true`,
  `alter table list_subscriptions add column pull_owner text`,
  `alter table list_subscriptions add column pull_lease_until timestamptz`,
  `alter table list_subscriptions add column hunt_version_id integer`,
  `alter table list_subscriptions add column hunt_first_id integer`,
  `alter table list_subscriptions add column hunt_last_id integer`,
])
