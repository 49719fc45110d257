import { describe, expect, it } from 'vitest'
import { composeNotice, describeTimestamps, formatTimestamp, xarfReport, type NoticeIncident } from '../src/compose-notice.js'

const reporter = { name: 'Test Reporter', from: 'Reporter <reports@reporter.test>' }

const incident: NoticeIncident = {
  reference: 'ARN-ABCDE-FGHJK',
  mediaUrl: 'http://videos.example.test/clip.mp4',
  finalUrl: 'http://videos.example.test/clip.mp4',
  pageUrls: ['http://videos.example.test/page'],
  serverIp: '127.0.0.1',
  detectedAt: new Date('2026-12-06T00:00:00Z'),
  hashes: { sha256: 'a'.repeat(64), md5: 'b'.repeat(32), sha1: 'c'.repeat(40) },
  matches: [
    { list: 'videos', algorithm: 'vpdq', distance: 14, category: 'A1', externalId: 'known.mp4', timestamps: [5, 6, 7, 8, 20, 3605], share: 0.9 },
    { list: 'stills', algorithm: 'pdq', distance: 6, category: null, externalId: null, timestamps: [42] },
  ],
}

describe('notices of video matches', () => {
  it('writes timestamps as a player shows them, consecutive seconds as ranges', () => {
    expect(formatTimestamp(0)).toBe('0:00')
    expect(formatTimestamp(65.9)).toBe('1:05')
    expect(formatTimestamp(3605)).toBe('1:00:05')
    expect(describeTimestamps([5, 6, 7, 8, 20, 3605, 6])).toBe('0:05-0:08, 0:20, 1:00:05')
    expect(describeTimestamps(Array.from({ length: 20 }, (_, i) => i * 10), 3)).toBe('0:00, 0:10, 0:20 and 17 more')
  })

  it('names where in the video each match lies, in text, HTML and XARF', () => {
    const email = composeNotice([incident], { name: 'Host' }, reporter)
    expect(email.text).toContain('videos (vpdq, distance 14, 90% of the video\'s frames, category A1, entry known.mp4) at 0:05-0:08, 0:20, 1:00:05 in the video')
    expect(email.text).toContain('stills (pdq, distance 6) at 0:42 in the video')
    expect(email.html).toContain('videos (vpdq, distance 14, 90% of the video&#39;s frames) at 0:05-0:08, 0:20, 1:00:05 in the video')
    // A video has no blockhash or single PDQ: only the file's hashes are listed.
    expect(email.text).not.toMatch(/blockhash|^ {2}pdq /m)
    const xarf = xarfReport(incident, reporter) as { matched_lists: unknown[]; hash_values: unknown[] }
    expect(xarf.matched_lists).toEqual([
      { list: 'videos', algorithm: 'vpdq', distance: 14, reference: 'known.mp4', video_timestamps: [5, 6, 7, 8, 20, 3605], video_match_share: 0.9 },
      { list: 'stills', algorithm: 'pdq', distance: 6, reference: null, video_timestamps: [42] },
    ])
    expect(xarf.hash_values).toHaveLength(3)
  })
})
