import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HammingIndex, hamming256, hexToWords, importList, Matcher } from '@arachnid/matcher'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

/** Seeded xorshift, so a failure can be reproduced. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0
    return x
  }
}
function randomHex(next: () => number): string {
  return Array.from({ length: 8 }, () => next().toString(16).padStart(8, '0')).join('')
}
function flipRandom(hex: string, bits: number, next: () => number): string {
  const b = Buffer.from(hex, 'hex')
  const used = new Set<number>()
  while (used.size < bits) used.add(next() & 255)
  for (const i of used) b[i >> 3]! ^= 1 << (i & 7)
  return b.toString('hex')
}

/** Families of near-duplicates (as real lists hold), plus lone hashes. */
function makeList(count: number, next: () => number): string[] {
  const out: string[] = []
  while (out.length < count) {
    const root = randomHex(next)
    out.push(root)
    const members = next() % 6
    for (let m = 0; m < members && out.length < count; m++) out.push(flipRandom(root, 2 + (next() % 20), next))
  }
  return out
}

/** Random probes, and probes planted at every distance 0..40 from list entries. */
function makeProbes(list: readonly string[], random: number, planted: number, next: () => number): string[] {
  return [
    ...Array.from({ length: random }, () => randomHex(next)),
    ...Array.from({ length: planted }, (_, i) => flipRandom(list[next() % list.length]!, i % 41, next)),
  ]
}

function bruteForce(list: readonly string[], probe: string, threshold: number): string[] {
  const p = hexToWords(probe)
  return list.filter((h) => hamming256(p, 0, hexToWords(h), 0) <= threshold)
}

describe('HammingIndex', () => {
  it.each([12, 16, 20, 24])('finds exactly what brute force finds, %i-bit chunks, thresholds 0..40', async (chunkBits) => {
    const next = rng(chunkBits)
    const list = makeList(6000, next)
    const words = new Uint32Array(list.length * 8)
    list.forEach((h, j) => hexToWords(h, words, j * 8))
    const index = await HammingIndex.build(words, { chunkBits })
    const probes = makeProbes(list, 300, 600, next)
    for (const [i, probe] of probes.entries()) {
      const threshold = i % 41
      const got: string[] = []
      index.search(hexToWords(probe), 0, threshold, (j) => got.push(list[j]!))
      expect(got.sort()).toEqual(bruteForce(list, probe, threshold).sort())
    }
  }, 180_000) // brute force over thousands of probes is slow on a loaded machine
})

describe.each(dialects)('matcher recall on %s', (dialect) => {
  let handle: TestDatabase
  beforeAll(async () => { handle = await openTestDatabase(dialect) })
  afterAll(async () => { await handle?.close() })

  it('equals brute force for PDQ (31) and blockhash (20) on random and planted probes', async () => {
    const next = rng(4242)
    const pdq = makeList(4000, next)
    const blockhash = makeList(3000, next)
    await importList(handle.db, { name: 'recall', lines: ['algorithm,hash', ...pdq.map((h) => `pdq,${h}`), ...blockhash.map((h) => `blockhash,${h}`)] })
    const matcher = new Matcher(handle.db, { pdqThreshold: 31, blockhashThreshold: 20 })
    const pdqProbes = makeProbes(pdq, 1500, 1500, next)
    const bhProbes = makeProbes(blockhash, 500, 800, next)
    const results = await matcher.match([
      ...pdqProbes.map((hash) => ({ algorithm: 'pdq' as const, hash, quality: 100 })),
      ...bhProbes.map((hash) => ({ algorithm: 'blockhash' as const, hash })),
    ])
    let planted = 0
    pdqProbes.forEach((probe, i) => {
      const expected = bruteForce(pdq, probe, 31)
      planted += expected.length > 0 ? 1 : 0
      expect(results[i]!.map((m) => m.hash).sort()).toEqual(expected.sort())
    })
    bhProbes.forEach((probe, i) => {
      expect(results[pdqProbes.length + i]!.map((m) => m.hash).sort()).toEqual(bruteForce(blockhash, probe, 20).sort())
    })
    // The probes did exercise the threshold: many within it, many just beyond it.
    expect(planted).toBeGreaterThan(1000)
    expect(matcher.stats().entries).toEqual({ pdq: 4000, blockhash: 3000, vpdq: 0 })
  }, 180_000)
})
