import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { type DialectName, hexToBytes } from '@arachnid/core'
import { Hasher, type ImageHashes } from '@arachnid/hasher'
import { type KnownMatch, Matcher, importList, notifiableMedia, recordMatches } from '@arachnid/matcher'
import { AddressGuard, BoundedFetcher } from '@arachnid/net'
import { ProviderDirectory, createNotices, setProviderRule } from '@arachnid/notifier'
import { addAnalyst, ReviewServer, setListReview, type ReviewServerOptions } from '@arachnid/review'
import { generateImage } from '@arachnid/synthetic'
import { openTestDatabase, type TestDatabase } from '@arachnid/test'

/** The kinds of media on the fixture site, by how the default policy must route their match. */
export const KINDS = ['exact', 'close', 'near', 'lowQuality', 'reviewRequired', 'unrelated'] as const
export type Kind = (typeof KINDS)[number]

export const PASSWORD = 'a long enough test password'
export const PROVIDER = { pattern: '127.0.0.1/32', name: 'Loopback Hosting', abuseEmail: 'abuse@loopback-hosting.test' }
export const REPORTER = { name: 'Arachnid test', from: 'notices@arachnid.test' }
export const ACK_SECRET = 'a-test-secret-of-enough-length'

/** Flips the first `bits` bits of a 256-bit hex hash: a list entry exactly that far from it. */
export function flipBits(hex: string, bits: number): string {
  const bytes = Buffer.from(hex, 'hex')
  for (let i = 0; i < bits; i++) bytes[i >> 3]! ^= 0x80 >> (i & 7)
  return bytes.toString('hex')
}

/** One set of the six pictures, their lists and the job that recorded them. */
export interface Scenario {
  readonly jobId: number
  readonly media: Readonly<Record<Kind, { url: string; mediaId: number; hashes: ImageHashes }>>
  readonly listIds: { readonly verified: number; readonly secondLook: number }
  /** Names of its lists: verified-list and second-look, with the scenario's suffix. */
  readonly lists: { readonly verified: string; readonly secondLook: string }
}

export interface ReviewFixture extends Scenario {
  readonly handle: TestDatabase
  readonly server: ReviewServer
  readonly siteUrl: string
  /**
   * A fresh set of six pictures (new seeds), with lists of their own and a job of their own,
   * recorded like the first: for a test that decides, so it changes nothing another test reads.
   */
  scenario(name: string): Promise<Scenario>
  close(): Promise<void>
}

/** A picture whose PDQ quality is in [50, 80): matchable, but low enough that the policy holds it. */
async function lowQualityImage(hasher: Hasher, seedBase: number): Promise<Uint8Array> {
  for (let seed = 1; seed < 400; seed++) {
    const bytes = await generateImage({ seed: 9000 + seedBase + seed, noise: 0 })
    const { pdqQuality } = await hasher.hash(bytes)
    if (pdqQuality >= 50 && pdqQuality < 80) return bytes
  }
  throw new Error('no synthetic picture with PDQ quality in [50, 80)')
}

/** The loopback site: a page per scenario (/<scenario>/) showing its six pictures, served from memory. */
class FixtureSite {
  readonly #files = new Map<string, { type: string; body: Uint8Array }>()
  readonly #server = http.createServer((req, res) => {
    const file = this.#files.get(req.url ?? '/')
    if (!file) return void res.writeHead(404).end()
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length }).end(file.body)
  })
  url = ''

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
    return this
  }

  /** Serves a scenario's page and pictures; returns the page's URL. */
  add(prefix: string, pictures: Record<Kind, Uint8Array>): string {
    this.#files.set(`${prefix}/`, { type: 'text/html', body: Buffer.from(`<!doctype html><html><body>${KINDS.map((k) => `<img src="${prefix}/media/${k}.jpg">`).join('')}</body></html>`) })
    for (const kind of KINDS) this.#files.set(`${prefix}/media/${kind}.jpg`, { type: 'image/jpeg', body: pictures[kind] })
    return `${this.url}${prefix}/`
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}

/**
 * What a crawl of a scenario's page records, made the way the pipeline makes it but without the
 * crawler (the review package does not depend on it): each picture is fetched over HTTP from the
 * loopback site with @arachnid/net's bounded fetcher (status, final URL and server address as
 * answered), hashed in memory with @arachnid/hasher, stored as media with its fetch and sighting,
 * matched with @arachnid/matcher's Matcher, recorded with the review policy's decision
 * (recordMatches), and the media the policy lets through are noticed by the notifier
 * (createNotices with the local provider directory), as a crawl's match intake does.
 */
