/** One hashed frame: vPDQ's feature (frame number, quality, PDQ hash, timestamp). */
export interface VideoFrameHash {
  /** Seconds: frame / frame rate, in single precision, rounded to milliseconds (vPDQ's `%.3f`). */
  readonly timestamp: number
  /** PDQ of the frame's RGB pixels, 64 lowercase hex characters. */
  readonly pdq: string
  /** PDQ quality 0..100; vPDQ does not match frames under 50. */
  readonly quality: number
  /** Frame number, from 0, in decoder output order (every decoded frame counts, hashed or not). */
  readonly frame: number
}

/** Everything known about one hashed video. Nothing of its pixels is kept. */
export interface VideoHashes {
  format: 'video'
  /** ffprobe's container name, e.g. 'mov,mp4,m4a,3gp,3g2,mj2', 'matroska,webm'. */
  container: string
  /** Codec of the hashed video stream, e.g. 'h264'. */
  codec: string
  md5: string
  sha1: string
  sha256: string
  /** Length of the input in bytes. */
  bytes: number
  /** Seconds: the declared duration (ffprobe's; an estimate for a streamed container), or the last hashed frame's time if later. */
  durationSeconds: number
  width: number
  height: number
  /** Frame rate used for selection and timestamps. */
  frameRate: number
  /** The hashed frames in order: one per `secondsPerHash` by vPDQ's rule. */
  frames: VideoFrameHash[]
  /**
   * Present only when some hashed frame has black bars (letterbox or pillarbox): the same frames,
   * each hashed without its bars (frames without bars as in `frames`). `frames` stays exactly
   * vPDQ's, for lists made by the reference; match this list too to find letterboxed copies.
   */
  unbarredFrames?: VideoFrameHash[]
}
