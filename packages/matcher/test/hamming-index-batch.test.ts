import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HammingIndex, HammingThreads, hamming256, hexToWords, importList, Matcher, PerceptualIndex, type LiveList } from '@arachnid/matcher'
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

function flip(words: Uint32Array, at: number, bits: number, next: () => number): void {
  const used = new Set<number>()
  while (used.size < bits) used.add(next() & 255)
  for (const b of used) words[at + (b >> 5)]! ^= 1 << (31 - (b & 31))
}

/** Families of near duplicates (a root and members 1..24 bits from it), as real lists hold. */
function makeList(size: number, next: () => number): Uint32Array {
  const words = new Uint32Array(size * 8)
  let j = 0
  while (j < size) {
    const root = j
    for (let w = 0; w < 8; w++) words[j * 8 + w] = next()
    j++
    for (let m = next() % 5; m > 0 && j < size; m--, j++) {
      words.copyWithin(j * 8, root * 8, root * 8 + 8)
      flip(words, j * 8, 1 + (next() % 24), next)
    }
  }
  return words
}

/** Random probes, and probes planted 0 and threshold-3..threshold+3 bits from list entries. */
function makeProbes(list: Uint32Array, random: number, planted: number, threshold: number, next: () => number): Uint32Array {
  const size = list.length / 8
  const words = new Uint32Array((random + planted) * 8)
  for (let i = 0; i < random * 8; i++) words[i] = next()
  const distances = [0, ...[-3, -2, -1, 0, 1, 2, 3].map((d) => threshold + d).filter((d) => d >= 0)]
  for (let p = 0; p < planted; p++) {
    const at = (random + p) * 8
    const j = next() % size
    words.set(list.subarray(j * 8, j * 8 + 8), at)
    flip(words, at, distances[p % distances.length]!, next)
  }
  return words
}

/** "probe:position:distance" of every pair within the threshold. */
function bruteForce(list: Uint32Array, probes: Uint32Array, threshold: number): string[] {
  const out: string[] = []
  for (let i = 0; i < probes.length / 8; i++) {
    for (let j = 0; j < list.length / 8; j++) {
      const d = hamming256(probes, i * 8, list, j * 8)
      if (d <= threshold) out.push(`${i}:${j}:${d}`)
    }
  }
  return out.sort()
}

function batchPairs(hits: { length: number; probes: Uint32Array; positions: Uint32Array; distances: Uint16Array }): string[] {
  const out: string[] = []
  for (let x = 0; x < hits.length; x++) out.push(`${hits.probes[x]}:${hits.positions[x]}:${hits.distances[x]}`)
  return out
}

function perProbePairs(index: HammingIndex, probes: Uint32Array, threshold: number): string[] {
  const out: string[] = []
  for (let i = 0; i < probes.length / 8; i++) index.search(probes, i * 8, threshold, (j, d) => out.push(`${i}:${j}:${d}`))
  return out.sort()
}

describe('HammingIndex.searchBatch', () => {
  // 1500 entries are below bruteForceBelow (scanned); the others get chunk tables.
  it.each([
    { size: 1500, chunkBits: undefined },
    { size: 5000, chunkBits: undefined },
    { size: 5000, chunkBits: 12 },
    { size: 5000, chunkBits: 24 },
    { size: 30_000, chunkBits: undefined },
  ])('finds exactly what brute force finds: $size entries, chunk bits $chunkBits, thresholds 0, 8, 31, 32, 64', async ({ size, chunkBits }) => {
    const next = rng(size + (chunkBits ?? 0))
    const list = makeList(size, next)
    const index = await HammingIndex.build(list, chunkBits === undefined ? {} : { chunkBits })
    for (const threshold of [0, 8, 31, 32, 64]) {
      const probes = makeProbes(list, 60, 120, threshold, next)
      const got = batchPairs(index.searchBatch(probes, probes.length / 8, threshold))
      const want = bruteForce(list, probes, threshold)
      expect([...got].sort()).toEqual(want)
      // Planted probes sit at and around the threshold: some found, and the ones just beyond not.
      expect(want.length).toBeGreaterThan(40)
      expect(got).toEqual([...got].sort((a, b) => {
        const [pa, ja] = a.split(':').map(Number); const [pb, jb] = b.split(':').map(Number)
        return pa! - pb! || ja! - jb!
      }))
    }
  }, 120_000)

  it('equals one search per probe across several passes (more probes than one pass holds)', async () => {
    const next = rng(99)
    const list = makeList(8000, next)
    const index = await HammingIndex.build(list)
    const probes = makeProbes(list, 6000, 3000, 31, next)
    const batch = batchPairs(index.searchBatch(probes, probes.length / 8, 31))
    expect([...batch].sort()).toEqual(perProbePairs(index, probes, 31))
    expect(batch.length).toBeGreaterThan(2000)
    // Only the first `count` probes are searched.
    const some = batchPairs(index.searchBatch(probes, 100, 31))
    expect(some).toEqual(batch.filter((pair) => Number(pair.split(':')[0]) < 100))
  }, 120_000)

  it('gives the same hits on worker threads as on the calling thread', async () => {
    const next = rng(7)
    const list = makeList(20_000, next)
    const index = await HammingIndex.build(list)
    // More than 2 x 2048 probes, so the batch is split between the two threads.
    const probes = makeProbes(list, 3000, 2000, 31, next)
    const threads = new HammingThreads(2)
    try {
      for (const threshold of [0, 31, 40]) {
        const onThreads = batchPairs(await threads.search(index.tables, probes, probes.length / 8, threshold))
        expect(onThreads).toEqual(batchPairs(index.searchBatch(probes, probes.length / 8, threshold)))
        expect(onThreads.length).toBeGreaterThan(50)
      }
      // Fewer probes than threads, and none.
      expect(batchPairs(await threads.search(index.tables, probes, 1, 31))).toEqual(batchPairs(index.searchBatch(probes, 1, 31)))
      expect((await threads.search(index.tables, probes, 0, 31)).length).toBe(0)
    } finally {
      await threads.close()
    }
  }, 120_000)
})

