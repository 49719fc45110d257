import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { hammingDistance, HashError, hashImage } from '../src/index.js'
import { FIXTURES } from './support/fixtures.js'

/** A loopback server that records every request it gets; the SVGs below point at it. */
let server: Server
let base = ''
const requests: string[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`)
    if (req.url?.endsWith('.png')) {
      // A valid 1x1 PNG, so a renderer that did fetch would succeed and draw it.
      res.writeHead(200, { 'content-type': 'image/png' })
      res.end(Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'))
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('x')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

// Each test reads only the requests it caused.
beforeEach(() => {
  requests.length = 0
})

const svg = (body: string, prolog = ''): Buffer =>
  Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>${prolog}\n<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xi="http://www.w3.org/2001/XInclude" width="120" height="90">` +
      `<rect width="120" height="90" fill="#2a6"/><circle cx="60" cy="45" r="30" fill="#fc3"/>${body}</svg>`,
  )

describe('SVG is rasterised without any external access', () => {
  it('the loopback server works (so "no request" below means something)', async () => {
    const response = await fetch(`${base}/probe.png`)
    expect(response.status).toBe(200)
    await response.arrayBuffer()
    expect(requests).toEqual(['GET /probe.png'])
  })

  it('external references of every kind cause no request, and the SVG still hashes', async () => {
    const vectors = {
      'image href': svg(`<image href="${base}/image.png" width="50" height="50"/>`),
      'image xlink:href': svg(`<image xlink:href="${base}/xlink.png" width="50" height="50"/>`),
      'use href': svg(`<use href="${base}/use.svg#shape"/>`),
      'feImage filter': svg(`<filter id="f"><feImage href="${base}/feimage.png"/></filter><rect width="10" height="10" filter="url(#f)"/>`),
      'CSS @import and url()': svg(`<style>@import url("${base}/import.css"); rect { fill: url("${base}/fill.png") }</style>`),
      'xml-stylesheet': svg('', `<?xml-stylesheet type="text/css" href="${base}/pi.css"?>`),
      'external DTD': svg('', `<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "${base}/svg11.dtd">`),
      'XInclude': svg(`<xi:include href="${base}/include.svg" parse="xml"/>`),
      'file URL': svg('<image href="file:///etc/hostname" width="50" height="50"/>'),
    }
    const formats: Record<string, string> = {}
    for (const [name, bytes] of Object.entries(vectors)) {
      try {
        const h = await hashImage(bytes)
        formats[name] = `${h.format} ${h.width}x${h.height}`
        expect(h.format).toBe('svg')
      } catch (error) {
        // Refusing is also acceptable; fetching is not.
        expect(error).toBeInstanceOf(HashError)
        formats[name] = (error as HashError).code
      }
    }
    console.log('SVG vectors:', formats, 'requests seen:', requests)
    expect(requests).toEqual([])
  })

  it('a local file referenced by file: URL is not embedded', async () => {
    const picture = new URL(`file://${FIXTURES}pdq/data/reg-test-input/pen-and-coaster.png`).href
    const plain = await hashImage(svg(''))
    const withFile = await hashImage(svg(`<image href="${picture}" x="0" y="0" width="120" height="90" preserveAspectRatio="none"/>`))
    expect(withFile.pdq).toBe(plain.pdq)
    expect(withFile.blockhash).toBe(plain.blockhash)
    // The same picture inline (data: URL) is drawn, so the element would have changed the hash.
    const small = await sharp(readFileSync(fileURLToPath(picture))).resize(120, 90).png().toBuffer()
    const inline = `data:image/png;base64,${small.toString('base64')}`
    const withInline = await hashImage(svg(`<image href="${inline}" x="0" y="0" width="120" height="90" preserveAspectRatio="none"/>`))
    expect(hammingDistance(withInline.pdq, plain.pdq)).toBeGreaterThan(31)
  })

  it('refuses XML entity declarations (billion laughs) with UNSAFE_SVG and a reason', async () => {
    const entities = Array.from({ length: 10 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join('')
    const bomb = Buffer.from(
      `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY lol0 "lol">${entities}]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&lol10;</text></svg>`,
    )
    const error = await hashImage(bomb).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(HashError)
    expect((error as HashError).code).toBe('UNSAFE_SVG')
    expect((error as HashError).message).toMatch(/entit/i)
    // Lower-case and whitespace variants too.
    const sneaky = Buffer.from(`<?xml version="1.0"?>\n<!doctype svg [\n <!entity a "b">\n]><svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>`)
    expect(((await hashImage(sneaky).catch((e: unknown) => e)) as HashError).code).toBe('UNSAFE_SVG')
  })

  it('refuses SVG over maxSvgBytes, and all SVG when allowSvg is false', async () => {
    const big = svg(`<!-- ${'x'.repeat(2000)} -->`)
    expect(((await hashImage(big, { maxSvgBytes: 1000 }).catch((e: unknown) => e)) as HashError).code).toBe('UNSAFE_SVG')
    expect(((await hashImage(svg(''), { allowSvg: false }).catch((e: unknown) => e)) as HashError).code).toBe('UNSUPPORTED_FORMAT')
    expect((await hashImage(svg(''))).format).toBe('svg')
  })

  it('an SVG claiming a huge canvas is refused from its header: TOO_LARGE', async () => {
    const huge = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><rect width="10" height="10"/></svg>')
    expect(((await hashImage(huge).catch((e: unknown) => e)) as HashError).code).toBe('TOO_LARGE')
  })
})
