import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importList, Matcher, RemoteMatcher } from '@arachnid/matcher'
import { dialectsUnderTest } from '@arachnid/test'
import { type ApiFixture, eventually, openApiFixture } from './fixture.js'

const dialects = await dialectsUnderTest()

const hash256 = (seed: string) => createHash('sha256').update(seed).digest('hex')
/** The frames of a known video, one per second. */
const known = Array.from({ length: 10 }, (_, i) => hash256(`api-video-${i}`))
const frames = (hashes: readonly string[], start = 0) => hashes.map((pdq, i) => ({ pdq, quality: 90, timestamp: start + i }))

describe.each(dialects)('video probes through the service on %s', (dialect) => {
  let f: ApiFixture
  beforeAll(async () => {
    f = await openApiFixture(dialect, { maxBatch: 4 })
    await importList(f.database.db, { name: 'api-videos', format: 'vpdq', videoName: 'known.webm', lines: known.map((h, i) => `${i},100,${h},${i}`) })
  })
  afterAll(async () => { await f?.close() })

  const post = (probes: unknown) => f.server.inject({ method: 'POST', url: '/api/v1/match', headers: { authorization: f.auth }, payload: { probes } })

  it('matches a video probe by its frames and answers where, with the share', async () => {
    const probe = { algorithm: 'vpdq', hash: hash256('file'), frames: frames(known.slice(2, 7), 30) }
    expect(await eventually(async () => (await post([probe])).json().results?.[0]?.matches?.length === 1, 3000)).toBe(true)
    const { results } = (await post([probe])).json()
    expect(results[0]).toEqual({
      input: `vpdq:${hash256('file')}`,
      matches: [expect.objectContaining({ list: 'api-videos', algorithm: 'vpdq', externalId: 'known.webm', distance: 0, share: 1, timestamps: [30, 31, 32, 33, 34] })],
    })
  })

  it('refuses a malformed video probe for itself only, and counts each frame against the quota', async () => {
    const { results } = (await post([
      { algorithm: 'vpdq', frames: [] },
      { algorithm: 'vpdq', frames: [{ pdq: 'zz', quality: 90, timestamp: 0 }] },
      { algorithm: 'vpdq', frames: [{ pdq: known[0], quality: 90, timestamp: -1 }] },
      'vpdq:' + known[0],
    ])).json()
    expect(results.map((r: { error?: string }) => r.error)).toEqual([
      'a vpdq probe needs "frames": [{"pdq", "quality", "timestamp"}, ...]',
      'frames[0]: pdq hash is not hexadecimal',
      'frames[0]: timestamp must be seconds >= 0',
      'a vpdq probe is an object with its frames: {"algorithm": "vpdq", "frames": [{"pdq", "quality", "timestamp"}, ...]}',
    ])
    const tight = await f.user('tight', { quota: 5 })
    const refused = await f.server.inject({ method: 'POST', url: '/api/v1/match', headers: { authorization: tight }, payload: { probes: [{ algorithm: 'vpdq', frames: frames(known) }] } })
    expect(refused.statusCode).toBe(429)
    expect(refused.json().detail).toMatch(/exceeded by this call's 10/)
  })

  it('gives a RemoteMatcher the same answer as the matcher in process', async () => {
    await f.server.listen(0, '127.0.0.1')
    const url = new URL(`http://127.0.0.1:${f.server.port}`)
    const [user, password] = Buffer.from(f.auth.replace(/^Basic /, ''), 'base64').toString().split(':')
    url.username = user!
    url.password = password!
    const remote = new RemoteMatcher(url.toString())
    const inProcess = new Matcher(f.database.db, { refreshIntervalMs: 0 })
    try {
      const probes = [{ algorithm: 'vpdq' as const, hash: '', frames: frames(known.slice(0, 9)) }, { algorithm: 'vpdq' as const, hash: '', frames: frames([hash256('x')]) }]
      const [there, local] = [await remote.match(probes), await inProcess.match(probes)]
      expect(there).toEqual(local)
      expect(there[0]).toMatchObject([{ externalId: 'known.webm', share: 1, timestamps: [0, 1, 2, 3, 4, 5, 6, 7, 8] }])
      expect(there[1]).toEqual([])
    } finally {
      await remote.close()
      await inProcess.close()
    }
  })
})
