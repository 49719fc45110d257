import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, SETTINGS } from '@arachnid/core'

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
