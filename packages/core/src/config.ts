import { statSync } from 'node:fs'
import path from 'node:path'
import { ConfigError } from './errors.js'
import { checkServerAddress, checkUrl, parseAddressRanges } from './validate.js'

/** pino's levels, for LOG_LEVEL. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/**
 * Every setting in one place: its environment variable, its default and what it means.
 * Precedence, highest first: command-line flag, environment variable, default.
 * The README's configuration table is generated from this list (`arachnid config`).
 */
export const SETTINGS = {
  home: { env: 'ARACHNID_HOME', default: '.arachnid', check: { kind: 'text', nonEmpty: true }, doc: 'Folder for the embedded database and the .eml outbox (relative to the working directory).' },
  databaseUrl: { env: 'DATABASE_URL', default: '', check: { kind: 'url', protocols: ['postgres:', 'postgresql:'], example: 'postgres://user@127.0.0.1:5432/arachnid' }, doc: 'Postgres connection string. Unset: embedded PGlite in $ARACHNID_HOME/db.' },
  smtpUrl: { env: 'SMTP_URL', default: '', check: { kind: 'url', protocols: ['smtp:', 'smtps:'], example: 'smtp://127.0.0.1:25' }, doc: 'SMTP server for notices (smtp://host:port). Unset: notices are written as .eml files to $ARACHNID_HOME/outbox.' },
  noticeFrom: { env: 'ARACHNID_NOTICE_FROM', default: 'Arachnid Notices <notices@arachnid.invalid>', check: { kind: 'email' }, doc: 'From address of notice emails.' },
  reporterName: { env: 'ARACHNID_REPORTER', default: 'Arachnid open-source crawler', check: { kind: 'text', nonEmpty: true }, doc: 'Reporter identity named in notices.' },
  maxPages: { env: 'ARACHNID_MAX_PAGES', default: 1000, check: { kind: 'int', min: 1, max: 100_000_000 }, doc: 'Pages per crawl job.' },
  maxDepth: { env: 'ARACHNID_MAX_DEPTH', default: 5, check: { kind: 'int', min: 0, max: 100_000 }, doc: 'Link depth from the seeds.' },
  maxMediaBytes: { env: 'ARACHNID_MAX_MEDIA_BYTES', default: 32 * 1024 * 1024, check: { kind: 'int', min: 1024, max: 4 * 1024 * 1024 * 1024 }, doc: 'Bytes per media response; larger ones are recorded as TOO_LARGE.' },
  maxVideoBytes: { env: 'ARACHNID_MAX_VIDEO_BYTES', default: 512 * 1024 * 1024, check: { kind: 'int', min: 1024, max: 2 ** 31 - 1 }, doc: 'Bytes per video (held in memory while ffmpeg decodes it); larger ones are recorded as TOO_LARGE.' },
  maxVideoSeconds: { env: 'ARACHNID_MAX_VIDEO_SECONDS', default: 4 * 3600, check: { kind: 'int', min: 1, max: 7 * 24 * 3600 }, doc: 'Seconds of video hashed at most: a longer declared duration is refused before decoding, and decoding stops there (TOO_LONG).' },
  videoTimeoutMs: { env: 'ARACHNID_VIDEO_TIMEOUT_MS', default: 600_000, check: { kind: 'int', min: 1000, max: 86_400_000 }, doc: 'Wall time per video (probe and decode); ffmpeg is killed after it (TIMEOUT).' },
  maxVideoFrames: { env: 'ARACHNID_MAX_VIDEO_FRAMES', default: 1_000_000, check: { kind: 'int', min: 1, max: 1_000_000_000 }, doc: 'Frames decoded per video at most (4 h at 60 fps is 864,000); decoding stops there (TOO_MANY_FRAMES).' },
  maxPageBytes: { env: 'ARACHNID_MAX_PAGE_BYTES', default: 5 * 1024 * 1024, check: { kind: 'int', min: 1024, max: 1024 * 1024 * 1024 }, doc: 'Bytes per HTML page.' },
  maxPixels: { env: 'ARACHNID_MAX_PIXELS', default: 50_000_000, check: { kind: 'int', min: 1, max: 1_000_000_000 }, doc: 'Pixels per image, checked from the header before decoding.' },
  requestTimeoutMs: { env: 'ARACHNID_REQUEST_TIMEOUT_MS', default: 15_000, check: { kind: 'int', min: 100, max: 3_600_000 }, doc: 'Time per request (pages and media).' },
  maxRedirects: { env: 'ARACHNID_MAX_REDIRECTS', default: 5, check: { kind: 'int', min: 0, max: 50 }, doc: 'Redirects followed per request.' },
  pageConcurrency: { env: 'ARACHNID_PAGE_CONCURRENCY', default: 8, check: { kind: 'int', min: 1, max: 1000 }, doc: 'Pages fetched at once.' },
  mediaConcurrency: { env: 'ARACHNID_MEDIA_CONCURRENCY', default: 8, check: { kind: 'int', min: 1, max: 1000 }, doc: 'Media fetched and hashed at once.' },
  hashWorkers: { env: 'ARACHNID_HASH_WORKERS', default: 0, check: { kind: 'int', min: 0, max: 64 }, doc: 'Worker threads that hash images in a crawling process (crawl, worker, demo), off the thread that fetches and records; 0 hashes on that thread. On 2 cores, since hashing got cheaper, 0 is faster (bench/crawl 0.63 against 0.56 with 2 threads at 5,000 pages); more cores may want some.' },
  matchBatchSize: { env: 'ARACHNID_MATCH_BATCH', default: 64, check: { kind: 'int', min: 1, max: 100_000 }, doc: 'Media hashed before one batched match lookup.' },
  blockhashThreshold: { env: 'ARACHNID_BLOCKHASH_THRESHOLD', default: 24, check: { kind: 'int', min: 0, max: 256, warnAbove: 64 }, doc: 'Largest Hamming distance (of 256 bits) for a blockhash match.' },
  pdqThreshold: { env: 'ARACHNID_PDQ_THRESHOLD', default: 31, check: { kind: 'int', min: 0, max: 256, warnAbove: 64 }, doc: 'Largest Hamming distance (of 256 bits) for a PDQ match.' },
  pdqMinQuality: { env: 'ARACHNID_PDQ_MIN_QUALITY', default: 50, check: { kind: 'int', min: 0, max: 100 }, doc: 'PDQ hashes of lower quality are not matched.' },
  videoMatchShare: { env: 'ARACHNID_VIDEO_MATCH_SHARE', default: 0.8, check: { kind: 'number', min: 0.01, max: 1 }, doc: 'A video matches a known video when at least this share of its distinct frames of quality >= ARACHNID_PDQ_MIN_QUALITY lie within the PDQ threshold of some frame of the known video (vPDQ\'s rule).' },
  allowPrivate: { env: 'ARACHNID_ALLOW_PRIVATE', default: false, check: { kind: 'bool' }, doc: 'Allow crawling private, loopback and link-local addresses.' },
  logLevel: { env: 'LOG_LEVEL', default: 'info', check: { kind: 'enum', values: LOG_LEVELS }, doc: 'pino log level (logs go to stderr).' },
  ackSecret: { env: 'ARACHNID_ACK_SECRET', default: '', check: { kind: 'text' }, doc: 'HMAC secret that signs acknowledgement links in notices. Unset: notices carry no acknowledgement link.' },
  ackBaseUrl: { env: 'ARACHNID_ACK_BASE_URL', default: '', check: { kind: 'url', protocols: ['http:', 'https:'], example: 'https://notices.example.org' }, doc: 'Public base URL of the acknowledgement endpoint (links are <base>/ack/<token>). Unset: no link.' },
  ackTtlHours: { env: 'ARACHNID_ACK_TTL_HOURS', default: 720, check: { kind: 'int', min: 1, max: 100_000 }, doc: 'Hours an acknowledgement link stays valid; every reminder carries a fresh one.' },
  recheckIntervalSeconds: { env: 'ARACHNID_RECHECK_INTERVAL', default: 86_400, check: { kind: 'int', min: 1, max: 31_536_000 }, doc: 'Seconds between rechecks of an open notice\'s URL (a reminder goes out after each check that still finds it).' },
  removalChecks: { env: 'ARACHNID_REMOVAL_CHECKS', default: 2, check: { kind: 'int', min: 1, max: 100 }, doc: 'Consecutive rechecks that must find the material gone before the removal is recorded.' },
  escalateAfterReminders: { env: 'ARACHNID_ESCALATE_AFTER', default: 3, check: { kind: 'int', min: 1, max: 1000 }, doc: 'Reminders after which the upstream network\'s abuse contact is notified too (and again every as many).' },
  rdapBootstrapUrl: { env: 'ARACHNID_RDAP_BOOTSTRAP', default: 'https://data.iana.org/rdap/', check: { kind: 'url', protocols: ['http:', 'https:'], example: 'https://data.iana.org/rdap/' }, doc: 'Folder of the RDAP bootstrap registry (RFC 9224) holding ipv4.json and ipv6.json.' },
  rdapCacheSeconds: { env: 'ARACHNID_RDAP_CACHE_TTL', default: 604_800, check: { kind: 'int', min: 0, max: 31_536_000 }, doc: 'Seconds an RDAP answer is kept in the database before it is asked again.' },
  dnsServers: { env: 'ARACHNID_DNS_SERVERS', default: '', check: { kind: 'servers' }, doc: 'Comma-separated DNS servers (ip or ip:port) for provider lookups and rechecks. Unset: the system resolver.' },
  providerRatePerHour: { env: 'ARACHNID_PROVIDER_RATE', default: 1000, check: { kind: 'int', min: 1, max: 1_000_000 }, doc: 'Emails per hour at most to one abuse address (one email per incident); the rest wait for the next hour.' },
  deliveryIntervalSeconds: { env: 'ARACHNID_DELIVERY_INTERVAL', default: 30, check: { kind: 'int', min: 1, max: 86_400 }, doc: 'Seconds between the worker\'s delivery passes (and unassigned-host retries).' },
  pullIntervalSeconds: { env: 'ARACHNID_PULL_INTERVAL', default: 3600, check: { kind: 'int', min: 0, max: 31_536_000 }, doc: 'Seconds between the scheduled pulls of every list followed from a peer (`lists subscribe`), run by `notify worker`; 0: no scheduled pulls (`lists pull` still pulls).' },
  inDoubtPolicy: { env: 'ARACHNID_IN_DOUBT', default: 'resend', check: { kind: 'enum', values: ['resend', 'hold'] }, doc: 'An email whose sender died while SMTP was accepting it: resend (same Message-ID; never lost, rarely doubled) or hold (an operator decides; never doubled).' },
  outboxLeaseSeconds: { env: 'ARACHNID_OUTBOX_LEASE', default: 120, check: { kind: 'int', min: 5, max: 86_400 }, doc: 'Seconds an email being sent stays leased to its worker; a worker that dies leaves it to be taken again (or found in doubt) after this.' },
  noticeTemplateDir: { env: 'ARACHNID_NOTICE_TEMPLATES', default: '', check: { kind: 'text' }, doc: 'Folder with intro.txt / intro.html overriding the opening of notice emails ({{provider}}, {{reporter}}, {{reference}}, {{kind}}).' },
  serveHost: { env: 'ARACHNID_SERVE_HOST', default: '127.0.0.1', check: { kind: 'host' }, doc: 'Address `arachnid serve` listens on (put a TLS proxy in front before exposing it).' },
  servePort: { env: 'ARACHNID_SERVE_PORT', default: 8080, check: { kind: 'int', min: 0, max: 65_535 }, doc: 'Port of `arachnid serve` (review page, JSON API, acknowledgement page, /metrics); 0 picks a free one.' },
  sessionHours: { env: 'ARACHNID_SESSION_HOURS', default: 8, check: { kind: 'number', min: 0.01, max: 8760 }, doc: 'Hours an analyst session lasts after its last request.' },
  cookieSecure: { env: 'ARACHNID_COOKIE_SECURE', default: false, check: { kind: 'bool' }, doc: 'Mark the session cookie Secure (set it when the review page is served over HTTPS, e.g. behind a TLS proxy).' },
  metricsToken: { env: 'ARACHNID_METRICS_TOKEN', default: '', check: { kind: 'text' }, doc: 'Bearer token a Prometheus scraper may present for /metrics instead of a session. Unset: /metrics needs a session.' },
  previewAllow: { env: 'ARACHNID_PREVIEW_ALLOW', default: '', check: { kind: 'ranges' }, doc: 'Comma-separated addresses or CIDRs a live preview may fetch from although private (ARACHNID_ALLOW_PRIVATE allows all).' },
  matcherUrl: { env: 'ARACHNID_MATCHER_URL', default: '', check: { kind: 'url', protocols: ['http:', 'https:'], example: 'http://worker:password@127.0.0.1:8090' }, doc: 'Matching service (`arachnid api`) that crawl workers, `match` and `serve` match through, with an API user\'s credentials in the URL. Unset: each process matches in-process.' },
  apiHost: { env: 'ARACHNID_API_HOST', default: '127.0.0.1', check: { kind: 'host' }, doc: 'Address `arachnid api` listens on (put a TLS proxy in front before exposing it).' },
  apiPort: { env: 'ARACHNID_API_PORT', default: 8090, check: { kind: 'int', min: 0, max: 65_535 }, doc: 'Port of `arachnid api` (Shield v1 endpoints, the batch endpoint, /healthz, /metrics, /openapi.json); 0 picks a free one.' },
  apiMaxBatch: { env: 'ARACHNID_API_MAX_BATCH', default: 10_000, check: { kind: 'int', min: 1, max: 1_000_000 }, doc: 'Hashes per call at most (the batch endpoint and /v1/pdq/); a larger call is a 413.' },
  apiRate: { env: 'ARACHNID_API_RATE', default: 100, check: { kind: 'int', min: 1, max: 1_000_000 }, doc: 'Requests per second an API user may make, unless `api users add --rate` gave it its own; more get 429 with Retry-After.' },
  apiDailyQuota: { env: 'ARACHNID_API_DAILY_QUOTA', default: 10_000_000, check: { kind: 'int', min: 1, max: 1_000_000_000_000 }, doc: 'Hashes and media an API user may check per UTC day, unless `api users add --quota` gave it its own; more get 429 with Retry-After.' },
} as const

