import path from 'node:path'
import { ConfigError } from './errors.js'

/**
 * Every setting in one place: its environment variable, its default and what it means.
 * Precedence, highest first: command-line flag, environment variable, default.
 * The README's configuration table is generated from this list (`arachnid config`).
 */
export const SETTINGS = {
  home: { env: 'ARACHNID_HOME', default: '.arachnid', doc: 'Folder for the embedded database and the .eml outbox (relative to the working directory).' },
  databaseUrl: { env: 'DATABASE_URL', default: '', doc: 'Postgres connection string. Unset: embedded PGlite in $ARACHNID_HOME/db.' },
  smtpUrl: { env: 'SMTP_URL', default: '', doc: 'SMTP server for notices (smtp://host:port). Unset: notices are written as .eml files to $ARACHNID_HOME/outbox.' },
  noticeFrom: { env: 'ARACHNID_NOTICE_FROM', default: 'Arachnid Notices <notices@arachnid.invalid>', doc: 'From address of notice emails.' },
  reporterName: { env: 'ARACHNID_REPORTER', default: 'Arachnid open-source crawler', doc: 'Reporter identity named in notices.' },
  maxPages: { env: 'ARACHNID_MAX_PAGES', default: 1000, doc: 'Pages per crawl job.' },
  maxDepth: { env: 'ARACHNID_MAX_DEPTH', default: 5, doc: 'Link depth from the seeds.' },
  maxMediaBytes: { env: 'ARACHNID_MAX_MEDIA_BYTES', default: 32 * 1024 * 1024, doc: 'Bytes per media response; larger ones are recorded as TOO_LARGE.' },
  maxPageBytes: { env: 'ARACHNID_MAX_PAGE_BYTES', default: 5 * 1024 * 1024, doc: 'Bytes per HTML page.' },
  maxPixels: { env: 'ARACHNID_MAX_PIXELS', default: 50_000_000, doc: 'Pixels per image, checked from the header before decoding.' },
  requestTimeoutMs: { env: 'ARACHNID_REQUEST_TIMEOUT_MS', default: 15_000, doc: 'Time per request (pages and media).' },
  maxRedirects: { env: 'ARACHNID_MAX_REDIRECTS', default: 5, doc: 'Redirects followed per request.' },
  pageConcurrency: { env: 'ARACHNID_PAGE_CONCURRENCY', default: 8, doc: 'Pages fetched at once.' },
  mediaConcurrency: { env: 'ARACHNID_MEDIA_CONCURRENCY', default: 8, doc: 'Media fetched and hashed at once.' },
  matchBatchSize: { env: 'ARACHNID_MATCH_BATCH', default: 64, doc: 'Media hashed before one batched match lookup.' },
  blockhashThreshold: { env: 'ARACHNID_BLOCKHASH_THRESHOLD', default: 24, doc: 'Largest Hamming distance (of 256 bits) for a blockhash match.' },
  pdqThreshold: { env: 'ARACHNID_PDQ_THRESHOLD', default: 31, doc: 'Largest Hamming distance (of 256 bits) for a PDQ match.' },
  pdqMinQuality: { env: 'ARACHNID_PDQ_MIN_QUALITY', default: 50, doc: 'PDQ hashes of lower quality are not matched.' },
  allowPrivate: { env: 'ARACHNID_ALLOW_PRIVATE', default: false, doc: 'Allow crawling private, loopback and link-local addresses.' },
  logLevel: { env: 'LOG_LEVEL', default: 'info', doc: 'pino log level (logs go to stderr).' },
} as const

type Settings = typeof SETTINGS
type ValueOf<K extends keyof Settings> = Settings[K]['default'] extends number
  ? number
  : Settings[K]['default'] extends boolean
    ? boolean
    : string

export type Config = { readonly [K in keyof Settings]: ValueOf<K> }
export type ConfigOverrides = { readonly [K in keyof Settings]?: ValueOf<K> | undefined }

function parseValue(key: string, envName: string, raw: string, fallback: unknown): unknown {
  if (typeof fallback === 'number') {
    const value = Number(raw)
    if (!Number.isFinite(value) || value < 0) throw new ConfigError(`${envName}=${raw}: expected a non-negative number (${key})`)
    return value
  }
  if (typeof fallback === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true
    if (/^(0|false|no|off|)$/i.test(raw)) return false
    throw new ConfigError(`${envName}=${raw}: expected true or false (${key})`)
  }
  return raw
}

/**
 * Resolves the configuration: flags over environment over defaults.
 *
 * @example
 * const config = loadConfig({ maxPages: 50 }, process.env)
 */
export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const out: Record<string, unknown> = {}
  for (const [key, setting] of Object.entries(SETTINGS)) {
    const override = (overrides as Record<string, unknown>)[key]
    const raw = env[setting.env]
    if (override !== undefined) out[key] = override
    else if (raw !== undefined && raw !== '') out[key] = parseValue(key, setting.env, raw, setting.default)
    else out[key] = setting.default
  }
  out.home = path.resolve(cwd, out.home as string)
  return out as Config
}

export function outboxDir(config: Pick<Config, 'home'>): string {
  return path.join(config.home, 'outbox')
}
