import { describe, expect, it } from 'vitest'
import { frameModulus, frameTimestamp, looksLikeVideo, mp4NeedsSeek, parseRange, parseVpdqText, sniffVideoContainer, vpdqMatch } from '../src/index.js'

const bytes = (...parts: (string | number[])[]): Uint8Array => {
  const out: number[] = []
  for (const p of parts) out.push(...(typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p))
  while (out.length < 64) out.push(0)
  return new Uint8Array(out)
}
const box = (type: string, size: number): number[] => [size >>> 24, (size >>> 16) & 255, (size >>> 8) & 255, size & 255, ...[...type].map((c) => c.charCodeAt(0))]

describe('looksLikeVideo (magic only)', () => {
  it('knows the video containers and refuses images and other bytes', () => {
    expect(looksLikeVideo(bytes([0, 0, 0, 24], 'ftypisom'))).toBe(true)
    expect(looksLikeVideo(bytes([0, 0, 0, 24], 'ftypqt  '))).toBe(true)
    expect(looksLikeVideo(bytes([0, 0, 0, 24], 'ftypM4V '))).toBe(true)
    expect(looksLikeVideo(bytes([0, 0, 0, 24], 'ftypavif'))).toBe(false)
    expect(looksLikeVideo(bytes([0, 0, 0, 24], 'ftypheic'))).toBe(false)
    expect(looksLikeVideo(bytes([0, 0, 0, 24], 'ftypmif1'))).toBe(false)
    expect(looksLikeVideo(bytes([0x1a, 0x45, 0xdf, 0xa3]))).toBe(true)
    expect(looksLikeVideo(bytes('RIFF', [0, 0, 0, 0], 'AVI LIST'))).toBe(true)
    expect(looksLikeVideo(bytes('RIFF', [0, 0, 0, 0], 'WEBPVP8 '))).toBe(false)
    expect(looksLikeVideo(bytes('FLV', [1, 5]))).toBe(true)
    expect(looksLikeVideo(bytes('YUV4MPEG2 W10 H10'))).toBe(true)
    const ts = new Uint8Array(188 * 4)
    for (let i = 0; i < 4; i++) ts[i * 188] = 0x47
    expect(sniffVideoContainer(ts)).toBe('mpegts')
    const theora = bytes('OggS', [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 42], [0x80], 'theora')
    expect(sniffVideoContainer(theora)).toBe('ogg')
    const vorbis = bytes('OggS', [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 30], [1], 'vorbis')
    expect(looksLikeVideo(vorbis)).toBe(false)
    expect(looksLikeVideo(vorbis, 'video/ogg')).toBe(true)
    expect(looksLikeVideo(bytes([0xff, 0xd8, 0xff, 0xe0]))).toBe(false)
    expect(looksLikeVideo(bytes('<!doctype html>'))).toBe(false)
    expect(looksLikeVideo(new Uint8Array(0))).toBe(false)
  })

  it('tells an MP4 whose index follows its data (read with seeks) from one whose index comes first', () => {
    expect(mp4NeedsSeek(bytes(box('ftyp', 16), 'isom', [0, 0, 0, 0], box('moov', 8), box('mdat', 8)))).toBe(false)
    expect(mp4NeedsSeek(bytes(box('ftyp', 16), 'isom', [0, 0, 0, 0], box('mdat', 8), box('moov', 8)))).toBe(true)
    expect(mp4NeedsSeek(bytes(box('ftyp', 16), 'isom', [0, 0, 0, 0], box('free', 3)))).toBe(true)
  })
})

describe('vPDQ frame selection and timestamps', () => {
  it('one frame in trunc(secondsPerHash x fps), at least 1; timestamps in single precision to the millisecond', () => {
    expect(frameModulus(1, 30)).toBe(30)
    expect(frameModulus(1, 29.97)).toBe(29)
    expect(frameModulus(1, 30000 / 1001)).toBe(29)
    expect(frameModulus(0, 30)).toBe(1)
    expect(frameModulus(1, 0.5)).toBe(1)
    expect(frameModulus(2.5, 24)).toBe(60)
    expect(frameTimestamp(1, 30)).toBe(0.033)
    expect(frameTimestamp(2, 30)).toBe(0.067)
    expect(frameTimestamp(29, 29.97)).toBe(0.968)
  })
})

describe('vpdqMatch', () => {
  const h = (byte: number) => byte.toString(16).padStart(2, '0').repeat(32)
  it('counts distinct good-quality query frames within distance 31 (inclusive) of some known frame', () => {
    const known = [{ pdq: h(0x00), quality: 100 }, { pdq: h(0xff), quality: 100 }]
    const near = '0f'.repeat(3) + '00'.repeat(29) + '' // 12 bits from 00..
    const query = [
      { pdq: near.padEnd(64, '0'), quality: 90, timestamp: 0, frame: 0 },
      { pdq: near.padEnd(64, '0'), quality: 90, timestamp: 1, frame: 25 }, // duplicate: counted once
      { pdq: h(0x0f), quality: 100, timestamp: 2, frame: 50 }, // 128 bits from both
      { pdq: h(0x0f), quality: 10, timestamp: 3, frame: 75 }, // duplicate hash anyway
    ]
    const r = vpdqMatch(query, known)
    expect(r.queryShare).toBe(0.5)
    expect(r.knownShare).toBe(0.5)
    expect(r.matched).toBe(false)
    expect(r.matchedTimestamps).toEqual([0])
    expect(vpdqMatch(query, known, { share: 0.5 }).matched).toBe(true)
    // Exactly 31 bits matches, 32 does not.
    const bits31 = 'ff'.repeat(3) + '7f' + '00'.repeat(28)
    const bits32 = 'ff'.repeat(4) + '00'.repeat(28)
    expect(vpdqMatch([{ pdq: bits31, quality: 100, timestamp: 0, frame: 0 }], known).matched).toBe(true)
    expect(vpdqMatch([{ pdq: bits32, quality: 100, timestamp: 0, frame: 0 }], known).matched).toBe(false)
    // Low quality on either side is left out; nothing left never matches.
    expect(vpdqMatch([{ pdq: h(0), quality: 49, timestamp: 0, frame: 0 }], known)).toEqual({ queryShare: 0, knownShare: 0, matched: false, matchedTimestamps: [] })
  })

  it('parses vPDQ text lines', () => {
    expect(parseVpdqText(`0,100,${h(0xab)},0.000\n1,97,${h(0xcd)},0.033\n`)).toEqual([
      { frame: 0, quality: 100, pdq: h(0xab), timestamp: 0 },
      { frame: 1, quality: 97, pdq: h(0xcd), timestamp: 0.033 },
    ])
    expect(() => parseVpdqText('garbage')).toThrow(SyntaxError)
  })
})

describe('range requests of the loopback server', () => {
  it('parses the forms ffmpeg sends', () => {
    expect(parseRange(undefined, 100)).toBeUndefined()
    expect(parseRange('bytes=0-', 100)).toEqual([0, 99])
    expect(parseRange('bytes=10-19', 100)).toEqual([10, 19])
    expect(parseRange('bytes=90-200', 100)).toEqual([90, 99])
    expect(parseRange('bytes=-10', 100)).toEqual([90, 99])
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined()
  })
})
