/** Containers recognised from their first bytes, and the ffmpeg demuxer each is read with. */
export const VIDEO_CONTAINERS = {
  mp4: 'mov',
  matroska: 'matroska',
  avi: 'avi',
  flv: 'flv',
  mpegts: 'mpegts',
  ogg: 'ogg',
  y4m: 'yuv4mpegpipe',
} as const
export type VideoContainer = keyof typeof VIDEO_CONTAINERS

/**
 * ISO-BMFF brands of still images and image sequences (HEIF, AVIF): an `ftyp` with one of these
 * as major brand is a picture for the image hasher, not a video.
 */
const IMAGE_BRANDS = new Set(['avif', 'avis', 'avio', 'heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs', 'mif1', 'mif2', 'msf1', 'miaf', 'jpeg', 'jpgs'])

const ascii = (bytes: Uint8Array, at: number, length: number): string => {
  let s = ''
  for (let i = at; i < at + length && i < bytes.length; i++) s += String.fromCharCode(bytes[i] as number)
  return s
}

function isTransportStream(bytes: Uint8Array, offset: number, packet: number): boolean {
  // Sync byte 0x47 at the start of every packet seen (at least 3, up to 5).
  const packets = Math.min(5, Math.floor((bytes.length - offset) / packet))
  if (packets < 3) return false
  for (let p = 0; p < packets; p++) if (bytes[offset + p * packet] !== 0x47) return false
  return true
}

/**
 * The container of `bytes` from its magic, or undefined. `contentType` only settles Ogg, which
 * holds audio as often as video: an Ogg whose first stream is Theora (or a Skeleton) is video,
 * any other Ogg is video only if the server said `video/...`.
 */
export function sniffVideoContainer(bytes: Uint8Array, contentType?: string): VideoContainer | undefined {
  if (bytes.length < 12) return undefined
  const box = ascii(bytes, 4, 4)
  if (box === 'ftyp') return IMAGE_BRANDS.has(ascii(bytes, 8, 4)) ? undefined : 'mp4'
  // Classic QuickTime files may start with their movie or data box directly.
  if (box === 'moov' || box === 'mdat' || box === 'wide') return 'mp4'
  if (bytes[0] === 0x1a && bytes[1] === 0x45 && bytes[2] === 0xdf && bytes[3] === 0xa3) return 'matroska'
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'AVI ') return 'avi'
  if (ascii(bytes, 0, 3) === 'FLV' && bytes[3] === 0x01) return 'flv'
  if (ascii(bytes, 0, 10) === 'YUV4MPEG2 ') return 'y4m'
  if (ascii(bytes, 0, 4) === 'OggS') {
    // First page: 27-byte header, then the segment table, then the first packet.
    const segments = bytes[26] ?? 0
    const first = ascii(bytes, 27 + segments, 8)
    if (first.startsWith('\x80theora') || first.startsWith('fishead')) return 'ogg'
    return contentType?.toLowerCase().startsWith('video/') ? 'ogg' : undefined
  }
  if (isTransportStream(bytes, 0, 188) || isTransportStream(bytes, 4, 192)) return 'mpegts'
  return undefined
}

/**
 * Whether `bytes` look like a video container ffmpeg is allowed to read: ISO-BMFF (mp4, mov,
 * m4v; not AVIF/HEIF image brands), EBML (webm, mkv), RIFF AVI, FLV, MPEG-TS (and M2TS),
 * Ogg with Theora, YUV4MPEG2. Magic only; nothing is decoded.
 *
 * @example
 * if (looksLikeVideo(bytes, response.headers['content-type'])) await videoHasher.hash(bytes)
 */
export function looksLikeVideo(bytes: Uint8Array, contentType?: string): boolean {
  return sniffVideoContainer(bytes, contentType) !== undefined
}

/**
 * Whether an ISO-BMFF file must be read with seeks: its index (`moov`) comes after the media data
 * (`mdat`), or is missing, so a reader from a pipe would meet the data before knowing what it is.
 * Walks the top-level boxes only (sizes read from the bytes; a bad size ends the walk).
 */
export function mp4NeedsSeek(bytes: Uint8Array): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let at = 0
  while (at + 8 <= bytes.length) {
    let size = view.getUint32(at)
    const type = ascii(bytes, at + 4, 4)
    if (type === 'moov') return false
    if (type === 'mdat') return true
    if (size === 1) {
      if (at + 16 > bytes.length) return true
      const large = view.getBigUint64(at + 8)
      size = large > BigInt(bytes.length) ? bytes.length + 1 : Number(large)
    } else if (size === 0) {
      return true
    }
    if (size < 8) return true
    at += size
  }
  return true
}
