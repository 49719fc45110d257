import { RangeServer } from './range-server.js'
import { mp4NeedsSeek, VIDEO_CONTAINERS, type VideoContainer } from './sniff-video.js'

/**
 * Where ffprobe and ffmpeg read one video from, always memory: stdin for containers read front to
 * back, the loopback range server for an MP4 whose index comes after its data. The demuxer is
 * forced from the sniffed container and is the only one allowed (`-format_whitelist`), and the
 * only protocols allowed are the one in use (`-protocol_whitelist`): no playlist, concat list or
 * reference inside a video can make ffmpeg open a file or another URL.
 */
export interface VideoSource {
  /** Options that precede and include `-i`. */
  readonly inputArgs: readonly string[]
  /** Bytes for stdin, or undefined when ffmpeg reads over HTTP. */
  readonly stdin: Uint8Array | undefined
  /** 'pipe' or 'range-server' (for tests and logs). */
  readonly via: 'pipe' | 'range-server'
  release(): void
}

export async function openVideoSource(bytes: Uint8Array, container: VideoContainer, server: () => RangeServer): Promise<VideoSource> {
  const demuxer = VIDEO_CONTAINERS[container]
  const format = ['-f', demuxer, '-format_whitelist', demuxer]
  if (container === 'mp4' && mp4NeedsSeek(bytes)) {
    const { url, remove } = await server().add(bytes)
    return { inputArgs: ['-protocol_whitelist', 'http,tcp', ...format, '-i', url], stdin: undefined, via: 'range-server', release: remove }
  }
  return { inputArgs: ['-protocol_whitelist', 'pipe', ...format, '-i', 'pipe:0'], stdin: bytes, via: 'pipe', release: () => {} }
}
