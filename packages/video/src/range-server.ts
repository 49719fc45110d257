import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * Serves in-memory buffers to ffmpeg over HTTP on loopback, with Range support, for containers
 * that must be read with seeks (an MP4 whose index follows its data) without writing the bytes
 * anywhere: 127.0.0.1, a random port, one unguessable path (192 random bits) per buffer, GET and
 * HEAD only, and the path is forgotten as soon as its video is done.
 */
export class RangeServer {
  readonly #server: http.Server
  readonly #buffers = new Map<string, Uint8Array>()
  #port: Promise<number> | undefined

  constructor() {
    this.#server = http.createServer((req, res) => this.#serve(req, res))
    // ffmpeg reconnects for each seek; idle keep-alive sockets must not hold close() up.
    this.#server.keepAliveTimeout = 1000
  }

  /** Registers `bytes`; returns the URL to give ffmpeg and a function that forgets them. */
  async add(bytes: Uint8Array): Promise<{ url: string; remove: () => void }> {
    this.#port ??= new Promise<number>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(0, '127.0.0.1', () => resolve((this.#server.address() as AddressInfo).port))
    })
    const port = await this.#port
    const token = randomBytes(24).toString('base64url')
    this.#buffers.set(token, bytes)
    return { url: `http://127.0.0.1:${port}/${token}`, remove: () => this.#buffers.delete(token) }
  }

  async close(): Promise<void> {
    this.#buffers.clear()
    if (this.#port === undefined) return
    this.#port = undefined
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve())
      this.#server.closeAllConnections()
    })
  }

  #serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const bytes = this.#buffers.get((req.url ?? '').slice(1))
    if (bytes === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-length': 0 }).end()
      return
    }
    const total = bytes.length
    const range = parseRange(req.headers.range, total)
    const headers: http.OutgoingHttpHeaders = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' }
    if (range === 'unsatisfiable') {
      res.writeHead(416, { ...headers, 'content-range': `bytes */${total}`, 'content-length': 0 }).end()
      return
    }
    const [start, end] = range ?? [0, total - 1]
    headers['content-length'] = end - start + 1
    if (range !== undefined) headers['content-range'] = `bytes ${start}-${end}/${total}`
    res.writeHead(range === undefined ? 200 : 206, headers)
    // A client that goes away (ffmpeg seeking, or killed) just ends the response.
    res.on('error', () => {})
    if (req.method === 'HEAD') res.end()
    else res.end(bytes.subarray(start, end + 1))
  }
}

/** One `bytes=a-b` / `bytes=a-` / `bytes=-n` range (the only forms ffmpeg sends); undefined for none or several. */
export function parseRange(header: string | undefined, total: number): [number, number] | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null) return undefined
  const [, a = '', b = ''] = m
  if (a === '' && b === '') return undefined
  let start: number
  let end: number
  if (a === '') {
    const n = Number(b)
    if (n === 0) return 'unsatisfiable'
    start = Math.max(0, total - n)
    end = total - 1
  } else {
    start = Number(a)
    end = b === '' ? total - 1 : Math.min(Number(b), total - 1)
  }
  if (start >= total || end < start) return 'unsatisfiable'
  return [start, end]
}
