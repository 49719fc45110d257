import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'

/**
 * Serves in-memory buffers to ffmpeg over HTTP on loopback, with Range support, for containers
 * that must be read with seeks (an MP4 whose index follows its data) without writing the bytes
 * anywhere: 127.0.0.1, a random port, one unguessable path (192 random bits) per buffer, GET and
 * HEAD only, and the path is forgotten as soon as its video is done. Fastify, like every server
 * of the project.
 */
export class RangeServer {
  readonly #app: FastifyInstance
  readonly #buffers = new Map<string, Uint8Array>()
  #port: Promise<number> | undefined

  constructor() {
    // ffmpeg reconnects for each seek; idle keep-alive sockets must not hold close() up.
    this.#app = Fastify({ logger: false, keepAliveTimeout: 1000, forceCloseConnections: true })
    this.#app.get<{ Params: { token: string } }>('/:token', async (req, reply) => {
      const bytes = this.#buffers.get(req.params.token)
      if (bytes === undefined) return reply.code(404).send()
      const total = bytes.length
      const range = parseRange(req.headers.range, total)
      reply.header('accept-ranges', 'bytes').type('application/octet-stream')
      if (range === 'unsatisfiable') return reply.code(416).header('content-range', `bytes */${total}`).send()
      const [start, end] = range ?? [0, total - 1]
      if (range !== undefined) reply.code(206).header('content-range', `bytes ${start}-${end}/${total}`)
      return reply.send(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start + 1))
    })
  }

  /** Registers `bytes`; returns the URL to give ffmpeg and a function that forgets them. */
  async add(bytes: Uint8Array): Promise<{ url: string; remove: () => void }> {
    this.#port ??= this.#app.listen({ host: '127.0.0.1', port: 0 }).then(() => {
      const address = this.#app.server.address()
      return typeof address === 'object' && address !== null ? address.port : 0
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
    await this.#app.close()
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
