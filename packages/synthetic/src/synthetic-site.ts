import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { ImageStore } from './image-store.js'
import { renderPage } from './render-page.js'
import type { SiteManifest } from './site-manifest.js'
import { resolveSiteOptions } from './site-options.js'
import type { SiteOptions, VideoSource } from './site-options.js'
import { planSite } from './site-plan.js'
import type { PlannedVideo, SitePlan } from './site-plan.js'
import { SiteStatsRecorder } from './site-stats.js'
import type { SiteStats } from './site-stats.js'

/** One of the original known images, as the demo needs it to build its known-hash list. */
export interface KnownImage {
  /** Base image id (the `baseId` of the altered copies derived from it). */
  readonly id: number
  /** Where the site serves it. */
  readonly url: string
  /** Its bytes, exactly as served. */
  readonly bytes: Uint8Array
}

/** One of the original known videos, as a test needs it to build its known-hash list. */
export interface KnownVideo {
  /** Base video id (the `baseId` of its mirror and altered copies). */
  readonly id: number
  /** Where the site serves it. */
  readonly url: string
  /** Its bytes, exactly as served. */
  readonly bytes: Uint8Array
  readonly contentType: string
}

/** A running synthetic website. */
export interface SyntheticSite {
  readonly manifest: SiteManifest
  /** The original known images' bytes in id order, generated as iterated. */
  knownImages(): AsyncIterable<KnownImage>
  /** The bytes served at `url` (absolute, or a path), without going through HTTP. Throws for a URL that is not an image of the site. */
  imageBytes(url: string): Promise<Uint8Array>
  /** The original known videos' bytes in id order (made on first use, then kept in memory; altered copies are not among them). */
  knownVideos(): AsyncIterable<KnownVideo>
  /** The bytes served at `url` (absolute, or a path), without going through HTTP. Throws for a URL that is not a video of the site. */
  videoBytes(url: string): Promise<Uint8Array>
  /** Live counters of what was served. */
  readonly stats: SiteStats
  /** Stops listening and drops open connections. */
  close(): Promise<void>
}

type Route =
  | { readonly type: 'page'; readonly index: number }
  | { readonly type: 'image'; readonly index: number }
  | { readonly type: 'video'; readonly index: number }
  | { readonly type: 'robots' }

interface SiteState {
  readonly plan: SitePlan
  readonly store: ImageStore
  readonly videos: VideoStore
  readonly routes: Map<string, Route>
  readonly stats: SiteStatsRecorder
}

/** A video body with its type and entity tag. */
interface VideoBody {
  readonly bytes: Uint8Array
  readonly contentType: string
  readonly etag: string
}

/**
 * Asks the video source for each distinct video once, on first request, and keeps every body in
 * memory for the life of the site (videos are few and costly to make; a mirror shares its
 * original's body, an altered copy is made from it). A failed generation is forgotten, so the next
 * request tries again.
 */
class VideoStore {
  readonly #plan: SitePlan
  readonly #source: VideoSource
  readonly #bodies = new Map<number, Promise<VideoBody>>()
  #generated = 0

  constructor(plan: SitePlan, source: VideoSource) {
    this.#plan = plan
    this.#source = source
  }

  get generated(): number {
    return this.#generated
  }

  body(index: number): Promise<VideoBody> {
    const video = this.#plan.videos[index]
    if (video === undefined) return Promise.reject(new RangeError(`no video ${index}`))
    const key = video.duplicateOf ?? index
    let pending = this.#bodies.get(key)
    if (pending === undefined) {
      pending = this.#make(this.#plan.videos[key] as PlannedVideo)
      pending.catch(() => this.#bodies.delete(key))
      this.#bodies.set(key, pending)
    }
    return pending
  }

  async #make(video: PlannedVideo): Promise<VideoBody> {
    const original = video.alteration === undefined ? undefined : (await this.body(video.baseId)).bytes
    const made = await this.#source(video.baseId, {
      seed: video.seed,
      format: video.format,
      ...(video.alteration === undefined ? {} : { alteration: video.alteration, original: (original as Uint8Array).slice() }),
    })
    if (!(made?.bytes instanceof Uint8Array) || made.bytes.length === 0 || typeof made.contentType !== 'string') {
      throw new TypeError(`videoSource gave no bytes or no contentType for ${video.path}`)
    }
    this.#generated++
    // Our own copy: the caller may reuse its buffer.
    const bytes = new Uint8Array(made.bytes)
    return { bytes, contentType: made.contentType, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"` }
  }
}

