import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** What a path does once its image is taken down. */
export const REMOVAL_KINDS = ['404', '410', 'replace', 'never'] as const
export type RemovalKind = (typeof REMOVAL_KINDS)[number]

export interface HostedImage {
  readonly bytes: Uint8Array
  /** How it is taken down. 'never' keeps serving it. */
  readonly removal: RemovalKind
  /** Requests answered with the image before it is taken down (0: already gone). */
  readonly servedFor?: number
  /** What 'replace' serves instead (other content at the same URL). */
  readonly replacement?: Uint8Array
}

/**
 * A website on loopback whose images come down on a schedule: each path serves its image for a
 * given number of requests, then answers 404 or 410, or serves other content, or never changes.
 * Images live in memory only. `close()` makes the whole host refuse connections.
 */
export class RemovalSite {
  readonly #images = new Map<string, HostedImage & { hits: number }>()
  #server: http.Server | undefined

  get port(): number {
    return (this.#server?.address() as AddressInfo | undefined)?.port ?? 0
  }

  /** Puts an image at a path (again), resetting its schedule. */
  host(path: string, image: HostedImage): this {
    this.#images.set(path, { ...image, hits: 0 })
    return this
  }

  hits(path: string): number {
    return this.#images.get(path)?.hits ?? 0
  }

  async start(port = 0): Promise<this> {
    const server = http.createServer((req, res) => {
      const image = this.#images.get(new URL(req.url ?? '/', 'http://site.invalid').pathname)
      if (!image) {
        res.writeHead(404).end('not found')
        return
      }
      image.hits++
      const taken = image.removal !== 'never' && image.hits > (image.servedFor ?? 0)
      if (taken && (image.removal === '404' || image.removal === '410')) {
        res.writeHead(Number(image.removal), { 'content-type': 'text/html' }).end('<p>removed</p>')
        return
      }
      const body = taken ? image.replacement ?? Buffer.from('<p>removed</p>') : image.bytes
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': String(body.length) }).end(body)
    })
    server.keepAliveTimeout = 100
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    this.#server = server
    return this
  }

  async close(): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server) {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
