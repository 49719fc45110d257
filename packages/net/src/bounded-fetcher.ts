import http from 'node:http'
import https from 'node:https'
import { Transform, type Readable } from 'node:stream'
import { ArachnidError, NonRetryableError, RetryableError } from '@arachnid/core'
import { AddressGuard } from './address-guard.js'

export const FETCH_ERROR_CODES = ['BAD_URL', 'UNSUPPORTED_SCHEME', 'BLOCKED_ADDRESS', 'TIMEOUT', 'TOO_LARGE', 'TOO_MANY_REDIRECTS', 'NETWORK', 'HTTP_STATUS'] as const

/** Response headers kept as evidence; the rest are dropped. */
export const EVIDENCE_HEADERS = ['content-type', 'content-length', 'etag', 'last-modified', 'server', 'date', 'cache-control', 'location', 'x-powered-by', 'via'] as const

export interface FetchOptions {
  /** Bytes of body allowed; more is TOO_LARGE. */
  readonly maxBytes: number
  /**
   * The bound for this response instead, chosen from its headers and final URL once they arrive
   * (a video's own bound for `video/*`, say); before any body byte is read.
   */
  readonly maxBytesFor?: (headers: http.IncomingHttpHeaders, url: URL) => number
  /** Whole-request deadline, headers and body together, in ms. */
  readonly timeoutMs: number
  readonly maxRedirects: number
  readonly userAgent?: string
  /**
   * Called right before each request goes out (every redirect hop included), e.g. to wait for
   * the host's turn under a politeness delay. The first wait does not count towards timeoutMs.
   */
  readonly beforeRequest?: (url: URL) => Promise<void>
}

export const DEFAULT_USER_AGENT = 'ArachnidCrawler/0.1 (+https://github.com/arachnid-oss; child-protection crawler)'

export interface OpenResponse {
  /** Final URL after redirects. */
  readonly url: string
  readonly redirectUrls: readonly URL[]
  readonly statusCode: number
  readonly statusMessage: string | undefined
  readonly headers: http.IncomingHttpHeaders
  /** Address of the server that answered. */
  readonly ip: string | undefined
  /** The body, capped at maxBytes and at the deadline (the stream errors with a FetchError). */
  readonly stream: Readable
}

export interface FetchedBody extends Omit<OpenResponse, 'stream'> {
  readonly body: Buffer
}

/**
 * HTTP(S) client with every bound the crawler needs: each connection's address is checked by the
 * AddressGuard (after DNS, and again on every redirect hop), redirects are counted, the body is
 * capped, and one deadline covers the whole exchange, so a slow-drip server cannot hold a worker.
 */
export class BoundedFetcher {
  readonly guard: AddressGuard
  readonly #httpAgent = new http.Agent({ keepAlive: true, maxSockets: 32 })
  readonly #httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 32 })

  constructor(guard: AddressGuard) {
    this.guard = guard
  }

  /** Follows redirects and returns the final response with its body still to be read. */
  async open(url: string, options: FetchOptions & { readonly headers?: Record<string, string>; readonly signal?: AbortSignal }): Promise<OpenResponse> {
    const redirectUrls: URL[] = []
    let current: URL
    try {
      current = new URL(url)
    } catch (error) {
      throw new NonRetryableError('BAD_URL', `not a URL: ${url.slice(0, 200)}`, { cause: error })
    }
    await options.beforeRequest?.(current)
    const deadline = Date.now() + options.timeoutMs
    for (;;) {
      if (redirectUrls.length > 0) await options.beforeRequest?.(current)
      const response = await this.#request(current, options, deadline)
      const location = response.headers.location
      const statusCode = response.statusCode ?? 0
      if (statusCode >= 300 && statusCode < 400 && location) {
        response.resume()
        if (redirectUrls.length >= options.maxRedirects) {
          throw new NonRetryableError('TOO_MANY_REDIRECTS', `more than ${options.maxRedirects} redirects from ${url}`)
        }
        try {
          current = new URL(location, current)
        } catch (error) {
          throw new NonRetryableError('BAD_URL', `redirect to a malformed URL: ${location.slice(0, 200)}`, { cause: error })
        }
        redirectUrls.push(current)
        continue
      }
      return {
        url: current.toString(),
        redirectUrls,
        statusCode,
        statusMessage: response.statusMessage,
        headers: response.headers,
        ip: response.socket?.remoteAddress,
        stream: this.#bound(response, options.maxBytesFor?.(response.headers, current) ?? options.maxBytes, deadline),
      }
    }
  }

