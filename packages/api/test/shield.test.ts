import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ImageHashes, hashImage } from '@arachnid/hasher'
import { encodeImage, generateImage, renderPixels } from '@arachnid/synthetic'
import { dialectsUnderTest } from '@arachnid/test'
import { base32 } from '../src/index.js'
import { type ApiFixture, openApiFixture } from './fixture.js'

const dialects = await dialectsUnderTest()

/** The picture of `seed` turned a quarter, as a JPEG: the same image to a person, another file and another PDQ. */
async function rotated(seed: number): Promise<Uint8Array> {
  const raw = await renderPixels({ seed })
  const { width, height, data } = raw
  const out = new Uint8Array(data.length)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const to = (x * height + (height - 1 - y)) * 3
      const from = (y * width + x) * 3
      out[to] = data[from]!
      out[to + 1] = data[from + 1]!
      out[to + 2] = data[from + 2]!
    }
  }
  return encodeImage({ data: out, width: height, height: width, channels: 3 }, 'jpeg')
}

const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64')

describe.each(dialects)('Arachnid Shield v1 endpoints on %s', (dialect) => {
  let f: ApiFixture
  const image: Record<string, Uint8Array> = {}
  const hashes: Record<string, ImageHashes> = {}
  beforeAll(async () => {
    f = await openApiFixture(dialect, { maxMediaBytes: 200_000 })
    for (const [name, seed] of [['exact', 101], ['md5', 102], ['both', 103], ['near', 104], ['none', 105]] as const) {
      image[name] = await generateImage({ seed })
      hashes[name] = await hashImage(image[name]!)
    }
    await f.list('shield-csam', [`sha256,${hashes.exact!.sha256},,k1`, `pdq,${hashes.both!.pdq},,k2`, `pdq,${hashes.near!.pdq},,k3`])
    await f.list('shield-harm', [`md5,${hashes.md5!.md5},,h1`, `md5,${hashes.both!.md5},,h2`], { classification: 'harmful-abusive-material' })
  })
  afterAll(async () => { await f?.close() })

  const media = (bytes: Uint8Array, type = 'image/jpeg', url = '/v1/media/') =>
    f.server.inject({ method: 'POST', url, headers: { authorization: f.auth, 'content-type': type }, payload: Buffer.from(bytes) })
  const pdq = (body: unknown, url = '/v1/pdq/') => f.server.inject({ method: 'POST', url, headers: { authorization: f.auth }, payload: body as object })

  it('an exact sha256 match: ScannedMedia field by field (SHA-1 in upper-case base32, SHA-256 in upper-case hex)', async () => {
    const h = hashes.exact!
    const response = await media(image.exact!)
    expect(response.statusCode).toBe(200)
    const sha1 = base32(createHash('sha1').update(image.exact!).digest())
    expect(sha1).toMatch(/^[A-Z2-7]{32}$/)
    expect(response.json()).toEqual({
      sha1_base32: sha1, sha256_hex: h.sha256.toUpperCase(), size_bytes: image.exact!.length,
      classification: 'csam', match_type: 'exact', is_match: true,
      near_match_details: [{ timestamp: 0, sha1_base32: sha1, sha256_hex: h.sha256.toUpperCase(), classification: 'csam' }],
    })
  })

  it('an md5 match in a harmful-abusive-material list; without the trailing slash too', async () => {
    const body = (await media(image.md5!, 'application/octet-stream', '/v1/media')).json()
    expect(body).toMatchObject({ classification: 'harmful-abusive-material', match_type: 'exact', is_match: true })
    expect(body.near_match_details).toEqual([{ timestamp: 0, sha1_base32: body.sha1_base32, sha256_hex: body.sha256_hex, classification: 'harmful-abusive-material' }])
  })

  it('csam wins over harmful-abusive-material; a near (PDQ) match has no SHA-1 or SHA-256 of the known media', async () => {
    const body = (await media(image.both!)).json()
    expect(body).toMatchObject({ classification: 'csam', match_type: 'near', is_match: true })
    expect(body.near_match_details).toEqual([
      { timestamp: 0, sha1_base32: '', sha256_hex: '', classification: 'csam' },
      { timestamp: 0, sha1_base32: body.sha1_base32, sha256_hex: body.sha256_hex, classification: 'harmful-abusive-material' },
    ])
  })

  it('a rotated copy is a near match through the dihedral PDQ hashes', async () => {
    const turned = await rotated(104)
    expect((await hashImage(turned)).sha256).not.toBe(hashes.near!.sha256)
    const body = (await media(turned)).json()
    expect(body).toMatchObject({ classification: 'csam', match_type: 'near', is_match: true, near_match_details: [{ timestamp: 0, sha1_base32: '', sha256_hex: '', classification: 'csam' }] })
  })

  it('no known match', async () => {
    const body = (await media(image.none!, 'image/jpeg')).json()
    expect(body).toMatchObject({ classification: 'no-known-match', match_type: null, is_match: false, near_match_details: [] })
    expect(body.size_bytes).toBe(image.none!.length)
  })

  it('/v1/pdq/ answers each hash under the key exactly as sent (padded or not), near_match_details one object or null', async () => {
    const known = b64(hashes.near!.pdq)
    const unpadded = known.replace(/=+$/, '')
    const urlSafe = known.replace(/\+/g, '-').replace(/\//g, '_')
    const unknown = b64(hashes.none!.pdq)
    const response = await pdq({ hashes: [known, unpadded, urlSafe, unknown, known] })
    expect(response.statusCode).toBe(200)
    const hit = { classification: 'csam', match_type: 'near', near_match_details: { timestamp: 0, sha1_base32: '', sha256_hex: '', classification: 'csam' } }
    expect(response.json()).toEqual({
      scanned_hashes: { [known]: hit, [unpadded]: hit, [urlSafe]: hit, [unknown]: { classification: 'no-known-match', match_type: null, near_match_details: null } },
    })
    expect((await pdq({ hashes: [known] }, '/v1/pdq')).json().scanned_hashes[known]).toEqual(hit)
  })

  it('/v1/pdq/ refuses bad base64 and a hash of the wrong length, naming which', async () => {
    const bad = await pdq({ hashes: [b64(hashes.near!.pdq), 'not*base64'] })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toEqual({ detail: 'hashes[1] "not*base64": not base64 (expected base64 of the 32 bytes of a PDQ hash)' })
    const short = await pdq({ hashes: [Buffer.alloc(31).toString('base64')] })
    expect(short.statusCode).toBe(400)
    expect(short.json().detail).toMatch(/^hashes\[0\] .*: a PDQ hash is 32 bytes, this is 31/)
    const notJson = await f.server.inject({ method: 'POST', url: '/v1/pdq/', headers: { authorization: f.auth, 'content-type': 'application/json' }, payload: '{"hashes": ["' })
    expect(notJson.statusCode).toBe(400)
    expect(notJson.json()).toEqual({ detail: 'the body is not a JSON object' })
  })

  it('media errors: unsupported Content-Type 415, undecodable 422 naming the hasher\'s code, empty 400, too large 413', async () => {
    const text = await media(Buffer.from('hello'), 'text/plain')
    expect(text.statusCode).toBe(415)
    expect(text.json().detail).toMatch(/^unsupported Content-Type "text\/plain"/)
    const truncated = await media(image.none!.subarray(0, 600))
    expect(truncated.statusCode).toBe(422)
    expect(truncated.json().detail).toMatch(/^the media could not be decoded \(CORRUPT: /)
    const garbage = await media(Buffer.from('definitely not an image'))
    expect(garbage.statusCode).toBe(422)
    expect(garbage.json().detail).toMatch(/\(UNSUPPORTED_FORMAT: /)
    const empty = await media(new Uint8Array(0))
    expect(empty.statusCode).toBe(400)
    expect(empty.json()).toHaveProperty('detail')
    const large = await media(new Uint8Array(300_000))
    expect(large.statusCode).toBe(413)
    expect(large.json()).toEqual({ detail: 'request body too large: at most 200000 bytes on /v1/media/' })
  })

  it('/v1/url/ refuses a private address unless allowed, with a 4xx and a detail', async () => {
    const response = await f.server.inject({ method: 'POST', url: '/v1/url/', headers: { authorization: f.auth }, payload: { url: 'http://127.0.0.1:9/a.jpg' } })
    expect(response.statusCode).toBe(403)
    expect(response.json().detail).toMatch(/^the URL could not be fetched \(BLOCKED_ADDRESS: /)
    const notUrl = await f.server.inject({ method: 'POST', url: '/v1/url/', headers: { authorization: f.auth }, payload: { url: 'nope' } })
    expect(notUrl.statusCode).toBe(400)
  })
})
