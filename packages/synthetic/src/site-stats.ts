/** Requests and bytes for one path. */
export interface PathStats {
  readonly requests: number
  readonly bytes: number
}

/** What the site has served, read live (a test or benchmark reads it after a crawl). */
export interface SiteStats {
  /** Requests received, any method and outcome. */
  readonly requests: number
  /** Body bytes written, all responses. */
  readonly bytesServed: number
  /** Per URL path (query ignored). */
  readonly byPath: ReadonlyMap<string, PathStats>
  /** Responses per HTTP status. */
  readonly byStatus: ReadonlyMap<number, number>
  /** Most requests in progress at once (a politeness check). */
  readonly maxConcurrent: number
  /** Images generated so far (cache misses). */
  readonly imagesGenerated: number
  /** Videos made so far, altered copies included (each at most once per site: they stay in memory). */
  readonly videosGenerated: number
  /** Forget everything counted so far (the cache of images and videos stays). */
  reset(): void
}

/** The server's side of {@link SiteStats}. */
export class SiteStatsRecorder implements SiteStats {
  #requests = 0
  #bytesServed = 0
  #byPath = new Map<string, { requests: number; bytes: number }>()
  #byStatus = new Map<number, number>()
  #concurrent = 0
  #maxConcurrent = 0
  readonly #imagesGenerated: () => number
  #generatedAtReset = 0
  readonly #videosGenerated: () => number
  #videosAtReset = 0

  constructor(imagesGenerated: () => number, videosGenerated: () => number = () => 0) {
    this.#imagesGenerated = imagesGenerated
    this.#videosGenerated = videosGenerated
  }

  get requests(): number {
    return this.#requests
  }

  get bytesServed(): number {
    return this.#bytesServed
  }

  get byPath(): ReadonlyMap<string, PathStats> {
    return this.#byPath
  }

  get byStatus(): ReadonlyMap<number, number> {
    return this.#byStatus
  }

  get maxConcurrent(): number {
    return this.#maxConcurrent
  }

  get imagesGenerated(): number {
    return this.#imagesGenerated() - this.#generatedAtReset
  }

  get videosGenerated(): number {
    return this.#videosGenerated() - this.#videosAtReset
  }

  reset(): void {
    this.#requests = 0
    this.#bytesServed = 0
    this.#byPath = new Map()
    this.#byStatus = new Map()
    this.#maxConcurrent = this.#concurrent
    this.#generatedAtReset = this.#imagesGenerated()
    this.#videosAtReset = this.#videosGenerated()
  }

  started(path: string): void {
    this.#requests++
    this.#concurrent++
    if (this.#concurrent > this.#maxConcurrent) this.#maxConcurrent = this.#concurrent
    const entry = this.#byPath.get(path)
    if (entry === undefined) this.#byPath.set(path, { requests: 1, bytes: 0 })
    else entry.requests++
  }

  wrote(path: string, bytes: number): void {
    this.#bytesServed += bytes
    const entry = this.#byPath.get(path)
    if (entry !== undefined) entry.bytes += bytes
  }

  finished(status: number): void {
    this.#concurrent--
    this.#byStatus.set(status, (this.#byStatus.get(status) ?? 0) + 1)
  }
}