  /** Fetches a whole body into memory (bounded); non-2xx answers are HTTP_STATUS errors carrying the status. */
  async fetch(url: string, options: FetchOptions): Promise<FetchedBody> {
    const response = await this.open(url, options)
    if (response.statusCode < 200 || response.statusCode >= 300) {
      response.stream.resume()
      const error = response.statusCode === 429 || response.statusCode >= 500
        ? new RetryableError('HTTP_STATUS', `HTTP ${response.statusCode} from ${response.url}`)
        : new NonRetryableError('HTTP_STATUS', `HTTP ${response.statusCode} from ${response.url}`)
      throw Object.assign(error, { response: { ...response, stream: undefined } })
    }
    const chunks: Buffer[] = []
    for await (const chunk of response.stream) chunks.push(chunk as Buffer)
    const { stream: _stream, ...rest } = response
    return { ...rest, body: Buffer.concat(chunks) }
  }

  close(): void {
    this.#httpAgent.destroy()
    this.#httpsAgent.destroy()
  }

  #request(url: URL, options: FetchOptions & { readonly headers?: Record<string, string> }, deadline: number): Promise<http.IncomingMessage> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.reject(new NonRetryableError('UNSUPPORTED_SCHEME', `${url.protocol} URLs are not fetched`))
    }
    try {
      this.guard.checkHost(url.hostname)
    } catch (error) {
      return Promise.reject(error)
    }
    const remaining = deadline - Date.now()
    if (remaining <= 0) return Promise.reject(new RetryableError('TIMEOUT', `timed out after ${options.timeoutMs} ms: ${url}`))
    const transport = url.protocol === 'https:' ? https : http
    return new Promise((resolve, reject) => {
      const request = transport.request(url, {
        method: 'GET',
        agent: url.protocol === 'https:' ? this.#httpsAgent : this.#httpAgent,
        lookup: this.guard.lookup as never,
        headers: { 'user-agent': options.userAgent ?? DEFAULT_USER_AGENT, accept: '*/*', ...options.headers },
        timeout: remaining,
      })
      const timer = setTimeout(() => request.destroy(new RetryableError('TIMEOUT', `timed out after ${options.timeoutMs} ms: ${url}`)), remaining)
      request.on('timeout', () => request.destroy(new RetryableError('TIMEOUT', `timed out after ${options.timeoutMs} ms: ${url}`)))
      request.on('response', (response) => {
        clearTimeout(timer)
        resolve(response)
      })
      request.on('error', (error) => {
        clearTimeout(timer)
        reject(error instanceof ArachnidError ? error : new RetryableError('NETWORK', `${url.host}: ${error.message}`, { cause: error }))
      })
      request.end()
    })
  }

  #bound(response: http.IncomingMessage, maxBytes: number, deadline: number): Readable {
    const declared = Number(response.headers['content-length'])
    let seen = 0
    const capped = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        seen += chunk.length
        if (seen > maxBytes) callback(new NonRetryableError('TOO_LARGE', `body larger than ${maxBytes} bytes`))
        else callback(null, chunk)
      },
    })
    const timer = setTimeout(() => capped.destroy(new RetryableError('TIMEOUT', 'body not complete before the deadline')), Math.max(0, deadline - Date.now()))
    const finish = () => clearTimeout(timer)
    capped.on('close', finish)
    capped.on('error', () => { finish(); response.destroy() })
    response.on('error', (error) => capped.destroy(error instanceof ArachnidError ? error : new RetryableError('NETWORK', error.message, { cause: error })))
    response.on('aborted', () => capped.destroy(new RetryableError('NETWORK', 'connection closed before the body was complete')))
    if (Number.isFinite(declared) && declared > maxBytes) {
      // Refuse before downloading anything: the server told us how big it is.
      process.nextTick(() => capped.destroy(new NonRetryableError('TOO_LARGE', `Content-Length ${declared} exceeds ${maxBytes} bytes`)))
      return capped
    }
    response.pipe(capped)
    return capped
  }
}

/** The evidence subset of response headers. */
export function evidenceHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of EVIDENCE_HEADERS) {
    const value = headers[name]
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  return out
}
