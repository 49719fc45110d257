import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLineParser, importList, listLists, Matcher, retractHashes, type VideoFrameProbe } from '@arachnid/matcher'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'

const dialects = await dialectsUnderTest()

function hash256(seed: string): string {
  return createHash('sha256').update(seed).digest('hex')
}
/** `hex` with `flips` distinct bits changed (deterministic in `seed`). */
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

/** A known video of `n` distinct frames (one per second), as vPDQ's text output. */
function knownVideo(name: string, n: number, quality = 100): { hashes: string[]; lines: string[] } {
  const hashes = Array.from({ length: n }, (_, i) => hash256(`${name}-frame-${i}`))
  return { hashes, lines: hashes.map((h, i) => `${i},${quality},${h},${i.toFixed(3)}`) }
}

function probeFrames(hashes: readonly string[], start = 0, quality = 90): VideoFrameProbe[] {
  return hashes.map((pdq, i) => ({ pdq, quality, timestamp: start + i }))
}

describe('vpdq list format', () => {
  it('reads vPDQ output (either field order) into one row per video, and reports bad lines', () => {
    const parser = createLineParser('vpdq', { videoName: 'first.mp4' })
    const a = hash256('a')
    const b = hash256('b')
    expect(parser.parse(`0,100,${a},0.000`, 1)).toBeUndefined()
    expect(parser.parse(`1,${b},80,1.000`, 2)).toBeUndefined()
    expect(parser.parse('2,100,zz,2.000', 3)).toEqual({ error: 'pdq hash is not hexadecimal' })
    expect(parser.parse(`3,101,${a},3.000`, 4)).toMatchObject({ error: expect.stringMatching(/quality/) })
    const first = parser.parse('# video: second.webm', 5)
    expect(first).toMatchObject({ algorithm: 'vpdq', externalId: 'first.mp4', video: { timestamps: [0, 1] } })
    expect(first && 'video' in first && first.video ? [...first.video.qualities] : []).toEqual([100, 80])
    expect(parser.parse(`0,100,${b},0`, 6)).toBeUndefined()
    expect(parser.finish()).toMatchObject({ algorithm: 'vpdq', externalId: 'second.webm' })
  })

  it('is refused in csv and jsonl, which cannot carry frames', () => {
    const csv = createLineParser('csv')
    csv.parse('algorithm,hash', 1)
    expect(csv.parse(`vpdq,${hash256('x')}`, 2)).toMatchObject({ error: expect.stringMatching(/--format vpdq/) })
    expect(createLineParser('jsonl').parse(JSON.stringify({ algorithm: 'vpdq', hash: hash256('x') }), 1)).toMatchObject({ error: expect.stringMatching(/--format vpdq/) })
  })
})