type Settings = typeof SETTINGS
type ValueOf<K extends keyof Settings> = Settings[K]['default'] extends number
  ? number
  : Settings[K]['default'] extends boolean
    ? boolean
    : string

export type Config = { readonly [K in keyof Settings]: ValueOf<K> }
export type ConfigOverrides = { readonly [K in keyof Settings]?: ValueOf<K> | undefined }

/** What a setting accepts; every value is checked when the configuration is loaded. */
export type SettingCheck =
  | { readonly kind: 'int'; readonly min: number; readonly max: number; readonly warnAbove?: number }
  | { readonly kind: 'number'; readonly min: number; readonly max: number }
  | { readonly kind: 'bool' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'url'; readonly protocols: readonly string[]; readonly example: string }
  | { readonly kind: 'ranges' }
  | { readonly kind: 'servers' }
  | { readonly kind: 'email' }
  | { readonly kind: 'host' }
  | { readonly kind: 'text'; readonly nonEmpty?: boolean }

/** What a setting allows, in words, for error messages and `arachnid config`. */
export function describeCheck(check: SettingCheck): string {
  switch (check.kind) {
    case 'int': return `an integer from ${check.min} to ${check.max}`
    case 'number': return `a number from ${check.min} to ${check.max}`
    case 'bool': return 'true or false'
    case 'enum': return `one of ${check.values.join(', ')}`
    case 'url': return `a ${check.protocols.map((p) => p.replace(/:$/, '')).join(' or ')} URL, e.g. ${check.example}`
    case 'ranges': return 'comma-separated IP addresses or CIDR ranges, e.g. 127.0.0.1/32,10.0.0.0/8'
    case 'servers': return 'comma-separated IP addresses, each optionally with :port, e.g. 127.0.0.1:53'
    case 'email': return 'an email address, optionally with a display name: Name <notices@example.org>'
    case 'host': return 'an IP address or a host name to listen on'
    case 'text': return check.nonEmpty ? 'a non-empty text' : 'any text'
  }
}

