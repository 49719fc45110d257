import { createHash } from 'node:crypto'
import sharp from 'sharp'
import { type Database, type Kysely, NonRetryableError, bytesToHex } from '@arachnid/core'
import { AddressGuard, BoundedFetcher } from '@arachnid/net'

export interface PreviewOptions {
  /** Blur and greyscale (the default). Turning it off is an explicit choice, and audited as such. */
  readonly obscure?: boolean
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
}

export interface Preview {
  readonly png: Buffer
  readonly url: string
  /** Whether the source still serves the very content that matched (same sha256). */
  readonly sameContent: boolean
}

/**
 * Live previews of a media: fetched from its source through the crawler's bounded,
 * address-checked client, shrunk (and blurred and greyscaled unless asked otherwise) in memory,
 * and returned. Nothing is written anywhere: the bytes live only for this call.
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
  async sourceOf(mediaId: number): Promise<{ url: string; sha256: string } | undefined> {
    const row = await this.#db.selectFrom('media_fetches as f').innerJoin('media as m', 'm.id', 'f.media_id')
      .where('f.media_id', '=', mediaId).where('f.error_code', 'is', null).select(['f.url', 'm.sha256']).orderBy('f.id', 'desc').limit(1).executeTakeFirst()
    return row && { url: row.url, sha256: bytesToHex(row.sha256) }
  }

  async preview(mediaId: number, options: PreviewOptions = {}): Promise<Preview> {
    const source = await this.sourceOf(mediaId)
    if (!source) throw new NonRetryableError('NO_SOURCE', `media ${mediaId} has no URL it was fetched from`)
    const l = this.#limits
    const fetched = await this.#fetcher.fetch(source.url, { maxBytes: l.maxBytes, timeoutMs: l.timeoutMs, maxRedirects: l.maxRedirects })
    const sameContent = createHash('sha256').update(fetched.body).digest('hex') === source.sha256
    let image = sharp(fetched.body, { limitInputPixels: l.maxPixels, failOn: 'error', animated: false }).rotate()
      .resize(l.size ?? 320, l.size ?? 320, { fit: 'inside', withoutEnlargement: true })
    // toColourspace: one grey channel in the PNG itself, not grey pixels in an RGB file.
    if (options.obscure !== false) image = image.greyscale().blur(l.blurSigma ?? 12).toColourspace('b-w')
    try {
      return { png: await image.png().toBuffer(), url: fetched.url, sameContent }
    } catch (error) {
      throw new NonRetryableError('PREVIEW_DECODE', `the source did not serve a decodable image: ${(error as Error).message}`, { cause: error })
    }
  }

  close(): void {
    this.#fetcher.close()
  }
}
