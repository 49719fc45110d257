import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { HammingIndex, HammingThreads, hamming256 } from '@arachnid/matcher'
import { type BatchHits, searchTables, searchTablesNative, searchTablesTypeScript } from '../src/batched-search.js'
import { nativeKernel, nativeKernelStatus } from '../src/native/index.js'

// The native kernel is optional (built by node-gyp at install; a failed build does not fail the
// install), so its half of these tests is skipped where it did not build, and says so; CI must
// have built it, so there a missing kernel is a failure.
const native = nativeKernel !== undefined
if (!native) console.warn(`native Hamming kernel ${nativeKernelStatus}: its comparison with the TypeScript search is skipped`)

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

/** Random probes, then probes planted 0..40 bits from list entries (every distance in turn). */
function makeProbes(list: Uint32Array, random: number, planted: number, next: () => number): Uint32Array {
  const size = list.length / 8
  const words = new Uint32Array((random + planted) * 8)
  for (let i = 0; i < random * 8; i++) words[i] = next()
  for (let p = 0; p < planted; p++) {
    const at = (random + p) * 8
    const j = next() % size
    words.set(list.subarray(j * 8, j * 8 + 8), at)
    flip(words, at, p % 41, next)
  }
  return words
}

function plain(hits: BatchHits): { probes: number[]; positions: number[]; distances: number[] } {
  return {
    probes: [...hits.probes.subarray(0, hits.length)],
    positions: [...hits.positions.subarray(0, hits.length)],
    distances: [...hits.distances.subarray(0, hits.length)],
  }
}

describe('native Hamming kernel', () => {
  const threads = new HammingThreads(2)
  afterAll(() => threads.close())

  it('is loaded in CI (the install must have built it)', () => {
    if (process.env.CI && process.env.ARACHNID_NATIVE !== '0') expect(nativeKernelStatus).toMatch(/^loaded/)
  })

  // Chunk widths 12..24 (24 as at 10M entries), thresholds below, at and around PDQ's 31, and
  // batches of more than 4,096 probes so the kernel's passes are crossed. (12-bit chunks at
  // threshold 48 give ~20,000 candidates per probe: that case has fewer probes.)
  it.skipIf(!native).each([
    { size: 40_000, chunkBits: undefined, thresholds: [0, 8, 31, 32, 40], random: 7_000, planted: 2_000 },
    { size: 20_000, chunkBits: 12, thresholds: [0, 31, 48], random: 3_000, planted: 1_500 },
    { size: 30_000, chunkBits: 16, thresholds: [1, 31], random: 7_000, planted: 2_000 },
    { size: 30_000, chunkBits: 20, thresholds: [2, 31, 33], random: 7_000, planted: 2_000 },
    { size: 30_000, chunkBits: 24, thresholds: [0, 30, 31], random: 7_000, planted: 2_000 },
  ])('gives the same hits, distances and order as the TypeScript search ($size entries, chunkBits $chunkBits)', async ({ size, chunkBits, thresholds, random, planted: plantedCount }) => {
    const next = rng(size + (chunkBits ?? 0))
    const list = makeList(size, next)
    const index = await HammingIndex.build(list, chunkBits === undefined ? {} : { chunkBits })
    const probes = makeProbes(list, random, plantedCount, next)
    const count = probes.length / 8
    for (const threshold of thresholds) {
      const ts = plain(searchTablesTypeScript(index.tables, probes, count, threshold))
      const nat = plain(searchTablesNative(index.tables, probes, count, threshold))
      expect(nat.probes.length, `threshold ${threshold}`).toBe(ts.probes.length)
      expect(nat, `threshold ${threshold}`).toEqual(ts)
      // What the index answers by default (native here) is that too, and so are the worker threads.
      expect(plain(index.searchBatch(probes, count, threshold))).toEqual(ts)
      expect(plain(await threads.search(index.tables, probes, count, threshold))).toEqual(ts)
      // Planted probes within the threshold find their entry, at its true distance.
      if (threshold === 31) {
        const planted = ts.probes.filter((p) => p >= random)
        expect(planted.length).toBeGreaterThan(plantedCount * 31 / 41)
        for (let x = 0; x < ts.probes.length; x++) {
          expect(ts.distances[x]).toBe(hamming256(probes, ts.probes[x]! * 8, list, ts.positions[x]! * 8))
        }
      }
    }
  }, 240_000)

  it.skipIf(!native)('answers an empty batch and a threshold past every distance', async () => {
    const next = rng(7)
    const list = makeList(5_000, next)
    const index = await HammingIndex.build(list, { chunkBits: 16 })
    const probes = makeProbes(list, 3, 3, next)
    expect(plain(searchTablesNative(index.tables, probes, 0, 31))).toEqual({ probes: [], positions: [], distances: [] })
    // Threshold 255 of 256: the balls cover every key of a 16-bit chunk, every entry is a hit.
    const all = plain(searchTablesNative(index.tables, probes.subarray(0, 8), 1, 256))
    expect(all.positions).toEqual(Array.from({ length: 5_000 }, (_, j) => j))
    expect(all).toEqual(plain(searchTablesTypeScript(index.tables, probes.subarray(0, 8), 1, 256)))
  })

  it.skipIf(!native)('refuses malformed tables instead of reading out of bounds', async () => {
    const list = makeList(5_000, rng(9))
    const tables = (await HammingIndex.build(list, { chunkBits: 16 })).tables
    const chunks = new Uint32Array(tables.chunks.flatMap((c) => [c.start, c.bits]))
    const probe = new Uint32Array(8)
    expect(() => nativeKernel!.search(tables.words, tables.offsets.slice(1), tables.positions, chunks, probe, 1, 31)).toThrow(TypeError)
    expect(() => nativeKernel!.search(tables.words, tables.offsets, tables.positions, chunks, probe, 2, 31)).toThrow(TypeError)
    expect(() => nativeKernel!.search(tables.words.subarray(8), tables.offsets, tables.positions, chunks, probe, 1, 31)).toThrow(TypeError)
    expect(() => nativeKernel!.search(tables.words, tables.offsets, tables.positions, chunks, probe, 1, 257)).toThrow(TypeError)
  })

  it('is not used with ARACHNID_NATIVE=0, and searchTables then runs the TypeScript search', () => {
    const script = [
      "const n = await import('./src/native/index.ts')",
      "const b = await import('./src/batched-search.ts')",
      "const { HammingIndex } = await import('./src/hamming-index.ts')",
      'const words = new Uint32Array(3000 * 8).map((_, i) => Math.imul(i + 1, 2654435761) >>> 0)',
      'const index = await HammingIndex.build(words, { chunkBits: 12 })',
      'const hits = b.searchTables(index.tables, words.subarray(0, 80), 10, 31)',
      'console.log(JSON.stringify({ status: n.nativeKernelStatus, loaded: n.nativeKernel !== undefined, hits: hits.length }))',
    ].join('\n')
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, ARACHNID_NATIVE: '0' },
      encoding: 'utf8',
    })
    expect(run.status, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout.trim().split('\n').at(-1)!)).toEqual({ status: 'disabled (ARACHNID_NATIVE=0)', loaded: false, hits: 10 })
  })
})
