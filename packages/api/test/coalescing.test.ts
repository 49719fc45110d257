import { describe, expect, it } from 'vitest'
import { importList, Matcher, type Probe } from '@arachnid/matcher'
import { dialectsUnderTest, openTestDatabase } from '@arachnid/test'
import { CoalescingMatcher } from '../src/index.js'

const dialects = await dialectsUnderTest()

/** A deterministic 64-hex PDQ from a seed, and one `bits` bits away from it. */
function pdq(seed: number, flip = 0): string {
  let x = seed * 2654435761 >>> 0
  const bytes = Buffer.alloc(32)
  for (let i = 0; i < 32; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; bytes[i] = x & 0xff }
  for (let b = 0; b < flip; b++) bytes[b >> 3]! ^= 0x80 >> (b & 7)
  return bytes.toString('hex')
}
const md5 = (n: number) => n.toString(16).padStart(32, '0')

describe.each(dialects)('CoalescingMatcher on %s', (dialect) => {
  it('answers calls that arrive together in fewer matcher calls, each with exactly what the matcher alone gives it', async () => {
    const handle = await openTestDatabase(dialect)
    const matcher = new Matcher(handle.db)
    try {
      await importList(handle.db, { name: 'coalesce', lines: ['algorithm,hash,category', ...Array.from({ length: 40 }, (_, i) => `pdq,${pdq(i)},p${i}`), ...Array.from({ length: 40 }, (_, i) => `md5,${md5(i)},m${i}`)] })
      // Eight callers, each with its own mix: near and far PDQ, dihedral hashes, exact hits and misses, a malformed one.
      const calls: Probe[][] = Array.from({ length: 8 }, (_, c) => [
        { algorithm: 'pdq', hash: pdq(c, c) },
        { algorithm: 'pdq', hash: pdq(1000 + c), dihedral: [pdq(2000 + c), pdq(c + 10, 3)] },
        { algorithm: 'md5', hash: md5(c * 3) },
        { algorithm: 'md5', hash: md5(500 + c) },
        { algorithm: 'sha256', hash: 'not-hex' },
        ...Array.from({ length: c }, (_, k) => ({ algorithm: 'pdq' as const, hash: pdq(20 + k, 40) })),
      ])
      const alone = []
      for (const probes of calls) alone.push(await matcher.match(probes))
      expect(alone.flat(2).length).toBeGreaterThan(10)

      const shared = new CoalescingMatcher(matcher, { concurrency: 2 })
      const together = await Promise.all(calls.map((probes) => shared.match(probes)))
      expect(together).toEqual(alone)
      // Two start at once; the six that wait go together in the next pass or two.
      expect(shared.counts.calls).toBe(8)
      expect(shared.counts.combined).toBeLessThanOrEqual(4)

      // A limit of 6 hashes per combined call: a call over it goes alone, the others share what fits.
      const small = new CoalescingMatcher(matcher, { concurrency: 1, maxProbes: 6 })
      expect(await Promise.all(calls.map((probes) => small.match(probes)))).toEqual(alone)
      expect(small.counts.combined).toBeGreaterThan(4)
      expect(await small.match([])).toEqual([])
    } finally {
      await matcher.close()
      await handle.close()
    }
  })

  it('fails every caller of a combined call that fails, and keeps answering later calls', async () => {
    const handle = await openTestDatabase(dialect)
    const matcher = new Matcher(handle.db)
    const shared = new CoalescingMatcher(matcher, { concurrency: 1 })
    try {
      await importList(handle.db, { name: 'fails', lines: ['algorithm,hash,category', `md5,${md5(1)},a`] })
      expect(await shared.match([{ algorithm: 'md5', hash: md5(1) }])).toMatchObject([[{ list: 'fails' }]])
      // The list's table gone: the matcher's one query fails, for both callers it answers at once.
      await handle.db.schema.alterTable('known_hashes').renameTo('known_hashes_away').execute()
      const results = await Promise.allSettled([shared.match([{ algorithm: 'md5', hash: md5(1) }]), shared.match([{ algorithm: 'md5', hash: md5(2) }])])
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
      await handle.db.schema.alterTable('known_hashes_away').renameTo('known_hashes').execute()
      expect(await shared.match([{ algorithm: 'md5', hash: md5(1) }])).toMatchObject([[{ list: 'fails' }]])
    } finally {
      await matcher.close()
      await handle.close()
    }
  })
})
