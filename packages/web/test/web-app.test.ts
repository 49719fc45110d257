import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CriticalError, NonRetryableError, RetryableError, createLogger } from '@arachnid/core'
import { HttpError, createWebApp, field, html } from '@arachnid/web'
import type { FastifyInstance, InjectOptions } from 'fastify'

/** A pino destination that keeps each line it is given, so a test reads what was logged. */
function logSink(): { lines: Record<string, unknown>[]; stream: Writable } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return { lines, stream }
}

const CSP = "default-src 'none';script-src 'self';style-src 'unsafe-inline';img-src 'self' blob:;connect-src 'self';form-action 'self';frame-ancestors 'none';base-uri 'none'"

describe('the web app every server starts from', () => {
  const log = logSink()
  let app: FastifyInstance
  beforeAll(async () => {
    app = await createWebApp({ logger: createLogger({ destination: log.stream }) })
    app.get('/page', async (_request, reply) => reply.type('text/html; charset=utf-8').send('<p>hi</p>'))
    app.get('/refuse', async () => { throw new HttpError(409, 'DECIDED', 'decided already') })
    app.get('/bad-input', async () => { throw new NonRetryableError('BAD_THING', 'that thing is not allowed') })
    app.get('/passing', async () => { throw new RetryableError('BUSY', 'pool exhausted at 10.0.0.7:5432') })
    app.get('/critical', async () => { throw new CriticalError('DATABASE', 'connection to 10.0.0.7:5432 lost') })
    app.get('/bug', async () => { throw new TypeError('cannot read properties of undefined (reading \'secret_column\')') })
    app.get('/search', {
      schema: { querystring: { type: 'object', properties: { limit: field.integer(1, 500), kind: field.choice(['a', 'b'] as const), q: field.text(10) } } },
    }, async (request) => ({ query: request.query }))
    app.post('/things/:id', {
      config: { badRequestCode: 'BAD_THING' },
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]+$' } } },
        body: { type: 'object', required: ['name'], properties: { name: field.text(5), size: field.integer(0, 9) } },
      },
    }, async (request) => ({ body: request.body }))
    app.get('/limited', { config: { rateLimit: { max: 2, timeWindow: 60_000 } } }, async () => ({ ok: true }))
  })
  afterAll(async () => {
    await app?.close()
  })

  it('sends the security headers on every answer, errors and unknown routes included', async () => {
    for (const url of ['/page', '/refuse', '/no-such-route']) {
      const { headers } = await app.inject({ url })
      expect(headers['content-security-policy'], url).toBe(CSP)
      expect(headers, url).toMatchObject({
        'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin', 'cache-control': 'no-store',
        'x-robots-tag': 'noindex', 'cross-origin-opener-policy': 'same-origin', 'cross-origin-resource-policy': 'same-origin',
      })
      // HSTS is the TLS proxy's to send, not a plain-HTTP server's.
      expect(headers['strict-transport-security'], url).toBeUndefined()
    }
    expect((await app.inject({ url: '/no-such-route' })).json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no such route' } })
  })

  it('maps the error hierarchy to statuses, and says nothing of an unexpected failure\'s cause but logs it', async () => {
    const answer = async (url: string) => {
      const r = await app.inject({ url })
      return [r.statusCode, r.json()]
    }
    expect(await answer('/refuse')).toEqual([409, { error: { code: 'DECIDED', message: 'decided already' } }])
    expect(await answer('/bad-input')).toEqual([400, { error: { code: 'BAD_THING', message: 'that thing is not allowed' } }])
    expect(await answer('/passing')).toEqual([503, { error: { code: 'UNAVAILABLE', message: 'temporarily unavailable; try again later' } }])
    expect(await answer('/critical')).toEqual([500, { error: { code: 'INTERNAL', message: 'internal error' } }])
    const before = log.lines.length
    const bug = await app.inject({ url: '/bug' })
    expect([bug.statusCode, bug.json()]).toEqual([500, { error: { code: 'INTERNAL', message: 'internal error' } }])
    expect(bug.body).not.toContain('secret_column')
    const logged = log.lines.slice(before)
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatchObject({ level: 50, msg: 'request failed', method: 'GET', path: '/bug', err: { type: 'TypeError', message: expect.stringContaining('secret_column') } })
    // The other unexpected ones were logged too; refusals were not.
    expect(log.lines.filter((l) => l.msg === 'request failed').map((l) => l.path)).toEqual(['/passing', '/critical', '/bug'])
  })

  it('validates query strings and bodies by their schemas: a 400 naming the field, its value and what is allowed', async () => {
    const answer = async (options: InjectOptions) => {
      const r = await app.inject(options)
      return [r.statusCode, r.json()]
    }
    expect(await answer({ url: '/search?limit=abc' })).toEqual([400, { error: { code: 'BAD_QUERY', message: 'query parameter limit="abc": expected an integer from 1 to 500' } }])
    expect(await answer({ url: '/search?limit=501' })).toEqual([400, { error: { code: 'BAD_QUERY', message: 'query parameter limit="501": expected an integer from 1 to 500' } }])
    expect(await answer({ url: '/search?kind=c' })).toEqual([400, { error: { code: 'BAD_QUERY', message: 'query parameter kind="c": expected one of a, b' } }])
    expect(await answer({ url: `/search?q=${'x'.repeat(30)}` })).toEqual([400, { error: { code: 'BAD_QUERY', message: `query parameter q="${'x'.repeat(20)}...": expected at most 10 characters` } }])
    // Empty parameters are "not given"; good ones arrive typed.
    expect(await answer({ url: '/search?limit=&kind=a' })).toEqual([200, { query: { kind: 'a' } }])
    expect(await answer({ url: '/search?limit=7' })).toEqual([200, { query: { limit: 7 } }])

    expect(await answer({ method: 'POST', url: '/things/1', payload: { size: 3 } })).toEqual([400, { error: { code: 'BAD_THING', message: 'name is required: expected at most 5 characters' } }])
    expect(await answer({ method: 'POST', url: '/things/1', payload: { name: 'ok', size: 10 } })).toEqual([400, { error: { code: 'BAD_THING', message: 'size 10: expected an integer from 0 to 9' } }])
    expect(await answer({ method: 'POST', url: '/things/1', payload: [1, 2] })).toEqual([400, { error: { code: 'BAD_JSON', message: 'the body is not a JSON object' } }])
    expect(await answer({ method: 'POST', url: '/things/1', payload: '{"name":', headers: { 'content-type': 'application/json' } })).toEqual([400, { error: { code: 'BAD_JSON', message: 'the body is not a JSON object' } }])
    expect(await answer({ method: 'POST', url: '/things/1', payload: 'name=a', headers: { 'content-type': 'text/csv' } })).toEqual([415, { error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send JSON or a form' } }])
    expect(await answer({ method: 'POST', url: '/things/1', payload: { name: 'x'.repeat(70_000) } })).toEqual([413, { error: { code: 'TOO_LARGE', message: 'request body too large' } }])
    // A path that does not fit the route's parameters names nothing.
    expect(await answer({ method: 'POST', url: '/things/abc', payload: { name: 'a' } })).toEqual([404, { error: { code: 'NOT_FOUND', message: 'no such route' } }])
    expect(await answer({ method: 'POST', url: '/things/2', payload: { name: 'a', size: '4' } })).toEqual([200, { body: { name: 'a', size: 4 } }])
    // No body, or an empty one, is no fields; an empty field is a field not given.
    const required = [400, { error: { code: 'BAD_THING', message: 'name is required: expected at most 5 characters' } }]
    expect(await answer({ method: 'POST', url: '/things/1' })).toEqual(required)
    expect(await answer({ method: 'POST', url: '/things/1', payload: '', headers: { 'content-type': 'application/json' } })).toEqual(required)
    expect(await answer({ method: 'POST', url: '/things/1', payload: { name: '', size: 2 } })).toEqual(required)
    expect(await answer({ method: 'POST', url: '/things/3', payload: { name: 'b', size: '' } })).toEqual([200, { body: { name: 'b' } }])
  })

  it('answers 429 with Retry-After once a limited route is over its limit', async () => {
    expect((await app.inject({ url: '/limited' })).statusCode).toBe(200)
    expect((await app.inject({ url: '/limited' })).statusCode).toBe(200)
    const over = await app.inject({ url: '/limited' })
    expect(over.statusCode).toBe(429)
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0)
    expect(over.json()).toEqual({ error: { code: 'RATE_LIMITED', message: expect.stringMatching(/^too many requests; try again in /) } })
    // Other routes are not limited.
    for (let i = 0; i < 3; i++) expect((await app.inject({ url: '/page' })).statusCode).toBe(200)
  })

  it('lists its routes, without the HEAD twins', () => {
    expect(app.routeTable.map((r) => `${r.method} ${r.url}`)).toEqual(['GET /page', 'GET /refuse', 'GET /bad-input', 'GET /passing', 'GET /critical', 'GET /bug', 'GET /search', 'POST /things/:id', 'GET /limited'])
    expect(app.routeTable.find((r) => r.url === '/things/:id')?.config).toMatchObject({ badRequestCode: 'BAD_THING' })
  })
})

describe('per-server choices', () => {
  it('takes each server\'s error shape: a JSON body of its own, or a page', async () => {
    const api = await createWebApp({ logger: createLogger({ level: 'silent' }), errorShape: (p) => ({ detail: p.message }) })
    api.get('/x', { schema: { querystring: { type: 'object', properties: { n: field.integer(1, 2) } } } }, async () => ({}))
    const pages = await createWebApp({ logger: createLogger({ level: 'silent' }), errorShape: (p) => html`<h1>${p.status}</h1><p>${p.message}</p>` })
    pages.get('/x', async () => { throw new HttpError(403, 'FORBIDDEN', 'not for <you>') })
    try {
      const a = await api.inject({ url: '/x?n=3' })
      expect([a.statusCode, a.json()]).toEqual([400, { detail: 'query parameter n="3": expected an integer from 1 to 2' }])
      expect((await api.inject({ url: '/nowhere' })).json()).toEqual({ detail: 'no such route' })
      const p = await pages.inject({ url: '/x' })
      expect(p.statusCode).toBe(403)
      expect(p.headers['content-type']).toBe('text/html; charset=utf-8')
      expect(p.body).toBe('<h1>403</h1><p>not for &lt;you&gt;</p>')
    } finally {
      await api.close()
      await pages.close()
    }
  })

  it('builds the OpenAPI document from the route schemas when asked, in one option', async () => {
    const app = await createWebApp({ logger: createLogger({ level: 'silent' }), openapi: { title: 'Test API', version: '9' } })
    app.get('/api/items', { schema: { querystring: { type: 'object', properties: { limit: field.integer(1, 500) } } } }, async () => ({ items: [] }))
    app.post('/api/items', { schema: { body: { type: 'object', required: ['name'], properties: { name: field.text(20) } } } }, async () => ({}))
    app.get('/hidden', { schema: { hide: true } }, async () => ({}))
    try {
      const doc = (await app.inject({ url: '/openapi.json' })).json()
      expect(doc).toMatchObject({ openapi: '3.1.0', info: { title: 'Test API', version: '9' } })
      expect(Object.keys(doc.paths).sort()).toEqual(['/api/items'])
      expect(doc.paths['/api/items'].get.parameters).toEqual([expect.objectContaining({ in: 'query', name: 'limit', description: 'an integer from 1 to 500', schema: expect.objectContaining({ type: 'integer', minimum: 1, maximum: 500 }) })])
      expect(doc.paths['/api/items'].post.requestBody.content['application/json'].schema).toMatchObject({ required: ['name'], properties: { name: { type: 'string', maxLength: 20 } } })
    } finally {
      await app.close()
    }
    // Without the option there is no document.
    const plain = await createWebApp({ logger: createLogger({ level: 'silent' }) })
    try {
      expect((await plain.inject({ url: '/openapi.json' })).statusCode).toBe(404)
    } finally {
      await plain.close()
    }
  })
})
