import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importList, listLists, Matcher, recordMatches, hamming256, hexToWords } from '@arachnid/matcher'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/** A deterministic 256-bit hash and a copy of it with `flips` bits changed. */
function hash256(seed: string): string {
  return createHash('sha256').update(seed).digest('hex')
}
function flipBits(hex: string, flips: number, seed = 0): string {
  const bytes = Buffer.from(hex, 'hex')
  const used = new Set<number>()
  let x = (seed * 7919 + 13) >>> 0
  while (used.size < flips) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    used.add(x >>> 24)
  }
  for (const bit of used) bytes[bit >> 3]! ^= 1 << (bit & 7)
  return bytes.toString('hex')
}

describe.each(dialects)('matcher on %s', (dialect) => {
  let handle: TestDatabase
  beforeAll(async () => { handle = await openTestDatabase(dialect) })
  afterAll(async () => { await handle?.close() })

  it('imports a list, reports bad rows by line number and applies the valid ones', async () => {
    const md5 = createHash('md5').update('known-1').digest('hex')
    const result = await importList(handle.db, {
      name: 'alpha',
      lines: [
        'algorithm,hash,category,external_id',
        `md5,${md5},A1,ext-1`,
        'md5,nothex,,',
        `sha256,${hash256('known-2')},B,ext-2`,
        `blockhash,${hash256('bh-1')},A1,ext-3`,
        'whirlpool,abcd,,',
        `sha1,${'ab'.repeat(19)},,`,
      ],
    })
    expect(result.applied).toBe(true)
    expect(result.imported).toBe(3)
    expect(result.version).toBe(1)
    expect(result.rejected).toEqual([
      { line: 3, reason: 'md5 hash is not hexadecimal' },
      { line: 6, reason: 'unknown algorithm "whirlpool"' },
      { line: 7, reason: 'sha1 hash must be 40 hex characters, got 38' },
    ])
    const summary = (await listLists(handle.db)).find((l) => l.name === 'alpha')
    expect(summary).toMatchObject({ name: 'alpha', version: 1, hashes: 3, byAlgorithm: { md5: 1, sha256: 1, blockhash: 1 } })
  })

  it('applies nothing in strict mode when a row is bad, and keeps the old version matching', async () => {
    const kept = createHash('md5').update('strict-kept').digest('hex')
    await importList(handle.db, { name: 'strict-alpha', lines: ['algorithm,hash', `md5,${kept}`] })
    const result = await importList(handle.db, { name: 'strict-alpha', strict: true, lines: ['algorithm,hash', `md5,${createHash('md5').update('strict-new').digest('hex')}`, 'md5,zz'] })
    expect(result.applied).toBe(false)
    expect(result.rejected).toHaveLength(1)
    expect((await listLists(handle.db)).find((l) => l.name === 'strict-alpha')?.version).toBe(1)
    const [still] = await new Matcher(handle.db).match([{ algorithm: 'md5', hash: kept }])
    expect(still).toEqual([expect.objectContaining({ list: 'strict-alpha', listVersion: 1 })])
  })

  it('rejects a file without the header', async () => {
    await expect(importList(handle.db, { name: 'beta', lines: [`md5,${'0'.repeat(32)}`] })).rejects.toThrow(/header/)
  })

  it('matches exact hashes in one batch, with list, version, category and external id', async () => {
    const md5 = createHash('md5').update('exact-1').digest('hex')
    await importList(handle.db, { name: 'exact', lines: ['algorithm,hash,category,external_id', `md5,${md5},A1,ext-1`, `sha256,${hash256('exact-2')},B,ext-2`] })
    const matcher = new Matcher(handle.db)
    const [a, b, c] = await matcher.match([
      { algorithm: 'md5', hash: md5.toUpperCase() },
      { algorithm: 'sha256', hash: hash256('unknown') },
      { algorithm: 'sha256', hash: hash256('exact-2') },
    ])
    expect(a).toEqual([expect.objectContaining({ list: 'exact', listVersion: 1, algorithm: 'md5', hash: md5, distance: 0, category: 'A1', externalId: 'ext-1' })])
    expect(b).toEqual([])
    expect(c?.[0]).toMatchObject({ category: 'B', externalId: 'ext-2' })
  })

  it('finds perceptual matches exactly within the threshold, like a brute-force scan', async () => {
    const base = Array.from({ length: 300 }, (_, i) => hash256(`family-${i}`))
    const lines = ['algorithm,hash,category', ...base.map((h, i) => `pdq,${h},c${i % 3}`)]
    await importList(handle.db, { name: 'gamma', lines })
    const matcher = new Matcher(handle.db, { pdqThreshold: 31 })
    const probes = [
      ...Array.from({ length: 40 }, (_, i) => ({ algorithm: 'pdq' as const, hash: flipBits(base[i]!, i, i), quality: 100 })),
      ...Array.from({ length: 40 }, () => ({ algorithm: 'pdq' as const, hash: randomBytes(32).toString('hex'), quality: 100 })),
      { algorithm: 'pdq' as const, hash: base[0]!, quality: 10 },
    ]
    const results = await matcher.match(probes)
    const words = base.map((h) => hexToWords(h))
    probes.forEach((probe, i) => {
      const pw = hexToWords(probe.hash)
      const expected = probe.quality < 50 ? [] : base.flatMap((h, j) => {
        const d = hamming256(pw, 0, words[j]!, 0)
        return d <= 31 ? [{ hash: h, distance: d }] : []
      })
      expect(results[i]!.map((m) => ({ hash: m.hash, distance: m.distance }))).toEqual(expected)
    })
    expect(results.slice(0, 32).every((r) => r.length === 1)).toBe(true)
    expect(results.slice(32, 40).every((r) => r.length === 0)).toBe(true)
  })

  it('sees a new version at once and stops matching what it dropped', async () => {
    const gone = hash256('versioned-first')
    await importList(handle.db, { name: 'versioned', lines: ['algorithm,hash', `pdq,${gone}`] })
    const matcher = new Matcher(handle.db, { refreshIntervalMs: 0 })
    expect((await matcher.match([{ algorithm: 'pdq', hash: gone }]))[0]).toHaveLength(1)
    await importList(handle.db, { name: 'versioned', lines: ['algorithm,hash', `pdq,${hash256('replacement')}`] })
    const [dropped, added] = await matcher.match([{ algorithm: 'pdq', hash: gone }, { algorithm: 'pdq', hash: hash256('replacement') }])
    expect(dropped).toEqual([])
    expect(added).toEqual([expect.objectContaining({ list: 'versioned', listVersion: 2, distance: 0 })])
  })

  it('records each match once per media and list entry', async () => {
    const media = await handle.db.insertInto('media')
      .values({ sha256: randomBytes(32), md5: randomBytes(16), sha1: randomBytes(20), bytes: 1 })
      .returning('id').executeTakeFirstOrThrow()
    await importList(handle.db, { name: 'recorded', lines: ['algorithm,hash', `sha256,${hash256('recorded-entry')}`] })
    const matcher = new Matcher(handle.db)
    const [found] = await matcher.match([{ algorithm: 'sha256', hash: hash256('recorded-entry') }])
    const first = await recordMatches(handle.db, [{ mediaId: media.id, jobId: null, matches: found! }])
    const again = await recordMatches(handle.db, [{ mediaId: media.id, jobId: null, matches: found! }])
    expect(first).toHaveLength(1)
    expect(first[0]).toMatchObject({ mediaId: media.id, list: 'recorded', status: 'auto-confirmed' })
    expect(again).toEqual([])
  })
})