describe.each(dialects)('video matching on %s', (dialect) => {
  let handle: TestDatabase
  let matcher: Matcher
  const known = knownVideo('known-video', 20)
  const other = knownVideo('other-video', 10)
  const still = hash256('known-still')
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    const videos = await importList(handle.db, {
      name: 'videos', format: 'vpdq', videoName: 'known.mp4',
      lines: [...known.lines, '# video: other.mp4', ...other.lines],
    })
    expect(videos).toMatchObject({ applied: true, imported: 2, rejected: [] })
    await importList(handle.db, { name: 'stills', format: 'pdq-csv', lines: [`${still},100`] })
    matcher = new Matcher(handle.db, { refreshIntervalMs: 0 })
  })
  afterAll(async () => {
    await matcher?.close()
    await handle?.close()
  })

  it('counts a video list entry once per video, and lists show it', async () => {
    const summary = (await listLists(handle.db)).find((l) => l.name === 'videos')
    expect(summary).toMatchObject({ hashes: 2, byAlgorithm: { vpdq: 2 } })
    expect(matcher.stats().entries).toBeDefined()
    await matcher.refresh()
    expect(matcher.stats().entries.vpdq).toBe(30)
  })

  it('matches a re-encoded copy (every frame a few bits off) with every timestamp, and the share', async () => {
    const copy = known.hashes.map((h, i) => flipBits(h, 12, i))
    const [found] = await matcher.match([{ algorithm: 'vpdq', hash: '', frames: probeFrames(copy) }])
    expect(found).toHaveLength(1)
    expect(found![0]).toMatchObject({ list: 'videos', algorithm: 'vpdq', externalId: 'known.mp4', share: 1 })
    expect(found![0]!.distance).toBe(12)
    expect(found![0]!.timestamps).toEqual(copy.map((_, i) => i))
  })

  it('matches a trimmed copy (a subset of the frames): the share is on the query side', async () => {
    const [found] = await matcher.match([{ algorithm: 'vpdq', hash: '', frames: probeFrames(known.hashes.slice(5, 12), 5) }])
    expect(found).toMatchObject([{ externalId: 'known.mp4', share: 1, distance: 0, timestamps: [5, 6, 7, 8, 9, 10, 11] }])
  })

  it('needs 80% of the distinct good frames by default: 4 of 5 matches, 3 of 5 does not', async () => {
    const unrelated = (k: number) => Array.from({ length: k }, (_, i) => hash256(`unrelated-${k}-${i}`))
    const [four] = await matcher.match([{ algorithm: 'vpdq', hash: '', frames: probeFrames([...known.hashes.slice(0, 4), ...unrelated(1)]) }])
    expect(four).toMatchObject([{ externalId: 'known.mp4', share: 0.8 }])
    const [three] = await matcher.match([{ algorithm: 'vpdq', hash: '', frames: probeFrames([...known.hashes.slice(0, 3), ...unrelated(2)]) }])
    expect(three).toEqual([])
  })

  it('counts distinct frames once and leaves out frames under the minimum quality', async () => {
    // A still video: one frame hash repeated 10 times is one distinct frame, matched at every timestamp.
    const repeated = Array.from({ length: 10 }, () => known.hashes[3]!)
    const low = probeFrames(Array.from({ length: 30 }, (_, i) => hash256(`low-${i}`)), 10, 20)
    const [found] = await matcher.match([{ algorithm: 'vpdq', hash: '', frames: [...probeFrames(repeated), ...low] }])
    expect(found).toMatchObject([{ externalId: 'known.mp4', share: 1, timestamps: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }])
  })

  it('does not match a distinct video, and matches nothing for a video of only low-quality frames', async () => {
    const distinct = Array.from({ length: 20 }, (_, i) => hash256(`distinct-${i}`))
    const [none, low] = await matcher.match([
      { algorithm: 'vpdq', hash: '', frames: probeFrames(distinct) },
      { algorithm: 'vpdq', hash: '', frames: probeFrames(known.hashes, 0, 10) },
    ])
    expect(none).toEqual([])
    expect(low).toEqual([])
  })

  it('matches a frame against an image entry: a near match at the frame\'s timestamps', async () => {
    const frames = probeFrames([hash256('x1'), flipBits(still, 9), hash256('x2'), flipBits(still, 5, 3)])
    const [found] = await matcher.match([{ algorithm: 'vpdq', hash: '', frames }])
    expect(found).toMatchObject([{ list: 'stills', algorithm: 'pdq', hash: still, distance: 5, timestamps: [1, 3] }])
    expect(found![0]!.share).toBeUndefined()
  })

  it('stops matching a retracted video at once', async () => {
    const [before] = await matcher.match([{ algorithm: 'vpdq', hash: '', frames: probeFrames(other.hashes) }])
    expect(before).toMatchObject([{ externalId: 'other.mp4' }])
    const result = await retractHashes(handle.db, { hashes: [`vpdq:${before![0]!.hash}`], list: 'videos' })
    expect(result.retracted).toHaveLength(1)
    const [after] = await matcher.match([{ algorithm: 'vpdq', hash: '', frames: probeFrames(other.hashes) }])
    expect(after).toEqual([])
    expect(matcher.stats().entries.vpdq).toBe(20)
  })

  it('takes appended videos as a delta', async () => {
    const added = knownVideo('appended-video', 6)
    const result = await importList(handle.db, { name: 'videos', format: 'vpdq', mode: 'append', videoName: 'appended.mp4', lines: added.lines })
    expect(result).toMatchObject({ applied: true, imported: 1 })
    const [found] = await matcher.match([{ algorithm: 'vpdq', hash: '', frames: probeFrames(added.hashes) }])
    expect(found).toMatchObject([{ externalId: 'appended.mp4', share: 1 }])
  })
})
