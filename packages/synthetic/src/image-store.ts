import { createHash } from 'node:crypto'
import { alterImage } from './alter-image.js'
import { badMedia, oversizedChunks } from './bad-media.js'
import { generateImage } from './generate-image.js'
import type { PlannedImage, SitePlan } from './site-plan.js'

/** A generated image body with its entity tag. */
export interface ImageBody {
  readonly bytes: Uint8Array
  readonly etag: string
}

/**
 * Makes image bytes on first request and keeps them in a least-recently-used cache bounded in
 * bytes. Generation is deterministic, so an evicted image is simply made again, byte for byte.
 * Concurrent requests for the same image share one generation.
 */
export class ImageStore {
  readonly #plan: SitePlan
  readonly #budget: number
  readonly #cache = new Map<number, ImageBody>()
  readonly #inFlight = new Map<number, Promise<ImageBody>>()
  #cachedBytes = 0
  #generated = 0

  constructor(plan: SitePlan, budgetBytes: number) {
    this.#plan = plan
    this.#budget = budgetBytes
  }

  /** Images generated so far (cache misses; an image evicted and requested again counts twice). */
  get generated(): number {
    return this.#generated
  }

  /** Bytes held by the cache now. */
  get cachedBytes(): number {
    return this.#cachedBytes
  }

  /** The body of image `index` of the plan. Not for the oversized bad input: stream that with {@link ImageStore.oversized}. */
  async body(index: number): Promise<ImageBody> {
    const image = this.#image(index)
    if (image.source.type === 'mirror') return this.body(image.source.of)
    const cached = this.#cache.get(index)
    if (cached !== undefined) {
      // Map keeps insertion order: re-inserting marks it most recently used.
      this.#cache.delete(index)
      this.#cache.set(index, cached)
      return cached
    }
    let pending = this.#inFlight.get(index)
    if (pending === undefined) {
      pending = this.#make(index, image).finally(() => this.#inFlight.delete(index))
      this.#inFlight.set(index, pending)
    }
    return pending
  }

  /** Chunks of the oversized bad input, made as they are read. */
  oversized(index: number): AsyncGenerator<Uint8Array> {
    const image = this.#image(index)
    if (image.source.type !== 'bad' || image.source.reason !== 'oversized') throw new TypeError(`${image.path} is not the oversized input`)
    return oversizedChunks(this.#plan.options.oversizedBytes, image.source.seed)
  }

  /** Declared length of the oversized body. */
  get plannedOversizedBytes(): number {
    return this.#plan.options.oversizedBytes
  }

  /** Strong entity tag of the oversized body (its content follows from its length and the seed). */
  oversizedEtag(): string {
    return `"oversized-${this.#plan.options.seed}-${this.#plan.options.oversizedBytes}"`
  }

  #image(index: number): PlannedImage {
    const image = this.#plan.images[index]
    if (image === undefined) throw new RangeError(`no image ${index}`)
    return image
  }

  async #make(index: number, image: PlannedImage): Promise<ImageBody> {
    const bytes = await this.#generate(image)
    this.#generated++
    const body = { bytes, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"` }
    const oversized = image.source.type === 'bad' && image.source.reason === 'oversized'
    if (!oversized && bytes.length <= this.#budget) {
      this.#cache.set(index, body)
      this.#cachedBytes += bytes.length
      for (const [key, old] of this.#cache) {
        if (this.#cachedBytes <= this.#budget) break
        this.#cache.delete(key)
        this.#cachedBytes -= old.bytes.length
      }
    }
    return body
  }

  async #generate(image: PlannedImage): Promise<Uint8Array> {
    const source = image.source
    switch (source.type) {
      case 'base':
        return generateImage({ seed: source.seed, width: source.width, height: source.height, format: image.format })
      case 'altered': {
        const original = await this.body(source.original)
        const origFormat = this.#image(source.original).format
        return (await alterImage(original.bytes, origFormat, source.alteration, source.seed)).bytes
      }
      case 'mirror':
        return (await this.body(source.of)).bytes
      case 'bad':
        if (source.reason === 'oversized') {
          const out = new Uint8Array(this.#plan.options.oversizedBytes)
          let at = 0
          for await (const chunk of oversizedChunks(out.length, source.seed)) {
            out.set(chunk, at)
            at += chunk.length
          }
          return out
        }
        return badMedia(source.reason, source.seed)
    }
  }
}