async function recordPage(db: TestDatabase['db'], hasher: Hasher, pageUrl: string, ownLists: readonly string[]): Promise<{ jobId: number; media: Record<Kind, { url: string; mediaId: number; hashes: ImageHashes }> }> {
  const job = await db.insertInto('crawl_jobs').values({ name: 'review fixture', seeds: JSON.stringify([pageUrl]), options: '{}', status: 'finished', finished_at: new Date() })
    .returning('id').executeTakeFirstOrThrow()
  const fetcher = new BoundedFetcher(new AddressGuard({ allow: ['127.0.0.1/32'] }))
  const matcher = new Matcher(db, { refreshIntervalMs: 0 })
  const limits = { maxBytes: 1 << 20, timeoutMs: 10_000, maxRedirects: 0 }
  try {
    const pageFetch = await fetcher.fetch(pageUrl, limits)
    const page = await db.insertInto('pages').values({
      job_id: job.id, url: pageUrl, final_url: pageFetch.url, depth: 0, status: pageFetch.statusCode,
      content_type: pageFetch.headers['content-type'] ?? null, bytes: pageFetch.body.length, media_found: KINDS.length, error_code: null, error_message: null,
    }).returning('id').executeTakeFirstOrThrow()
    const media = {} as Record<Kind, { url: string; mediaId: number; hashes: ImageHashes }>
    const found: { mediaId: number; url: string; finalUrl: string; serverIp: string | null; hashes: ImageHashes; matches: KnownMatch[] }[] = []
    for (const kind of KINDS) {
      const url = new URL(`media/${kind}.jpg`, pageUrl).href
      const fetched = await fetcher.fetch(url, limits)
      const hashes = await hasher.hash(fetched.body)
      const row = await db.insertInto('media').values({
        sha256: hexToBytes(hashes.sha256), md5: hexToBytes(hashes.md5), sha1: hexToBytes(hashes.sha1),
        blockhash: hexToBytes(hashes.blockhash), pdq: hexToBytes(hashes.pdq), pdq_quality: hashes.pdqQuality,
        width: hashes.width, height: hashes.height, format: hashes.format, bytes: hashes.bytes,
      }).returning('id').executeTakeFirstOrThrow()
      const fetch = await db.insertInto('media_fetches').values({
        job_id: job.id, url, final_url: fetched.url, status: fetched.statusCode, content_type: fetched.headers['content-type'] ?? null,
        server_ip: fetched.ip ?? null, bytes: fetched.body.length, media_id: row.id, error_code: null, error_message: null, state: 'done',
      }).returning('id').executeTakeFirstOrThrow()
      await db.insertInto('sightings').values({ job_id: job.id, page_id: page.id, fetch_id: fetch.id, via: 'img' }).execute()
      const probes = [
        ...(['sha256', 'md5', 'sha1', 'blockhash'] as const).map((algorithm) => ({ algorithm, hash: hashes[algorithm] })),
        { algorithm: 'pdq' as const, hash: hashes.pdq, quality: hashes.pdqQuality },
      ]
      const matches = new Map<number, KnownMatch>()
      for (const list of await matcher.match(probes)) for (const m of list) matches.set(m.knownHashId, m)
      // Each scenario's pictures are meant to meet its own lists only: a stray match would change every expectation.
      const stray = [...matches.values()].find((m) => !ownLists.includes(m.list))
      if (stray) throw new Error(`fixture: ${url} also matches ${stray.list} (${stray.algorithm} at ${stray.distance}); choose other seeds`)
      media[kind] = { url, mediaId: row.id, hashes }
      found.push({ mediaId: row.id, url, finalUrl: fetched.url, serverIp: fetched.ip ?? null, hashes, matches: [...matches.values()] })
    }
    const matched = found.filter((f) => f.matches.length > 0)
    await recordMatches(db, matched.map((f) => ({ mediaId: f.mediaId, jobId: job.id, matches: f.matches })))
    const notifiable = await notifiableMedia(db, matched.map((f) => f.mediaId))
    const detectedAt = new Date()
    await createNotices(db, await ProviderDirectory.load(db), matched.filter((f) => notifiable.has(f.mediaId)).map((f) => ({
      mediaId: f.mediaId, jobId: job.id, url: f.url, finalUrl: f.finalUrl, pageUrls: [pageUrl], serverIp: f.serverIp, detectedAt,
      hashes: f.hashes, matches: f.matches.map((m) => ({ list: m.list, algorithm: m.algorithm, distance: m.distance, category: m.category, externalId: m.externalId })),
    })), REPORTER)
    return { jobId: job.id, media }
  } finally {
    fetcher.close()
  }
}

/**
 * Six pictures and two lists built so that each picture meets a different rule of the policy
 * (exact, close, near, low quality, review-required, unrelated), recorded as a crawl would.
 * Scenario n uses seeds of its own, so no two scenarios share a picture.
 */
