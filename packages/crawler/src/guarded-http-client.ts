import type { BaseHttpClient, HttpRequest, HttpResponse, ResponseTypes, StreamingHttpResponse } from '@crawlee/core'
import { type BoundedFetcher, type FetchOptions, retryAfterMs } from '@arachnid/net'

function plainHeaders(headers: HttpRequest['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value === 'string') out[name] = value
    else if (Array.isArray(value)) out[name] = value.join(', ')
  }
  return out
}

/**
 * Crawlee's HTTP client seam, filled with the crawler's BoundedFetcher so that page requests get
 * the same address guard, redirect count, size cap and deadline as media requests.
 */
export class GuardedHttpClient implements BaseHttpClient {
  readonly #fetcher: BoundedFetcher
  readonly #options: FetchOptions
  readonly #onBackoff: ((host: string, delayMs: number) => void) | undefined

  /** `onBackoff` hears of 429 and 503 answers, with the server's Retry-After (default 30 s). */
  constructor(fetcher: BoundedFetcher, options: FetchOptions, onBackoff?: (host: string, delayMs: number) => void) {
    this.#fetcher = fetcher
    this.#options = options
    this.#onBackoff = onBackoff
  }

  async stream(request: HttpRequest): Promise<StreamingHttpResponse> {
    const timeout = request.timeout && 'request' in request.timeout ? request.timeout.request : undefined
    const response = await this.#fetcher.open(String(request.url), {
      ...this.#options,
      timeoutMs: Math.min(timeout ?? this.#options.timeoutMs, this.#options.timeoutMs),
      headers: plainHeaders(request.headers),
    })
    if ((response.statusCode === 429 || response.statusCode === 503) && this.#onBackoff) {
      this.#onBackoff(new URL(response.url).host, retryAfterMs(response.headers['retry-after']))
    }
    return {
      request,
      url: response.url,
      redirectUrls: [...response.redirectUrls],
      ip: response.ip,
      statusCode: response.statusCode,
      statusMessage: response.statusMessage,
      headers: response.headers,
      trailers: {},
      complete: false,
      stream: response.stream,
      downloadProgress: { percent: 0, transferred: 0 },
      uploadProgress: { percent: 100, transferred: 0 },
    }
  }

  async sendRequest<T extends keyof ResponseTypes = 'text'>(request: HttpRequest<T>): Promise<HttpResponse<T>> {
    const response = await this.stream(request as HttpRequest)
    const chunks: Buffer[] = []
    for await (const chunk of response.stream) chunks.push(chunk as Buffer)
    const buffer = Buffer.concat(chunks)
    const type = request.responseType ?? 'text'
    const body = type === 'buffer' ? buffer : type === 'json' ? JSON.parse(buffer.toString('utf8')) : buffer.toString(request.encoding ?? 'utf8')
    const { stream: _s, downloadProgress: _d, uploadProgress: _u, ...rest } = response
    return { ...rest, complete: true, request, body } as HttpResponse<T>
  }
}
