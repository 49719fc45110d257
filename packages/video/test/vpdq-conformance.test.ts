import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { hammingDistance } from '@arachnid/hasher'
import { BINARIES, haveBinary, skippedSuite } from '@arachnid/test'
import { formatVpdqLine, parseVpdqText, VideoHasher, vpdqMatch } from '../src/index.js'

const FIXTURES = new URL('../../../test/fixtures/vpdq/', import.meta.url)
const haveFfmpeg = haveBinary('ffmpeg')
if (!haveFfmpeg) skippedSuite('vPDQ conformance', `${BINARIES.ffmpeg.path} is missing (${BINARIES.ffmpeg.install})`)

describe.runIf(haveFfmpeg)('vPDQ conformance on ThreatExchange\'s doorknob sample (see test/fixtures/vpdq/README.md)', () => {
  it('every frame (secondsPerHash 0): same frame numbers, timestamps and qualities; PDQ within a few bits', async () => {
    const expected = parseVpdqText(await readFile(new URL('doorknob-hd-no-bar.txt', FIXTURES), 'utf8'))
    const hasher = new VideoHasher({ secondsPerHash: 0 })
    const got = await hasher.hash(new Uint8Array(await readFile(new URL('doorknob-hd-no-bar.mp4', FIXTURES))))
    await hasher.close()
    expect(got).toMatchObject({ width: 1280, height: 720, frameRate: 30 })
    expect(got.frames).toHaveLength(expected.length)
    expect(got.frames.map((f) => [f.frame, f.timestamp])).toEqual(expected.map((f) => [f.frame, f.timestamp]))
    expect(got.frames.map((f) => f.quality)).toEqual(expected.map((f) => f.quality))
    const distances = expected.map((e, i) => hammingDistance(e.pdq, got.frames[i]!.pdq))
    const good = distances.filter((_, i) => expected[i]!.quality >= 50)
    const histogram = (ds: number[]) => Object.entries(ds.reduce<Record<number, number>>((h, d) => ({ ...h, [d]: (h[d] ?? 0) + 1 }), {})).map(([d, n]) => `${d} bits: ${n}`).join(', ')
    console.info(`[vpdq conformance] all ${distances.length} frames: ${histogram(distances)}; the ${good.length} of quality >= 50: ${histogram(good)}`)
    // Measured: 0 bits on 58 of the 60 good frames, 2 on the other two; 4 at most on the quality-0 frames.
    expect(Math.max(...good)).toBeLessThanOrEqual(6)
    expect(Math.max(...distances)).toBeLessThanOrEqual(10)
    expect(vpdqMatch(got.frames, expected).queryShare).toBe(1)
    // The text form is vPDQ's line format.
    expect(formatVpdqLine(got.frames[1]!)).toMatch(/^1,100,[0-9a-f]{64},0\.033$/)
  })

  it('one hash per second: frames 0, 30, 60, 90 of the 30 fps sample, as vPDQ selects them', async () => {
    const hasher = new VideoHasher()
    const got = await hasher.hash(new Uint8Array(await readFile(new URL('doorknob-hd-no-bar.mp4', FIXTURES))))
    await hasher.close()
    const expected = parseVpdqText(await readFile(new URL('doorknob-hd-no-bar.txt', FIXTURES), 'utf8')).filter((f) => f.frame % 30 === 0)
    expect(got.frames.map((f) => [f.frame, f.timestamp, f.quality])).toEqual(expected.map((f) => [f.frame, f.timestamp, f.quality]))
    expect(got.durationSeconds).toBeCloseTo(4, 1)
  })
})
