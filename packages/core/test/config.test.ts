import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { fileURLToPath } from 'node:url'
import { ConfigError, configWarnings, loadConfig, SETTINGS } from '@arachnid/core'

describe('loadConfig', () => {
  it('takes flags over environment over defaults', () => {
    const env = { ARACHNID_MAX_PAGES: '70', ARACHNID_MAX_DEPTH: '2', ARACHNID_ALLOW_PRIVATE: 'yes' }
    const config = loadConfig({ maxPages: 9 }, env, '/srv/x')
    expect(config.maxPages).toBe(9)
    expect(config.maxDepth).toBe(2)
    expect(config.allowPrivate).toBe(true)
    expect(config.pdqThreshold).toBe(SETTINGS.pdqThreshold.default)
    expect(config.home).toBe(path.resolve('/srv/x', '.arachnid'))
  })

  it('rejects a malformed value with the variable named', () => {
    expect(() => loadConfig({}, { ARACHNID_MAX_PAGES: 'lots' })).toThrow(ConfigError)
    expect(() => loadConfig({}, { ARACHNID_MAX_PAGES: 'lots' })).toThrow(/ARACHNID_MAX_PAGES/)
    expect(() => loadConfig({}, { ARACHNID_ALLOW_PRIVATE: 'maybe' })).toThrow(/ARACHNID_ALLOW_PRIVATE/)
  })
})

describe('every setting is checked when loaded', () => {
  const bad: [string, string, RegExp][] = [
    ['ARACHNID_IN_DOUBT', 'hodl', /^ARACHNID_IN_DOUBT=hodl: expected one of resend, hold$/],
    ['ARACHNID_PDQ_THRESHOLD', '999', /^ARACHNID_PDQ_THRESHOLD=999: expected an integer from 0 to 256$/],
    ['ARACHNID_PDQ_MIN_QUALITY', '101', /^ARACHNID_PDQ_MIN_QUALITY=101: expected an integer from 0 to 100$/],
    ['ARACHNID_PAGE_CONCURRENCY', '0', /^ARACHNID_PAGE_CONCURRENCY=0: expected an integer from 1 to 1000$/],
    ['ARACHNID_MAX_PAGES', '1.5', /expected an integer/],
    ['LOG_LEVEL', 'loud', /^LOG_LEVEL=loud: expected one of fatal, error, warn, info, debug, trace, silent$/],
    ['DATABASE_URL', 'notaurl', /^DATABASE_URL=notaurl: not a URL/],
    ['DATABASE_URL', 'mysql://u:secret@db/x', /^DATABASE_URL=mysql:\/\/u:\*\*\*@db\/x: expected a postgres or postgresql URL/],
    ['SMTP_URL', 'bogus', /^SMTP_URL=bogus: not a URL/],
    ['ARACHNID_ACK_BASE_URL', 'ftp://x/', /expected a http or https URL/],
    ['ARACHNID_PREVIEW_ALLOW', '10.0.0.0/8,999.1.1.1/8', /^ARACHNID_PREVIEW_ALLOW "999\.1\.1\.1\/8": expected an IP address or a CIDR range/],
    ['ARACHNID_DNS_SERVERS', '127.0.0.1:99999', /the port must be 1\.\.65535/],
    ['ARACHNID_NOTICE_FROM', 'not an address', /^ARACHNID_NOTICE_FROM=not an address: expected an email address/],
    ['ARACHNID_SERVE_PORT', '70000', /expected an integer from 0 to 65535/],
    ['ARACHNID_ALLOW_PRIVATE', 'maybe', /expected true or false/],
  ]
  it.each(bad)('%s=%s stops with one line naming it', (name, value, message) => {
    expect(() => loadConfig({}, { [name]: value })).toThrow(ConfigError)
    expect(() => loadConfig({}, { [name]: value })).toThrow(message)
  })

  it('takes good values of every kind', () => {
    const config = loadConfig({}, {
      ARACHNID_IN_DOUBT: 'hold', ARACHNID_PDQ_THRESHOLD: '256', LOG_LEVEL: 'debug', DATABASE_URL: 'postgresql://u@127.0.0.1:5432/db',
      SMTP_URL: 'smtps://127.0.0.1:465', ARACHNID_PREVIEW_ALLOW: '127.0.0.1, 10.0.0.0/8, ::1', ARACHNID_DNS_SERVERS: '127.0.0.1:53,[::1]:53,::1',
      ARACHNID_NOTICE_FROM: 'Notices <n@example.org>', ARACHNID_SESSION_HOURS: '0.5',
    })
    expect(config).toMatchObject({ inDoubtPolicy: 'hold', pdqThreshold: 256, logLevel: 'debug', sessionHours: 0.5 })
  })

  it('warns about a threshold above 64, which matches unrelated images', () => {
    expect(configWarnings(loadConfig({}, { ARACHNID_PDQ_THRESHOLD: '100' }))).toEqual([expect.stringMatching(/^ARACHNID_PDQ_THRESHOLD=100 is above 64/)])
    expect(configWarnings(loadConfig({}, {}))).toEqual([])
  })

  it('refuses an ARACHNID_HOME that is a file', () => {
    expect(() => loadConfig({}, { ARACHNID_HOME: fileURLToPath(import.meta.url) })).toThrow(/expected a folder, but it is a file/)
  })
})
