import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface PictureSiteOptions {
  /** Path -> image bytes (benign synthetic pictures), served with the type their extension names. */
  readonly images: ReadonlyMap<string, Uint8Array>
  /**
   * Path -> the body of an HTML page. Without it, `/` is one page that shows every image.
   */
  readonly pages?: Readonly<Record<string, string>>
  /** Paths taken down: they answer 404 (the test adds to it as it goes). */
  readonly removed?: ReadonlySet<string>
}

export interface PictureSite {
  /** `http://127.0.0.1:<port>` */
  readonly base: string
  close(): Promise<void>
}

const TYPES: Record<string, string> = { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp' }

/**
 * A small website on loopback for end-to-end crawls: a robots.txt that allows everything, HTML
 * pages, and images from memory, some of which a test can take down. The maps are read on each
 * request, so a test may change them between commands.
 */
export async function startPictureSite(options: PictureSiteOptions): Promise<PictureSite> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    if (url === '/robots.txt') return res.writeHead(200, { 'content-type': 'text/plain' }).end('User-agent: *\nAllow: /\n')
    const page = options.pages ? options.pages[url] : url === '/' ? [...options.images.keys()].map((u) => `<img src="${u}">`).join('') : undefined
    if (page !== undefined) return res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>${page}</body></html>`)
    const bytes = options.images.get(url)
    if (bytes && !options.removed?.has(url)) {
      return res.writeHead(200, { 'content-type': TYPES[url.split('.').at(-1)!.toLowerCase()] ?? 'application/octet-stream' }).end(bytes)
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