/** Checks one raw value (from the environment) and returns it typed; a ConfigError names the variable, the value and what is allowed. */
export function parseSetting(key: keyof Settings, raw: string): string | number | boolean {
  const setting = SETTINGS[key]
  const check = setting.check as SettingCheck
  const bad = (): never => { throw new ConfigError(`${setting.env}=${raw}: expected ${describeCheck(check)}`) }
  const value = raw.trim()
  switch (check.kind) {
    case 'int':
    case 'number': {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) return bad()
      const n = Number(value)
      if (!Number.isFinite(n) || n < check.min || n > check.max || (check.kind === 'int' && !Number.isInteger(n))) return bad()
      return n
    }
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(value)) return true
      if (/^(0|false|no|off)$/i.test(value)) return false
      return bad()
    case 'enum':
      return check.values.includes(value) ? value : bad()
    case 'url':
      checkUrl(value, check.protocols, setting.env, check.example)
      return value
    case 'ranges':
      parseAddressRanges(value, setting.env)
      return value
    case 'servers':
      for (const server of value.split(',').map((s) => s.trim()).filter(Boolean)) checkServerAddress(server, setting.env)
      return value
    case 'email':
      return /^([^<>]*<)?[^\s@<>]+@[^\s@<>]+>?$/.test(value) && (value.includes('<') === value.endsWith('>')) ? value : bad()
    case 'host':
      return /^[A-Za-z0-9.:_-]+$/.test(value) ? value : bad()
    case 'text':
      return check.nonEmpty && value === '' ? bad() : raw
  }
}


