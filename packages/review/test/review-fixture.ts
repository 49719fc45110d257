import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { CrawlJob } from '@arachnid/crawler'
import { AddressGuard } from '@arachnid/net'
import { type DialectName } from '@arachnid/core'
import { Hasher, type ImageHashes } from '@arachnid/hasher'
import { Matcher, importList } from '@arachnid/matcher'
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

export interface ReviewFixture {
  readonly handle: TestDatabase
  readonly server: ReviewServer
  readonly siteUrl: string
  readonly jobId: number
  readonly media: Readonly<Record<Kind, { url: string; mediaId: number; hashes: ImageHashes }>>
  readonly listIds: { readonly verified: number; readonly secondLook: number }
  /** Media bytes served by the site, for comparing with previews. */
  readonly bytes: Readonly<Record<Kind, Uint8Array>>
  close(): Promise<void>
}

/** A picture whose PDQ quality is in [50, 80): matchable, but low enough that the policy holds it. */
async function lowQualityImage(hasher: Hasher): Promise<Uint8Array> {
  for (let seed = 1; seed < 400; seed++) {
    const bytes = await generateImage({ seed: 9000 + seed, noise: 0 })
    const { pdqQuality } = await hasher.hash(bytes)
    if (pdqQuality >= 50 && pdqQuality < 80) return bytes
  }
  throw new Error('no synthetic picture with PDQ quality in [50, 80)')
}

/**
 * A real pipeline for the review tests: a loopback site with one page of six benign synthetic
 * pictures, two known-hash lists built so that each picture meets a different rule of the policy,
 * a real crawl (crawler, hasher, matcher, notifier), accounts, and a review server on it.
 */
export async function openReviewFixture(dialect: DialectName, serverOptions: Partial<ReviewServerOptions> = {}): Promise<ReviewFixture> {
  const handle = await openTestDatabase(dialect)
  const db = handle.db
  const hasher = new Hasher()
  const bytes = {} as Record<Kind, Uint8Array>
  const seeds: Record<Exclude<Kind, 'lowQuality'>, number> = { exact: 11, close: 12, near: 13, reviewRequired: 14, unrelated: 15 }
  for (const [kind, seed] of Object.entries(seeds)) bytes[kind as Kind] = await generateImage({ seed })
  bytes.lowQuality = await lowQualityImage(hasher)
  const hashes = {} as Record<Kind, ImageHashes>
  for (const kind of KINDS) hashes[kind] = await hasher.hash(bytes[kind])

  const site = http.createServer((req, res) => {
    const path = req.url ?? '/'
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' })
      return void res.end(`<!doctype html><html><body>${KINDS.map((k) => `<img src="/media/${k}.jpg">`).join('')}</body></html>`)
    }
    const kind = /^\/media\/(\w+)\.jpg$/.exec(path)?.[1] as Kind | undefined
    if (kind && KINDS.includes(kind)) {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': bytes[kind].length })
      return void res.end(bytes[kind])
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve))
  const siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`

  await importList(db, { name: 'verified-list', lines: [
    'algorithm,hash,category,external_id',
    `sha256,${hashes.exact.sha256},A1,ext-exact`,
    `pdq,${flipBits(hashes.close.pdq, 5)},A1,ext-close`,
    `pdq,${flipBits(hashes.near.pdq, 22)},B1,ext-near`,
    `pdq,${hashes.lowQuality.pdq},B2,ext-lowq`,
  ] })
  await importList(db, { name: 'second-look', lines: ['algorithm,hash,category,external_id', `md5,${hashes.reviewRequired.md5},B1,ext-review`] })
  const cli = { id: null, name: 'fixture' }
  await setListReview(db, { name: 'second-look' }, { mode: 'review-required' }, cli)
  await setProviderRule(db, PROVIDER)

  const matcher = new Matcher(db, { refreshIntervalMs: 0 })
  const job = await CrawlJob.create({
    db, hasher, matcher,
    onMatched: async (items) => (await createNotices(db, await ProviderDirectory.load(db), items, REPORTER)).created,
  }, { seeds: [`${siteUrl}/`], maxPages: 5, allowAddresses: ['127.0.0.1/32'] })
  await job.run()
  await hasher.close()

  const fetched = await db.selectFrom('media_fetches').select(['url', 'media_id']).where('job_id', '=', job.id).execute()
  const media = {} as Record<Kind, { url: string; mediaId: number; hashes: ImageHashes }>
  for (const kind of KINDS) {
    const url = `${siteUrl}/media/${kind}.jpg`
    const row = fetched.find((f) => f.url === url)
    if (!row?.media_id) throw new Error(`the crawl did not hash ${url}`)
    media[kind] = { url, mediaId: row.media_id, hashes: hashes[kind] }
  }
  for (const [name, role] of [['ana', 'analyst'], ['bob', 'analyst'], ['sue', 'supervisor'], ['ada', 'admin']] as const) {
    await addAnalyst(db, { name, role, password: PASSWORD }, cli)
  }
  const server = await ReviewServer.start({
    db, reporter: REPORTER, previewGuard: new AddressGuard({ allow: ['127.0.0.1/32'] }), ...serverOptions,
  })
  const listIds = { verified: (await db.selectFrom('hash_lists').select('id').where('name', '=', 'verified-list').executeTakeFirstOrThrow()).id, secondLook: (await db.selectFrom('hash_lists').select('id').where('name', '=', 'second-look').executeTakeFirstOrThrow()).id }
  return {
    handle, server, siteUrl, jobId: job.id, media, listIds, bytes,
    async close() {
      await server.close()
      await new Promise<void>((resolve) => site.close(() => resolve()))
      await handle.close()
    },
  }
}

/** A logged-in API client (cookie and CSRF token kept), speaking to the fixture's server with fetch. */
export class ApiClient {
  cookie = ''
  csrf = ''
  constructor(readonly base: string) {}

  static async login(base: string, name: string, password = PASSWORD): Promise<ApiClient> {
    const client = new ApiClient(base)
    const response = await client.request('POST', '/login', { name, password })
    if (response.status !== 200) throw new Error(`login as ${name} failed: ${response.status}`)
    return client
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const response = await fetch(`${this.base}${path}`, {
      method, redirect: 'manual',
      headers: {
        accept: 'application/json', ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(method === 'POST' && this.csrf ? { 'x-csrf-token': this.csrf } : {}), ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
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
