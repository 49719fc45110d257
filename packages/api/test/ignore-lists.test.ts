import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashImage } from '@arachnid/hasher'
import { generateImage } from '@arachnid/synthetic'
import { dialectsUnderTest } from '@arachnid/test'
import { verdictOf } from '../src/index.js'
import { type ApiFixture, openApiFixture } from './fixture.js'

const dialects = await dialectsUnderTest()

/** A benign synthetic 256-bit hash. */
const hash256 = (seed: string) => createHash('sha256').update(seed).digest('hex')
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64')

describe('verdictOf with an ignore-list match', () => {
  it('answers no-known-match whatever else matched', () => {
    expect(verdictOf([{ algorithm: 'sha256', classification: 'csam' }, { algorithm: 'sha256', classification: 'csam', ignore: true }]))
      .toEqual({ classification: 'no-known-match', matchType: null })
    expect(verdictOf([{ algorithm: 'sha256', classification: 'csam', ignore: false }])).toEqual({ classification: 'csam', matchType: 'exact' })
  })
})

describe.each(dialects)('ignore lists in the matching service on %s', (dialect) => {
  let f: ApiFixture
  let image: Uint8Array
  let sha256: string
  const pdqHex = hash256('ignored-pdq')
  beforeAll(async () => {
    f = await openApiFixture(dialect, { maxMediaBytes: 200_000 })
    image = await generateImage({ seed: 4242 })
    sha256 = (await hashImage(image)).sha256
    await f.list('ignore-known', [`sha256,${sha256},,k1`, `pdq,${pdqHex},,k2`])
    await f.list('ignore-stock', [`sha256,${sha256},,s1`, `pdq,${pdqHex},,s2`])
    await f.database.db.updateTable('hash_lists').set({ ignore: true }).where('name', '=', 'ignore-stock').execute()
  })
  afterAll(async () => { await f?.close() })

  const media = () => f.server.inject({ method: 'POST', url: '/v1/media/', headers: { authorization: f.auth, 'content-type': 'image/jpeg' }, payload: Buffer.from(image) })
  const pdq = () => f.server.inject({ method: 'POST', url: '/v1/pdq/', headers: { authorization: f.auth }, payload: { hashes: [b64(pdqHex)] } })

  it('an ignored hash answers no-known-match on /v1/media/ and /v1/pdq/; the batch endpoint shows the ignore-list match', async () => {
    const m = await media()
    expect(m.statusCode).toBe(200)
    expect(m.json()).toMatchObject({ classification: 'no-known-match', match_type: null, is_match: false, near_match_details: [] })
    const p = await pdq()
    expect(p.json().scanned_hashes[b64(pdqHex)]).toEqual({ classification: 'no-known-match', match_type: null, near_match_details: null })
    const batch = await f.server.inject({ method: 'POST', url: '/api/v1/match', headers: { authorization: f.auth }, payload: { probes: [`sha256:${sha256}`] } })
    const matches = batch.json().results[0].matches as { list: string; ignore?: boolean }[]
    expect(matches.map((x) => [x.list, x.ignore ?? false]).sort()).toEqual([['ignore-known', false], ['ignore-stock', true]])
  })

  it('with the flag removed, the same hash answers csam again', async () => {
    await f.database.db.updateTable('hash_lists').set({ ignore: false }).where('name', '=', 'ignore-stock').execute()
    expect((await media()).json()).toMatchObject({ classification: 'csam', match_type: 'exact', is_match: true })
    expect((await pdq()).json().scanned_hashes[b64(pdqHex)]).toMatchObject({ classification: 'csam', match_type: 'near' })
    await f.database.db.updateTable('hash_lists').set({ ignore: true }).where('name', '=', 'ignore-stock').execute()
  })
})