/**
 * Resolves the configuration: flags over environment over defaults. Every value from the
 * environment is checked (numbers and their ranges, choices, URLs, address ranges); the first bad
 * one is a ConfigError saying which variable, what it holds and what is allowed.
 *
 * @example
 * const config = loadConfig({ maxPages: 50 }, process.env)
 */
export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const out: Record<string, unknown> = {}
  for (const [key, setting] of Object.entries(SETTINGS)) {
    const override = (overrides as Record<string, unknown>)[key]
    const raw = env[setting.env]
    if (override !== undefined) out[key] = typeof override === 'string' || typeof override === 'number' || typeof override === 'boolean' ? parseSetting(key as keyof Settings, String(override)) : override
    else if (raw !== undefined && raw !== '') out[key] = parseSetting(key as keyof Settings, raw)
    else out[key] = setting.default
  }
  out.home = path.resolve(cwd, out.home as string)
  const home = statSync(out.home as string, { throwIfNoEntry: false })
  if (home !== undefined && !home.isDirectory()) throw new ConfigError(`${SETTINGS.home.env}=${out.home}: expected a folder, but it is a file`)
  return out as Config
}

/** Values that are allowed but probably a mistake (a PDQ threshold of 100 matches unrelated images), in words. */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = []
  for (const [key, setting] of Object.entries(SETTINGS)) {
    const check = setting.check as SettingCheck
    const value = (config as Record<string, unknown>)[key]
    if (check.kind === 'int' && check.warnAbove !== undefined && typeof value === 'number' && value > check.warnAbove) {
      warnings.push(`${setting.env}=${value} is above ${check.warnAbove}: distances that large match unrelated images`)
    }
  }
  return warnings
}

export function outboxDir(config: Pick<Config, 'home'>): string {
  return path.join(config.home, 'outbox')
}
