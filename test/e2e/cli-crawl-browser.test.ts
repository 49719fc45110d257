import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BINARIES, type CliEnvironment, dialectsUnderTest, haveBinary, openCliEnvironment, skippedSuite } from '@arachnid/test'

// Without Chromium this file says it skips and why; under CI=true haveBinary fails it instead.
const haveChromium = haveBinary('chromium')
const dialects = haveChromium ? await dialectsUnderTest() : []
if (!haveChromium) skippedSuite('crawl --browser through pnpm arachnid', `${BINARIES.chromium.path} is missing (${BINARIES.chromium.install})`)

/**
 * A site whose images only a browser finds: one added by a script after load, a CSS background,
 * a lazy `data-src` image and, on a second page written by document.write, one more and a file
 * that is not an image (a failure for `jobs show` to explain).
 */
async function startScriptedSite(): Promise<{ base: string; close(): Promise<void> }> {
  const { generateImage } = await import('@arachnid/synthetic')
  const jpeg = await generateImage({ seed: 5, width: 64, height: 48, format: 'jpeg' })
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><head>
        <style>.hero { background-image: url('/css-bg.jpg'); width: 10px; height: 10px }</style></head><body>
        <div class="hero"></div>
        <img class="lazy" data-src="/lazy.jpg" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
        <div id="gallery"></div>
        <script>
          window.addEventListener('load', () => setTimeout(() => {
            const img = document.createElement('img'); img.src = '/scripted.jpg'; document.getElementById('gallery').appendChild(img)
            const a = document.createElement('a'); a.href = '/second.html'; a.textContent = 'next'; document.body.appendChild(a)
          }, 200))
        </script></body></html>`)
    } else if (path === '/second.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><script>document.write(\'<img src="/second.jpg"><img src="/not-an-image.jpg">\')</script></body></html>')
    } else if (path === '/not-an-image.jpg') res.writeHead(200, { 'content-type': 'image/jpeg' }).end('<html>this is a web page, not a JPEG</html>')
    else if (path.endsWith('.jpg')) res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg)
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

describe.each(dialects)('crawl --browser through pnpm arachnid on %s', (dialect) => {
  let cli: CliEnvironment
  let site: Awaited<ReturnType<typeof startScriptedSite>>
  beforeAll(async () => {
    cli = await openCliEnvironment(dialect)
    site = await startScriptedSite()
  })
  afterAll(async () => {
    await site?.close()
    await cli?.close()
  })

  it('finds media a script adds after load, CSS backgrounds and lazy data-src images; jobs show says what failed, with its URL', async () => {
    const result = await cli.run(['crawl', `${site.base}/`, '--allow', '127.0.0.1/32', '--browser', '--json'])
    expect(result.code, result.errors).toBe(0)
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!)
    // Both pages rendered: no page failed (before, every page was ERROR "__name is not defined").
    expect(summary).toMatchObject({ status: 'finished', pages: 2, pageErrors: 0, media: 4, mediaErrors: 1 })
    expect(summary.errors).toEqual({ UNSUPPORTED_FORMAT: 1 })
    expect(summary.errorExamples).toEqual({ UNSUPPORTED_FORMAT: { message: expect.stringMatching(/\S/), url: `${site.base}/not-an-image.jpg` } })
    const found = await cli.withDatabase(async ({ db }) => (await db.selectFrom('media_fetches').select(['url', 'error_code'])
      .where('job_id', '=', summary.jobId).execute()).map((r) => new URL(r.url).pathname).sort())
    expect(found).toEqual(['/css-bg.jpg', '/lazy.jpg', '/not-an-image.jpg', '/scripted.jpg', '/second.jpg'])

    // What failed, not only how many: the first message of each kind and the URL it was for.
    const text = await cli.run(['jobs', 'show', String(summary.jobId)])
    expect(text.code, text.errors).toBe(0)
    expect(text.stdout).toMatch(new RegExp(`^ {2}error {3}UNSUPPORTED_FORMAT: 1 \\(first: .+ at ${site.base}/not-an-image\\.jpg\\)$`, 'm'))
  }, 180_000)
})