const ROBOTS_TXT = new TextEncoder().encode('User-agent: *\nAllow: /\n')
const NOT_FOUND = new TextEncoder().encode('not found\n')

/**
 * Starts a deterministic synthetic website on loopback: HTML pages linking to each other and to
 * generated benign images (known ones, altered copies of them, unrelated ones, and bad inputs),
 * and, when asked, benign videos (known ones with a mirror each, and unrelated ones) served with
 * HTTP range support. Media are made in memory on first request; nothing touches the disk.
 *
 * @example
 * const site = await startSyntheticSite({ seed: 7, pages: 50, images: 100 })
 * try {
 *   const known = []
 *   for await (const image of site.knownImages()) known.push(image)
 *   await crawl(site.manifest.baseUrl)
 * } finally {
 *   await site.close()
 * }
 */
export async function startSyntheticSite(options: SiteOptions = {}): Promise<SyntheticSite> {
  const resolved = resolveSiteOptions(options)
  let state: SiteState | undefined
  const server = createServer((req, res) => {
    if (state === undefined) {
      res.writeHead(503).end()
      return
    }
    handle(state, req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`${String(error)}\n`)
      else res.destroy()
    })
  })
  await listen(server, resolved.port, resolved.host)
  const { port } = server.address() as AddressInfo
  const host = resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host
  const baseUrl = `http://${host}:${port}`

  const plan = planSite(resolved, baseUrl)
  const store = new ImageStore(plan, resolved.cacheBytes)
  const routes = new Map<string, Route>()
  for (const [index, page] of plan.pages.entries()) routes.set(page.path, { type: 'page', index })
  for (const [index, image] of plan.images.entries()) routes.set(image.path, { type: 'image', index })
  for (const [index, video] of plan.videos.entries()) routes.set(video.path, { type: 'video', index })
  routes.set('/robots.txt', { type: 'robots' })
  const videos = new VideoStore(plan, resolved.videoSource)
  const stats = new SiteStatsRecorder(() => store.generated, () => videos.generated)
  state = { plan, store, videos, routes, stats }

  let closed: Promise<void> | undefined
  return {
    manifest: plan.manifest,
    stats,
    async *knownImages(): AsyncGenerator<KnownImage> {
      for (const id of plan.knownIds) {
        const body = await store.body(id)
        yield { id, url: baseUrl + (plan.images[id]?.path ?? ''), bytes: body.bytes.slice() }
      }
    },
    async imageBytes(url: string): Promise<Uint8Array> {
      const route = routes.get(new URL(url, baseUrl).pathname)
      if (route?.type !== 'image') throw new RangeError(`not an image of the site: ${url}`)
      return (await store.body(route.index)).bytes.slice()
    },
    async *knownVideos(): AsyncGenerator<KnownVideo> {
      for (const id of plan.knownVideoIds) {
        const body = await videos.body(id)
        yield { id, url: baseUrl + (plan.videos[id]?.path ?? ''), bytes: body.bytes.slice(), contentType: body.contentType }
      }
    },
    async videoBytes(url: string): Promise<Uint8Array> {
      const route = routes.get(new URL(url, baseUrl).pathname)
      if (route?.type !== 'video') throw new RangeError(`not a video of the site: ${url}`)
      return (await videos.body(route.index)).bytes.slice()
    },
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)))
        server.closeAllConnections()
      })
      return closed
    },
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