const hexOf = (words: Uint32Array, j: number) => Array.from(words.subarray(j * 8, j * 8 + 8), (w) => w.toString(16).padStart(8, '0')).join('')

describe('PerceptualIndex.searchMany', () => {
  it('returns what search returns for every probe: dead entries, versions not live, per-list thresholds, dihedral variants', async () => {
    const next = rng(2024)
    const lists: LiveList[] = [
      { listId: 1, name: 'a', versionId: 11, version: 1, pdqThreshold: null, blockhashThreshold: null },
      { listId: 2, name: 'b', versionId: 21, version: 1, pdqThreshold: 12, blockhashThreshold: 5 },
      { listId: 3, name: 'c', versionId: 31, version: 1, pdqThreshold: 40, blockhashThreshold: 30 },
    ]
    const make = async (threads: number): Promise<{ index: PerceptualIndex; all: Uint32Array }> => {
      const r = rng(5)
      const index = new PerceptualIndex({ pdqThreshold: 31, blockhashThreshold: 24, index: { threads, threadsAbove: 0 } })
      const parts = [makeList(6000, r), makeList(3000, r), makeList(2500, r), makeList(500, r), makeList(40, r)]
      const versions = [11, 21, 31, 99 /* never live */, 11]
      let id = 1
      for (const [k, words] of parts.entries()) {
        const ids = Int32Array.from({ length: words.length / 8 }, () => id++)
        for (const algorithm of ['pdq', 'blockhash'] as const) await index.add(algorithm, words, ids, versions[k]!, k === 4)
      }
      index.setLive(lists)
      const all = new Uint32Array(parts.reduce((n, p) => n + p.length, 0))
      let at = 0
      for (const p of parts) { all.set(p, at); at += p.length }
      // Retract every 7th entry of the first list.
      for (let j = 0; j < 6000; j += 7) for (const algorithm of ['pdq', 'blockhash'] as const) index.retract(algorithm, all, j * 8, j + 1)
      return { index, all }
    }
    const plain = await make(0)
    const threaded = await make(2)
    try {
      const probeWords = makeProbes(plain.all, 100, 400, 31, next)
      const probes: string[][] = []
      for (let i = 0; i < probeWords.length / 8; i++) {
        const hexes = [hexOf(probeWords, i)]
        // Some probes carry dihedral variants (near other entries), a malformed one (''), or none.
        if (i % 3 === 0) hexes.push(hexOf(probeWords, (i * 7) % (probeWords.length / 8)), '', hexOf(probeWords, (i * 13 + 5) % (probeWords.length / 8)))
        probes.push(hexes)
      }
      probes.push([''], [])
      for (const algorithm of ['pdq', 'blockhash'] as const) {
        const want = probes.map((hexes) => plain.index.search(algorithm, hexes))
        expect(await plain.index.searchMany(algorithm, probes)).toEqual(want)
        expect(await threaded.index.searchMany(algorithm, probes)).toEqual(want)
        const found = want.reduce((n, m) => n + m.size, 0)
        expect(found).toBeGreaterThan(200)
        expect(want.some((m) => [...m.values()].some((c) => c.transform > 0))).toBe(true)
      }
    } finally {
      await plain.index.close()
      await threaded.index.close()
    }
  }, 180_000)
})

describe.each(dialects)('Matcher with search threads on %s', (dialect) => {
  let handle: TestDatabase
  beforeAll(async () => { handle = await openTestDatabase(dialect) })
  afterAll(async () => { await handle?.close() })

  it('matches the same with threads as without', async () => {
    const next = rng(31)
    const list = makeList(5000, next)
    const hexes = Array.from({ length: list.length / 8 }, (_, j) => hexOf(list, j))
    await importList(handle.db, { name: 'batch-threads', lines: ['algorithm,hash', ...hexes.map((h) => `pdq,${h}`)] })
    const probeWords = makeProbes(list, 200, 600, 31, next)
    const probes = Array.from({ length: probeWords.length / 8 }, (_, i) => ({
      algorithm: 'pdq' as const, hash: hexOf(probeWords, i), quality: 100,
      ...(i % 4 === 0 ? { dihedral: [hexOf(probeWords, (i + 1) % (probeWords.length / 8)), 'nonsense'] } : {}),
    }))
    const plain = new Matcher(handle.db, { index: { threads: 0 } })
    const threaded = new Matcher(handle.db, { index: { threads: 2, threadsAbove: 0 } })
    try {
      const want = await plain.match(probes)
      expect(await threaded.match(probes)).toEqual(want)
      expect(want.filter((m) => m.length > 0).length).toBeGreaterThan(300)
      expect(want.some((m) => m.some((k) => k.transform === 0))).toBe(true)
      // Each match is within the threshold and equals brute force on the hashes.
      want.forEach((matches, i) => {
        const expected = hexes.filter((h) => [probes[i]!.hash, ...(probes[i]!.dihedral ?? [])].some((p) => /^[0-9a-f]{64}$/.test(p) && hamming256(hexToWords(p), 0, hexToWords(h), 0) <= 31))
        expect(matches.map((m) => m.hash).sort()).toEqual([...new Set(expected)].sort())
      })
    } finally {
      await threaded.close()
      await plain.close()
    }
  }, 180_000)
})