async function addScenario(db: TestDatabase['db'], site: FixtureSite, index: number, suffix: string): Promise<Scenario> {
  const hasher = new Hasher()
  try {
    const seedBase = index * 100
    const bytes = {} as Record<Kind, Uint8Array>
    const seeds: Record<Exclude<Kind, 'lowQuality'>, number> = { exact: 11, close: 12, near: 13, reviewRequired: 14, unrelated: 15 }
    for (const [kind, seed] of Object.entries(seeds)) bytes[kind as Kind] = await generateImage({ seed: seedBase + seed })
    bytes.lowQuality = await lowQualityImage(hasher, seedBase * 10)
    const hashes = {} as Record<Kind, ImageHashes>
    for (const kind of KINDS) hashes[kind] = await hasher.hash(bytes[kind])
    const lists = { verified: `verified-list${suffix}`, secondLook: `second-look${suffix}` }
    await importList(db, { name: lists.verified, lines: [
      'algorithm,hash,category,external_id',
      `sha256,${hashes.exact.sha256},A1,ext-exact`,
      `pdq,${flipBits(hashes.close.pdq, 5)},A1,ext-close`,
      `pdq,${flipBits(hashes.near.pdq, 22)},B1,ext-near`,
      `pdq,${hashes.lowQuality.pdq},B2,ext-lowq`,
    ] })
    await importList(db, { name: lists.secondLook, lines: ['algorithm,hash,category,external_id', `md5,${hashes.reviewRequired.md5},B1,ext-review`] })
    await setListReview(db, { name: lists.secondLook }, { mode: 'review-required' }, { id: null, name: 'fixture' })
    const pageUrl = site.add(index === 0 ? '' : `/${index}`, bytes)
    const { jobId, media } = await recordPage(db, hasher, pageUrl, [lists.verified, lists.secondLook])
    const listId = async (name: string) => (await db.selectFrom('hash_lists').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id
    return { jobId, media, lists, listIds: { verified: await listId(lists.verified), secondLook: await listId(lists.secondLook) } }
  } finally {
    await hasher.close()
  }
}

export interface FixtureOptions {
  /** Listen on a loopback port (the browser suite); by default the server is only built, and tests go through inject. */
  readonly listen?: boolean
}

/**
 * Real data for the review tests: a loopback site (it also serves the previews), the first
 * scenario's pictures fetched, hashed, matched and noticed as a crawl would (see recordPage),
 * four accounts (ana and bob analysts, sue supervisor, ada admin), and a review server on it.
 */
export async function openReviewFixture(dialect: DialectName, serverOptions: Partial<ReviewServerOptions> = {}, fixture: FixtureOptions = {}): Promise<ReviewFixture> {
  const handle = await openTestDatabase(dialect)
  const db = handle.db
  const site = await new FixtureSite().start()
  await setProviderRule(db, PROVIDER)
  const first = await addScenario(db, site, 0, '')
  for (const [name, role] of [['ana', 'analyst'], ['bob', 'analyst'], ['sue', 'supervisor'], ['ada', 'admin']] as const) {
    await addAnalyst(db, { name, role, password: PASSWORD }, { id: null, name: 'fixture' })
  }
  const options: ReviewServerOptions = { db, reporter: REPORTER, previewGuard: new AddressGuard({ allow: ['127.0.0.1/32'] }), ...serverOptions }
  const server = fixture.listen ? await ReviewServer.start(options) : await ReviewServer.create(options)
  let scenarios = 0
  return {
    ...first, handle, server, siteUrl: site.url,
    scenario: (name) => addScenario(db, site, ++scenarios, `-${name}`),
    async close() {
      await server.close()
      await site.close()
      await handle.close()
    },
  }
}

/**
 * A logged-in API client (cookie and CSRF token kept) speaking to the fixture's server through
 * Fastify's inject: the same requests a script would send, without a socket. Answers are web
 * `Response`s, as fetch gives.
 */
export class ApiClient {
  cookie = ''
  csrf = ''
  constructor(readonly server: ReviewServer) {}

  static async login(server: ReviewServer, name: string, password = PASSWORD): Promise<ApiClient> {
    const client = new ApiClient(server)
    const response = await client.request('POST', '/login', { name, password })
    if (response.status !== 200) throw new Error(`login as ${name} failed: ${response.status}`)
    return client
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const injected = await this.server.inject({
      method: method as 'GET' | 'POST', url: path,
      headers: {
        accept: 'application/json', ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(method === 'POST' && this.csrf ? { 'x-csrf-token': this.csrf } : {}), ...headers,
      },
      payload: body === undefined ? undefined : JSON.stringify(body),
    })
    const response = asResponse(injected)
    const setCookie = response.headers.get('set-cookie')
    if (setCookie) this.cookie = setCookie.split(';')[0]!
    if (path === '/login' && response.status === 200 && response.headers.get('content-type')?.includes('json')) this.csrf = ((await response.clone().json()) as { csrfToken: string }).csrfToken
    return response
  }

  async json<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await this.request(method, path, body)
    return { status: response.status, body: await response.json() as T }
  }
}

/** An injected answer as a web Response (headers, status and body as a socket would have carried them). */
export function asResponse(injected: Awaited<ReturnType<ReviewServer['inject']>>): Response {
  const headers = new Headers()
  for (const [name, value] of Object.entries(injected.headers)) for (const v of [value].flat()) if (v !== undefined) headers.append(name, String(v))
  return new Response(injected.statusCode === 204 || injected.statusCode === 304 ? null : new Uint8Array(injected.rawPayload), { status: injected.statusCode, headers })
}
