import { createHash } from 'node:crypto'
import sharp from 'sharp'
import { type Database, type Kysely, NonRetryableError, bytesToHex } from '@arachnid/core'
import { AddressGuard, BoundedFetcher } from '@arachnid/net'
import { extractFrame } from '@arachnid/video'

export interface PreviewOptions {
  /** Blur and greyscale (the default). Turning it off is an explicit choice, and audited as such. */
  readonly obscure?: boolean
  /** A video: the moment (seconds) to show. Default: where its first match lies. */
  readonly at?: number
}

export interface PreviewLimits {
  readonly maxBytes: number
  readonly maxPixels: number
  readonly timeoutMs: number
  readonly maxRedirects: number
  /** Longest side of the preview, in pixels. Default 320. */
  readonly size?: number
  /** Gaussian blur sigma when obscured. Default 12. */
  readonly blurSigma?: number
  /** Bytes of a video fetched for a preview of one of its frames. Default: maxBytes. */
  readonly maxVideoBytes?: number
  /** Time to decode a video up to the frame shown. Default 60 s. */
  readonly videoTimeoutMs?: number
}

export interface Preview {
  readonly png: Buffer
  readonly url: string
  /** Whether the source still serves the very content that matched (same sha256). */
  readonly sameContent: boolean
  /** A video: the moment (seconds) of the frame shown. */
  readonly frameAt?: number
}

/**
 * Live previews of a media: fetched from its source through the crawler's bounded,
 * address-checked client, shrunk (and blurred and greyscaled unless asked otherwise) in memory,
 * and returned; of a video, the frame where its match lies (decoded by ffmpeg from memory).
 * Nothing is written anywhere: the bytes live only for this call.
 */
export class MediaPreviewer {
  readonly #db: Kysely<Database>
  readonly #fetcher: BoundedFetcher
  readonly #limits: PreviewLimits

  constructor(db: Kysely<Database>, guard: AddressGuard, limits: PreviewLimits) {
    this.#db = db
    this.#fetcher = new BoundedFetcher(guard)
    this.#limits = limits
  }

  /** The source URL a preview of this media would be fetched from (its latest successful fetch). */
  async sourceOf(mediaId: number): Promise<{ url: string; sha256: string; kind: 'image' | 'video' } | undefined> {
    const row = await this.#db.selectFrom('media_fetches as f').innerJoin('media as m', 'm.id', 'f.media_id')
      .where('f.media_id', '=', mediaId).where('f.error_code', 'is', null).select(['f.url', 'm.sha256', 'm.kind']).orderBy('f.id', 'desc').limit(1).executeTakeFirst()
    return row && { url: row.url, sha256: bytesToHex(row.sha256), kind: row.kind }
  }

  /**
   * A video's moment to show: the one asked for, else where its earliest match lies, kept within
   * the video (a frame past its end does not exist).
   */
  async #frameAt(mediaId: number, asked: number | undefined): Promise<number> {
    const media = await this.#db.selectFrom('media').where('id', '=', mediaId).select('duration_seconds').executeTakeFirst()
    let at = asked
    if (at === undefined) {
      const matches = await this.#db.selectFrom('matches').where('media_id', '=', mediaId).where('timestamps', 'is not', null).select('timestamps').execute()
      const times = matches.flatMap((m) => (m.timestamps ?? []).map(Number))
      at = times.length > 0 ? Math.min(...times) : 0
    }
    const duration = media?.duration_seconds == null ? Number.POSITIVE_INFINITY : Number(media.duration_seconds)
    return Math.max(0, Math.min(at, duration - 0.5))
  }

  async preview(mediaId: number, options: PreviewOptions = {}): Promise<Preview> {
    const source = await this.sourceOf(mediaId)
    if (!source) throw new NonRetryableError('NO_SOURCE', `media ${mediaId} has no URL it was fetched from`)
    const l = this.#limits
    const maxBytes = source.kind === 'video' ? l.maxVideoBytes ?? l.maxBytes : l.maxBytes
    const fetched = await this.#fetcher.fetch(source.url, { maxBytes, timeoutMs: l.timeoutMs, maxRedirects: l.maxRedirects })
    const sameContent = createHash('sha256').update(fetched.body).digest('hex') === source.sha256
    let picture: Uint8Array = fetched.body
    let frameAt: number | undefined
    if (source.kind === 'video') {
      // The frame where the match lies, decoded by ffmpeg in memory; then shrunk and obscured as an image is.
      frameAt = await this.#frameAt(mediaId, options.at)
      try {
        picture = await extractFrame(fetched.body, frameAt, { maxBytes, maxPixels: l.maxPixels, maxWallMs: l.videoTimeoutMs ?? 60_000, size: l.size ?? 320 })
      } catch (error) {
        throw new NonRetryableError('PREVIEW_DECODE', `the source did not serve a decodable video: ${(error as Error).message}`, { cause: error })
      }
    }
    let image = sharp(picture, { limitInputPixels: l.maxPixels, failOn: 'error', animated: false }).rotate()
      .resize(l.size ?? 320, l.size ?? 320, { fit: 'inside', withoutEnlargement: true })
    // toColourspace: one grey channel in the PNG itself, not grey pixels in an RGB file.
    if (options.obscure !== false) image = image.greyscale().blur(l.blurSigma ?? 12).toColourspace('b-w')
    try {
      return { png: await image.png().toBuffer(), url: fetched.url, sameContent, ...(frameAt === undefined ? {} : { frameAt }) }
    } catch (error) {
      throw new NonRetryableError('PREVIEW_DECODE', `the source did not serve a decodable image: ${(error as Error).message}`, { cause: error })
    }
  }

  close(): void {
    this.#fetcher.close()
  }
}
