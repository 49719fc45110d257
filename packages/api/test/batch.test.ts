import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dialectsUnderTest } from '@arachnid/test'
import { type ApiFixture, openApiFixture } from './fixture.js'

const dialects = await dialectsUnderTest()

const MD5 = '0cc175b9c0f1b6a831c399e269772661'
const SHA256 = 'ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb'
const PDQ = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22'

describe.each(dialects)('batch endpoint on %s', (dialect) => {
  let f: ApiFixture
  beforeAll(async () => {
    f = await openApiFixture(dialect, { maxBatch: 6 })
    await f.list('batch-csam', [`md5,${MD5},c1,ext-1`, `pdq,${PDQ},c2,ext-2`])
    await f.list('batch-harm', [`sha256,${SHA256},,ext-3`], { classification: 'harmful-abusive-material' })
  })
  afterAll(async () => { await f?.close() })

  const post = (probes: unknown, auth = f.auth) => f.server.inject({ method: 'POST', url: '/api/v1/match', headers: { authorization: auth }, payload: { probes } })

  it('answers one result per probe, in order, with every field of the contract', async () => {
    const near = `${PDQ.slice(0, 62)}${(Number.parseInt(PDQ.slice(62), 16) ^ 0x0f).toString(16).padStart(2, '0')}`
    const response = await post([`md5:${MD5.toUpperCase()}`, `sha256:${SHA256}`, { algorithm: 'pdq', hash: near, quality: 90 }, 'md5:xyz', 'nope:00', `sha1:${'a'.repeat(40)}`])
    expect(response.statusCode).toBe(200)
    const { results } = response.json()
    expect(results).toHaveLength(6)
    expect(results[0]).toEqual({
      input: `md5:${MD5.toUpperCase()}`,
      matches: [{ list: 'batch-csam', algorithm: 'md5', hash: MD5, distance: 0, category: 'c1', version: 1, listId: expect.any(Number), knownHashId: expect.any(Number), externalId: 'ext-1', classification: 'csam' }],
    })
    expect(results[1].matches[0]).toMatchObject({ list: 'batch-harm', algorithm: 'sha256', category: null, classification: 'harmful-abusive-material' })
    expect(results[2].matches[0]).toMatchObject({ list: 'batch-csam', algorithm: 'pdq', hash: PDQ, distance: 4, externalId: 'ext-2' })
    expect(results[2].matches[0]).not.toHaveProperty('transform')
    expect(results[3]).toEqual({ input: 'md5:xyz', error: 'md5 hash is not hexadecimal' })
    expect(results[4]).toEqual({ input: 'nope:00', error: 'unknown algorithm "nope"' })
    expect(results[5]).toEqual({ input: `sha1:${'a'.repeat(40)}`, matches: [] })
  })

  it('matches a rotated copy through its dihedral hashes and says which one', async () => {
    const other = 'a'.repeat(64)
    const { results } = (await post([{ algorithm: 'pdq', hash: other, dihedral: [other, other, PDQ] }])).json()
    expect(results[0].matches[0]).toMatchObject({ hash: PDQ, distance: 0, transform: 2 })
    const bad = (await post([{ algorithm: 'pdq', hash: other, dihedral: ['12'] }, { algorithm: 'md5', hash: MD5, dihedral: [PDQ] }])).json()
    expect(bad.results[0].error).toMatch(/^dihedral\[0\]: pdq hash must be 64 hex/)
    expect(bad.results[1].error).toBe('dihedral hashes are for pdq probes only')
  })

  it('refuses more probes than ARACHNID_API_MAX_BATCH with 413, and a body without probes with 400', async () => {
    const many = await post(Array.from({ length: 7 }, () => `md5:${MD5}`))
    expect(many.statusCode).toBe(413)
    expect(many.json()).toEqual({ detail: '7 probes in one call: at most 6 (ARACHNID_API_MAX_BATCH)' })
    const none = await f.server.inject({ method: 'POST', url: '/api/v1/match', headers: { authorization: f.auth }, payload: { hashes: [] } })
    expect(none.statusCode).toBe(400)
    expect(none.json().detail).toMatch(/probes is required/)
    const broken = await f.server.inject({ method: 'POST', url: '/api/v1/match', headers: { authorization: f.auth, 'content-type': 'application/json' }, payload: '{"probes": [' })
    expect(broken.statusCode).toBe(400)
    expect(broken.json()).toEqual({ detail: 'the body is not a JSON object' })
  })
})

describe.each(dialects)('api users on %s', (dialect) => {
  it('refuses a name taken or malformed, and lists and disables users', async () => {
    const { openTestDatabase } = await import('@arachnid/test')
    const { addApiUser, disableApiUser, listApiUsers } = await import('../src/index.js')
    const database = await openTestDatabase(dialect)
    try {
      const added = await addApiUser(database.db, { name: 'host-a', rate: 5, quota: 100 })
      expect(added.password).toMatch(/^[A-Za-z0-9_-]{32}$/)
      await expect(addApiUser(database.db, { name: 'host-a' })).rejects.toThrow('an API user named "host-a" exists already')
      await expect(addApiUser(database.db, { name: 'a:b' })).rejects.toThrow(/expected 1 to 64 letters/)
      const stored = await database.db.selectFrom('api_users').select('password_hash').executeTakeFirstOrThrow()
      expect(stored.password_hash).toMatch(/^scrypt\$/)
      expect(stored.password_hash).not.toContain(added.password)
      expect(await disableApiUser(database.db, 'host-a')).toEqual({ alreadyDisabled: false })
      expect(await disableApiUser(database.db, 'host-a')).toEqual({ alreadyDisabled: true })
      await expect(disableApiUser(database.db, 'nobody')).rejects.toThrow('no API user named "nobody"')
      expect(await listApiUsers(database.db)).toEqual([{ name: 'host-a', rate: 5, quota: 100, usedToday: 0, disabled: true, createdAt: expect.any(Date) }])
    } finally {
      await database.close()
    }
  })
})
