import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CrawlJob } from '@arachnid/crawler'
import { Hasher } from '@arachnid/hasher'
import { Matcher } from '@arachnid/matcher'
import { BINARIES, dialectsUnderTest, haveBinary, openTestDatabase, skippedSuite, type TestDatabase } from '@arachnid/test'

const CHROMIUM = BINARIES.chromium.path
// Without Chromium the file says it skips and why (under CI=true, haveBinary fails the file).
const haveChromium = haveBinary('chromium')
const dialects = haveChromium ? await dialectsUnderTest() : []
if (!haveChromium) skippedSuite('browser pages', `${CHROMIUM} is missing (${BINARIES.chromium.install})`)

/** A page that shows its images only through JavaScript, lazy loading and CSS. */
async function startScriptedSite(): Promise<{ base: string; close(): Promise<void> }> {
  const { default: sharp } = await import('sharp')
  const jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 80, b: 20 } } }).jpeg().toBuffer()
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><head>
        <style>.hero { background-image: url('/css-bg.jpg'); width: 10px; height: 10px }</style></head><body>
        <div class="hero"></div>
        <img class="lazy" data-src="/lazy.jpg" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
        <video poster="/poster.jpg"></video>
        <div id="gallery"></div>
        <script>
          document.addEventListener('DOMContentLoaded', () => {
            const img = document.createElement('img'); img.src = '/scripted.jpg'; document.getElementById('gallery').appendChild(img)
            const a = document.createElement('a'); a.href = '/second.html'; a.textContent = 'next'; document.body.appendChild(a)
          })
        </script></body></html>`)
    } else if (path === '/second.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><script>document.write(\'<img src="/second.jpg">\')</script></body></html>')
    } else if (path.endsWith('.jpg')) res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg)
    else res.writeHead(404).end()
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

describe.each(dialects)('browser pages on %s', (dialect) => {
  let handle: TestDatabase
  let hasher: Hasher
  let site: Awaited<ReturnType<typeof startScriptedSite>>
  beforeAll(async () => {
    handle = await openTestDatabase(dialect)
    hasher = new Hasher()
    site = await startScriptedSite()
  })
  afterAll(async () => {
    await hasher?.close()
    await site?.close()
    await handle?.close()
  })

  const mediaOf = async (jobId: number) => (await handle.db.selectFrom('media_fetches').select('url').where('job_id', '=', jobId).execute())
    .map((r) => new URL(r.url).pathname).sort()

  it('finds media that scripts, lazy loading and CSS add, in Debian\'s Chromium', async () => {
    const deps = { db: handle.db, hasher, matcher: new Matcher(handle.db) }
    const browser = await CrawlJob.create(deps, { seeds: [`${site.base}/`], allowAddresses: ['127.0.0.1/32'], browser: true, chromiumPath: CHROMIUM })
    const summary = await browser.run()
    expect(summary.status).toBe('finished')
    expect(summary.pages).toBe(2)
    expect(await mediaOf(browser.id)).toEqual(['/css-bg.jpg', '/lazy.jpg', '/poster.jpg', '/scripted.jpg', '/second.jpg'])
    expect(summary.media).toBe(5)

    // The HTTP crawler sees only what the HTML says before scripts run.
    const plain = await CrawlJob.create(deps, { seeds: [`${site.base}/`], allowAddresses: ['127.0.0.1/32'] })
    await plain.run()
    expect(await mediaOf(plain.id)).toEqual(['/poster.jpg'])
  })
})