async function handle(state: SiteState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { plan, store, videos, routes, stats } = state
  const path = new URL(req.url ?? '/', 'http://site.invalid').pathname
  stats.started(path)
  res.once('close', () => stats.finished(res.statusCode))
  if (plan.options.latencyMs > 0) await sleep(plan.options.latencyMs)

  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Length': 0 }).end()
    return
  }
  const send = (status: number, type: string, body: Uint8Array, etag?: string): void => {
    const headers: Record<string, string | number> = { 'Content-Type': type, 'Content-Length': body.length }
    if (etag !== undefined) {
      headers.ETag = etag
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { ETag: etag }).end()
        return
      }
    }
    res.writeHead(status, headers)
    if (req.method === 'HEAD') {
      res.end()
      return
    }
    res.end(body)
    stats.wrote(path, body.length)
  }

  const route = routes.get(path)
  switch (route?.type) {
    case undefined:
      send(404, 'text/plain; charset=utf-8', NOT_FOUND)
      return
    case 'robots':
      send(200, 'text/plain; charset=utf-8', ROBOTS_TXT)
      return
    case 'page': {
      const html = new TextEncoder().encode(renderPage(plan, route.index))
      send(200, 'text/html; charset=utf-8', html, `"${createHash('sha256').update(html).digest('base64url').slice(0, 27)}"`)
      return
    }
    case 'image': {
      const image = plan.images[route.index]
      if (image === undefined) throw new Error(`route to missing image ${route.index}`)
      const type = plan.manifest.images[route.index]?.contentType ?? 'application/octet-stream'
      if (image.source.type === 'bad' && image.source.reason === 'oversized') {
        await streamOversized(req, res, store, route.index, type, (n) => stats.wrote(path, n))
        return
      }
      const body = await store.body(route.index)
      send(200, type, body.bytes, body.etag)
      return
    }
    case 'video':
      sendRanged(req, res, await videos.body(route.index), (n) => stats.wrote(path, n))
      return
  }
}

/**
 * Reads a `Range` header against a body of `total` bytes: one byte range (`bytes=a-b`, `bytes=a-`,
 * `bytes=-n`) as [first, last] inclusive; 'unsatisfiable' when it starts past the end (416);
 * undefined to serve the whole body, as RFC 9110 lets a server do for several ranges, other units
 * or a malformed header.
 */
export function parseRange(header: string | undefined, total: number): readonly [number, number] | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (m === null) return undefined
  const [, first = '', last = ''] = m
  if (first === '' && last === '') return undefined
  if (first === '') {
    const suffix = Number(last)
    return suffix === 0 || total === 0 ? 'unsatisfiable' : [Math.max(0, total - suffix), total - 1]
  }
  const start = Number(first)
  if (last !== '' && Number(last) < start) return undefined
  if (start >= total) return 'unsatisfiable'
  return [start, last === '' ? total - 1 : Math.min(Number(last), total - 1)]
}

/** Serves a video as players and crawlers expect: Accept-Ranges, 206 with Content-Range for a range, 416 past the end; If-Range and If-None-Match by ETag. */
function sendRanged(req: IncomingMessage, res: ServerResponse, body: VideoBody, wrote: (bytes: number) => void): void {
  const total = body.bytes.length
  if (req.headers['if-none-match'] === body.etag) {
    res.writeHead(304, { ETag: body.etag, 'Accept-Ranges': 'bytes' }).end()
    return
  }
  // If-Range: the range only applies to the version the client already holds part of.
  const ifRange = req.headers['if-range']
  const range = ifRange === undefined || ifRange === body.etag ? parseRange(req.headers.range, total) : undefined
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${total}`, 'Accept-Ranges': 'bytes', 'Content-Length': 0 }).end()
    return
  }
  const [start, end] = range ?? [0, total - 1]
  const headers: Record<string, string | number> = { 'Content-Type': body.contentType, 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes', ETag: body.etag }
  if (range !== undefined) headers['Content-Range'] = `bytes ${start}-${end}/${total}`
  res.writeHead(range === undefined ? 200 : 206, headers)
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  res.end(body.bytes.subarray(start, end + 1))
  wrote(end - start + 1)
}

/** Streams the oversized body with backpressure, and stops as soon as the client goes away. */
async function streamOversized(
  req: IncomingMessage,
  res: ServerResponse,
  store: ImageStore,
  index: number,
  type: string,
  wrote: (bytes: number) => void,
): Promise<void> {
  const etag = store.oversizedEtag()
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': store.plannedOversizedBytes, ETag: etag })
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  for await (const chunk of store.oversized(index)) {
    if (res.destroyed) return
    const flushed = res.write(chunk)
    wrote(chunk.length)
    if (!flushed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done)
          res.off('close', done)
          resolve()
        }
        res.on('drain', done)
        res.on('close', done)
      })
    }
  }
  if (!res.destroyed) res.end()
}
