import { mkdir, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { type Browser, type Page, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OutboxDelivery, SmtpTransport } from '@arachnid/notifier'
import { BINARIES, SmtpSink, haveBinary, skippedSuite } from '@arachnid/test'
import { PASSWORD, PROVIDER, REPORTER, type ReviewFixture, openReviewFixture } from './review-fixture.js'

const CHROMIUM = BINARIES.chromium.path
// Without Chromium this file says it skips and why; under CI=true haveBinary fails it instead.
const available = haveBinary('chromium')
if (!available) skippedSuite('the review page in Chromium', `${CHROMIUM} is missing (${BINARIES.chromium.install})`)
const ARTIFACTS = fileURLToPath(new URL('../../../test/artifacts/', import.meta.url))

/**
 * The review page in Debian's Chromium (driven by playwright-core, never a downloaded browser)
 * against a running review server on the real pipeline's data (PGlite; the API suite covers both
 * dialects).
 */
describe.skipIf(!available)('the review page in Chromium', () => {
  let f: ReviewFixture
  let browser: Browser
  let smtp: SmtpSink

  beforeAll(async () => {
    f = await openReviewFixture('pglite', {}, { listen: true })
    smtp = await new SmtpSink().start()
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
  })
  afterAll(async () => {
    await browser?.close()
    await smtp?.stop()
    await f?.close()
  })

  /** A browser of its own, signed in through the form and on `path`: each test starts from nothing another left. */
  async function signedIn(name: string, path: string): Promise<Page> {
    const page = await (await browser.newContext()).newPage()
    await page.goto(`${f.server.url}/login?next=${encodeURIComponent(path)}`)
    await page.fill('input[name=name]', name)
    await page.fill('input[name=password]', PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForURL((url) => url.pathname === new URL(path, f.server.url).pathname)
    return page
  }

  it('refuses every protected route to an anonymous browser', async () => {
    const context = await browser.newContext()
    try {
      const anonymous = await context.newPage()
      for (const route of f.server.routes.filter((r) => r.kind !== 'public')) {
        const response = await context.request.fetch(`${f.server.url}${route.path}`, { method: route.method, maxRedirects: 0, data: route.method === 'POST' ? {} : undefined })
        if (route.kind === 'api') expect(response.status(), `${route.method} ${route.path}`).toBe(401)
        else {
          expect(response.status(), `${route.method} ${route.path}`).toBe(303)
          expect(response.headers().location, route.path).toMatch(/^\/login/)
        }
        if (route.kind === 'page' && route.method === 'GET') {
          await anonymous.goto(`${f.server.url}${route.path}`)
          expect(new URL(anonymous.url()).pathname, route.path).toBe('/login')
        }
      }
    } finally {
      await context.close()
    }
  })

  it('logs in through the form and lands on the queue, with no media shown', async () => {
    const page = await (await browser.newContext()).newPage()
    await page.goto(`${f.server.url}/queue?job=${f.jobId}`)
    expect(new URL(page.url()).pathname).toBe('/login')
    await page.fill('input[name=name]', 'ana')
    await page.fill('input[name=password]', 'wrong password entirely')
    await page.click('button[type=submit]')
    await expect.poll(() => page.locator('[role=alert]').textContent()).toContain('Wrong name or password')
    await page.fill('input[name=name]', 'ana')
    await page.fill('input[name=password]', PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector('body[data-ready=true]')
    // Back where it was going, filters and all.
    expect(new URL(page.url()).pathname).toBe('/queue')
    expect(new URL(page.url()).searchParams.get('job')).toBe(String(f.jobId))
    expect(await page.locator('#queue tr.item').count()).toBe(3)
    expect(await page.locator('img').count()).toBe(0)
    const cookies = await page.context().cookies()
    expect(cookies.find((c) => c.name === 'arachnid_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' })
  })

  it('reviews with the keyboard: j/k move, p previews (blurred), c confirms into a notice whose email reaches SMTP, r rejects, e escalates', async () => {
    // Pictures of its own, so what it decides is nobody else's.
    const s = await f.scenario('keyboard')
    const page = await signedIn('ana', `/queue?job=${s.jobId}`)
    await page.waitForSelector('body[data-ready=true]')
    const selectedId = () => page.locator('#queue tr.item.selected').getAttribute('data-media-id').then(Number)
    const rows = await page.locator('#queue tr.item').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.mediaId)))
    await expect.poll(() => page.locator('#evidence h2').textContent()).toBe(`Media #${rows[0]}`)
    await page.keyboard.press('j')
    expect(await selectedId()).toBe(rows[1])
    await page.keyboard.press('j')
    expect(await selectedId()).toBe(rows[2])
    await page.keyboard.press('k')
    await page.keyboard.press('j')
    expect(rows[2]).toBe(s.media.near.mediaId)
    await expect.poll(() => page.locator('#evidence h2').textContent()).toBe(`Media #${s.media.near.mediaId}`)
    expect(await page.locator('#evidence').textContent()).toContain(s.media.near.url)
    expect(await page.locator('#matches').textContent()).toContain('ext-near')

    await page.keyboard.press('p')
    const preview = page.locator('#preview-image')
    await preview.waitFor()
    expect(await preview.getAttribute('alt')).toContain('blurred, greyscale')
    expect(await preview.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(0)

    await page.fill('#reason', 'same picture, recompressed')
    await page.locator('#reason').blur()
    await page.keyboard.press('c')
    await expect.poll(() => page.locator('#flash').textContent()).toMatch(new RegExp(`Media #${s.media.near.mediaId}: confirmed, notices ARN-`))
    expect(await page.locator('#queue tr.item').count()).toBe(2)
    const notice = await f.handle.db.selectFrom('notices').select('reference').where('media_url', '=', s.media.near.url).executeTakeFirstOrThrow()
    const delivered = await new OutboxDelivery(f.handle.db, new SmtpTransport(smtp.url), { from: REPORTER.from }).deliverDue()
    expect(delivered.sent).toBeGreaterThanOrEqual(1)
    const mail = smtp.received.filter((m) => m.parsed.text?.includes(s.media.near.url))
    expect(mail).toHaveLength(1)
    expect(mail[0]!.envelopeTo).toEqual([PROVIDER.abuseEmail])
    expect(mail[0]!.parsed.text).toContain(notice.reference)

    await page.keyboard.press('k')
    const toReject = await selectedId()
    await page.keyboard.press('r')
    await expect.poll(() => page.locator('#flash').textContent()).toBe(`Media #${toReject}: rejected`)
    const toEscalate = await selectedId()
    expect(toEscalate).not.toBe(toReject)
    await page.keyboard.press('e')
    await expect.poll(() => page.locator('#flash').textContent()).toBe(`Media #${toEscalate}: escalated`)
    expect(await page.locator('#queue tr.item').count()).toBe(0)
    const statuses = await f.handle.db.selectFrom('matches').select(['media_id', 'status', 'escalated_at', 'decided_by']).where('media_id', 'in', [toReject, toEscalate, s.media.near.mediaId]).execute()
    const of = (mediaId: number) => statuses.find((m) => m.media_id === mediaId)
    expect(of(toReject)?.status).toBe('rejected')
    expect(of(toEscalate)).toMatchObject({ status: 'pending' })
    expect(of(toEscalate)?.escalated_at).not.toBeNull()
    expect(of(s.media.near.mediaId)?.status).toBe('confirmed')
  })

  it('classifies a suspect with the keyboard: two analysts agree, p previews blurred, and a break is prompted past the policy\'s previews', async () => {
    const s = await f.scenario('suspects')
    const { queueSuspects } = await import('@arachnid/matcher')
    // The pipeline queues them after each batch; the fixture records pages without the crawler.
    expect(await queueSuspects(f.handle.db, Object.values(s.media).map((m) => m.mediaId), { jobId: s.jobId })).toBe(1)
    await f.handle.db.updateTable('suspect_policy').set({ previews_before_break: 1 }).execute()
    try {
      const ana = await signedIn('ana', `/suspects?job=${s.jobId}`)
      await ana.waitForSelector('body[data-ready=true]')
      expect(await ana.locator('#queue tr.item').count()).toBe(1)
      expect(await ana.locator('#queue tr.item').getAttribute('data-media-id')).toBe(String(s.media.unrelated.mediaId))
      await expect.poll(() => ana.locator('#evidence h2').textContent()).toBe(`Media #${s.media.unrelated.mediaId}`)
      expect(await ana.locator('#wellbeing').isVisible()).toBe(false)
      await ana.keyboard.press('p')
      const preview = ana.locator('#preview-image')
      await preview.waitFor()
      expect(await preview.getAttribute('alt')).toContain('blurred, greyscale')
      await ana.locator('#wellbeing').waitFor({ state: 'visible' })
      expect(await ana.locator('#wellbeing-count').textContent()).toBe('You have been shown 1 previews in this session.')
      await ana.click('#take-break')
      await ana.locator('#wellbeing').waitFor({ state: 'hidden' })

      await ana.keyboard.press('1')
      await expect.poll(() => ana.locator('#flash').textContent()).toMatch(/^Suspect #\d+: awaiting-second \(csam\)$/)
      expect(await ana.locator('#queue tr.item').count()).toBe(1)
      const bob = await signedIn('bob', `/suspects?job=${s.jobId}`)
      await bob.waitForSelector('body[data-ready=true]')
      expect(await bob.locator('#queue').textContent()).toContain('ana: csam')
      await bob.keyboard.press('1')
      await expect.poll(() => bob.locator('#flash').textContent()).toMatch(/^Suspect #\d+: classified \(csam\), 5 entries added to classified-csam$/)
      expect(await bob.locator('#queue tr.item').count()).toBe(0)
      const entries = await f.handle.db.selectFrom('list_entry_provenance').where('media_id', '=', s.media.unrelated.mediaId).select('classified_by').execute()
      expect(entries.map((e) => e.classified_by)).toEqual(Array.from({ length: 5 }, () => ['ana', 'bob']))
    } finally {
      await f.handle.db.updateTable('suspect_policy').set({ previews_before_break: 50 }).execute()
    }
  })

  it('renders the statistics page\'s charts (screenshot saved as a test artifact)', async () => {
    // One notice removed 5 hours after it was created, as the rechecks would record it.
    const first = await f.handle.db.selectFrom('notices').select(['id', 'created_at']).orderBy('id').executeTakeFirstOrThrow()
    await f.handle.db.updateTable('notices').set({ status: 'removed', removed_at: new Date(first.created_at.getTime() + 5 * 3_600_000) }).where('id', '=', first.id).execute()
    const page = await signedIn('ana', '/stats')
    const charts = page.locator('svg.chart')
    expect(await charts.count()).toBeGreaterThanOrEqual(5)
    for (const title of ['Notices per day (last 30 days)', 'Time to removal, all providers', 'Time to removal per provider', 'Age of open notices']) {
      const chart = page.locator(`svg.chart[aria-label="${title}"]`)
      const box = await chart.boundingBox()
      expect(box?.width, title).toBeGreaterThan(100)
      // Some bar is drawn with a visible area (vertical bars by height, the per-provider ones by width).
      const largest = await chart.locator('rect.bar').evaluateAll((bars) => Math.max(0, ...bars.map((b) => {
        const box = (b as SVGGraphicsElement).getBBox()
        return box.width * box.height
      })))
      expect(largest, title).toBeGreaterThan(100)
    }
    expect(await page.locator('#removal').textContent()).toContain(PROVIDER.name)
    await mkdir(ARTIFACTS, { recursive: true })
    const file = `${ARTIFACTS}review-stats.png`
    await page.screenshot({ path: file, fullPage: true })
    expect((await stat(file)).size).toBeGreaterThan(10_000)
  })
})
