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
  ackSecret: { env: 'ARACHNID_ACK_SECRET', default: '', doc: 'HMAC secret that signs acknowledgement links in notices. Unset: notices carry no acknowledgement link.' },
  ackBaseUrl: { env: 'ARACHNID_ACK_BASE_URL', default: '', doc: 'Public base URL of the acknowledgement endpoint (links are <base>/ack/<token>). Unset: no link.' },
  ackTtlHours: { env: 'ARACHNID_ACK_TTL_HOURS', default: 720, doc: 'Hours an acknowledgement link stays valid; every reminder carries a fresh one.' },
  recheckIntervalSeconds: { env: 'ARACHNID_RECHECK_INTERVAL', default: 86_400, doc: 'Seconds between rechecks of an open notice\'s URL (a reminder goes out after each check that still finds it).' },
  removalChecks: { env: 'ARACHNID_REMOVAL_CHECKS', default: 2, doc: 'Consecutive rechecks that must find the material gone before the removal is recorded.' },
  escalateAfterReminders: { env: 'ARACHNID_ESCALATE_AFTER', default: 3, doc: 'Reminders after which the upstream network\'s abuse contact is notified too (and again every as many).' },
  rdapBootstrapUrl: { env: 'ARACHNID_RDAP_BOOTSTRAP', default: 'https://data.iana.org/rdap/', doc: 'Folder of the RDAP bootstrap registry (RFC 9224) holding ipv4.json and ipv6.json.' },
  rdapCacheSeconds: { env: 'ARACHNID_RDAP_CACHE_TTL', default: 604_800, doc: 'Seconds an RDAP answer is kept in the database before it is asked again.' },
  dnsServers: { env: 'ARACHNID_DNS_SERVERS', default: '', doc: 'Comma-separated DNS servers (ip or ip:port) for provider lookups and rechecks. Unset: the system resolver.' },
  providerRatePerHour: { env: 'ARACHNID_PROVIDER_RATE', default: 1000, doc: 'Emails per hour at most to one abuse address (one email per incident); the rest wait for the next hour.' },
  deliveryIntervalSeconds: { env: 'ARACHNID_DELIVERY_INTERVAL', default: 30, doc: 'Seconds between the worker\'s delivery passes (and unassigned-host retries).' },
  inDoubtPolicy: { env: 'ARACHNID_IN_DOUBT', default: 'resend', doc: 'An email whose sender died while SMTP was accepting it: resend (same Message-ID; never lost, rarely doubled) or hold (an operator decides; never doubled).' },
  outboxLeaseSeconds: { env: 'ARACHNID_OUTBOX_LEASE', default: 120, doc: 'Seconds an email being sent stays leased to its worker; a worker that dies leaves it to be taken again (or found in doubt) after this.' },
  noticeTemplateDir: { env: 'ARACHNID_NOTICE_TEMPLATES', default: '', doc: 'Folder with intro.txt / intro.html overriding the opening of notice emails ({{provider}}, {{reporter}}, {{reference}}, {{kind}}).' },
  serveHost: { env: 'ARACHNID_SERVE_HOST', default: '127.0.0.1', doc: 'Address `arachnid serve` listens on (put a TLS proxy in front before exposing it).' },
  servePort: { env: 'ARACHNID_SERVE_PORT', default: 8080, doc: 'Port of `arachnid serve` (review page, JSON API, acknowledgement page, /metrics); 0 picks a free one.' },
  sessionHours: { env: 'ARACHNID_SESSION_HOURS', default: 8, doc: 'Hours an analyst session lasts after its last request.' },
  cookieSecure: { env: 'ARACHNID_COOKIE_SECURE', default: false, doc: 'Mark the session cookie Secure (set it when the review page is served over HTTPS, e.g. behind a TLS proxy).' },
  metricsToken: { env: 'ARACHNID_METRICS_TOKEN', default: '', doc: 'Bearer token a Prometheus scraper may present for /metrics instead of a session. Unset: /metrics needs a session.' },
  previewAllow: { env: 'ARACHNID_PREVIEW_ALLOW', default: '', doc: 'Comma-separated addresses or CIDRs a live preview may fetch from although private (ARACHNID_ALLOW_PRIVATE allows all).' },
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
