import { type Kysely, sql } from 'kysely'
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration'
import { CriticalError } from '../errors.js'

/**
 * One set of migrations for both dialects. PGlite runs one statement per query through the
 * extended protocol, so each migration is a list of single statements.
 */
function statements(list: readonly string[]): Migration {
  return {
    async up(db: Kysely<any>) {
      for (const statement of list) await sql.raw(statement).execute(db)
    },
  }
}

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001_initial': statements([
    `create table crawl_jobs (
      id integer generated always as identity primary key,
      name text not null,
      seeds jsonb not null,
      options jsonb not null,
      status text not null check (status in ('running','finished','failed','cancelled')),
      created_at timestamptz not null default now(),
      finished_at timestamptz,
      summary jsonb
    )`,
    `create table pages (
      id integer generated always as identity primary key,
      job_id integer not null references crawl_jobs(id) on delete cascade,
      url text not null,
      final_url text,
      depth integer not null,
      status integer,
      content_type text,
      bytes integer,
      media_found integer not null default 0,
      error_code text,
      error_message text,
      fetched_at timestamptz not null default now(),
      unique (job_id, url)
    )`,
    `create table media (
      id integer generated always as identity primary key,
      sha256 bytea not null unique,
      md5 bytea not null,
      sha1 bytea not null,
      blockhash bytea,
      pdq bytea,
      pdq_quality integer,
      width integer,
      height integer,
      format text,
      bytes integer not null,
      first_seen_at timestamptz not null default now()
    )`,
    `create index media_md5 on media (md5)`,
    `create index media_sha1 on media (sha1)`,
    `create table media_fetches (
      id integer generated always as identity primary key,
      job_id integer not null references crawl_jobs(id) on delete cascade,
      url text not null,
      final_url text,
      status integer,
      content_type text,
      server_ip text,
      headers jsonb,
      bytes integer,
      media_id integer references media(id),
      error_code text,
      error_message text,
      fetched_at timestamptz not null default now(),
      unique (job_id, url)
    )`,
    `create index media_fetches_media on media_fetches (media_id)`,
    `create table sightings (
      id integer generated always as identity primary key,
      job_id integer not null references crawl_jobs(id) on delete cascade,
      page_id integer not null references pages(id) on delete cascade,
      fetch_id integer not null references media_fetches(id) on delete cascade,
      via text not null,
      seen_at timestamptz not null default now(),
      unique (page_id, fetch_id)
    )`,
    `create index sightings_fetch on sightings (fetch_id)`,
    `create table hash_lists (
      id integer generated always as identity primary key,
      name text not null unique,
      description text,
      active_version_id integer,
      changed_at timestamptz not null default now(),
      created_at timestamptz not null default now()
    )`,
    `create table hash_list_versions (
      id integer generated always as identity primary key,
      list_id integer not null references hash_lists(id) on delete cascade,
      version integer not null,
      status text not null check (status in ('importing','active','superseded','failed')),
      rows integer not null default 0,
      source text,
      created_at timestamptz not null default now(),
      activated_at timestamptz,
      unique (list_id, version)
    )`,
    `create table known_hashes (
      id integer generated always as identity primary key,
      list_id integer not null references hash_lists(id) on delete cascade,
      version_id integer not null references hash_list_versions(id) on delete cascade,
      algorithm text not null check (algorithm in ('sha256','md5','sha1','blockhash','pdq')),
      hash bytea not null,
      category text,
      external_id text,
      retracted_at timestamptz
    )`,
    `create index known_hashes_lookup on known_hashes (algorithm, hash)`,
    `create index known_hashes_version on known_hashes (version_id)`,
    `create table matches (
      id integer generated always as identity primary key,
      media_id integer not null references media(id),
      known_hash_id integer not null references known_hashes(id),
      list_id integer not null references hash_lists(id),
      list_version integer not null,
      algorithm text not null,
      distance integer not null,
      category text,
      external_id text,
      status text not null check (status in ('auto-confirmed','pending','confirmed','rejected')),
      job_id integer references crawl_jobs(id) on delete set null,
      created_at timestamptz not null default now(),
      unique (media_id, known_hash_id)
    )`,
    `create table providers (
      id integer generated always as identity primary key,
      name text not null unique,
      abuse_email text not null,
      source text not null,
      created_at timestamptz not null default now()
    )`,
    `create table provider_rules (
      id integer generated always as identity primary key,
      kind text not null check (kind in ('cidr','domain')),
      pattern text not null unique,
      provider_id integer not null references providers(id) on delete cascade,
      created_at timestamptz not null default now()
    )`,
    `create table notices (
      id integer generated always as identity primary key,
      reference text not null unique,
      media_url text not null,
      media_id integer not null references media(id),
      provider_id integer references providers(id),
      status text not null check (status in ('open','removed','closed')),
      idempotency_key text not null unique,
      detected_at timestamptz not null,
      created_at timestamptz not null default now(),
      removed_at timestamptz
    )`,
    `create table outbox (
      id integer generated always as identity primary key,
      notice_id integer not null references notices(id) on delete cascade,
      idempotency_key text not null unique,
      kind text not null,
      to_address text not null,
      subject text not null,
      text_body text not null,
      html_body text not null,
      attachments jsonb not null default '[]',
      status text not null check (status in ('pending','sending','sent','failed')),
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now(),
      lease_until timestamptz,
      last_error text,
      message_id text not null,
      sent_at timestamptz,
      created_at timestamptz not null default now()
    )`,
    `create index outbox_due on outbox (status, next_attempt_at)`,
  ]),
}

class InCodeMigrationProvider implements MigrationProvider {
  async getMigrations(): Promise<Record<string, Migration>> {
    return { ...MIGRATIONS }
  }
}

/** Applies every pending migration; throws a CriticalError naming the one that failed. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: new InCodeMigrationProvider() })
  const { error, results } = await migrator.migrateToLatest()
  const failed = results?.find((r) => r.status === 'Error')
  if (error !== undefined || failed !== undefined) {
    throw new CriticalError('MIGRATION', `migration ${failed?.migrationName ?? '(unknown)'} failed: ${String((error as Error)?.message ?? error)}`, { cause: error })
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
