import { Prng } from './prng.js'
import type { MediaRef, Ref, SitePlan, UrlStyle, VideoRef } from './site-plan.js'
import { VIDEO_MIME_TYPES } from './site-manifest.js'

const WORDS = [
  'river', 'garden', 'lantern', 'harbour', 'meadow', 'orchard', 'pebble', 'compass', 'window', 'valley',
  'bridge', 'autumn', 'canvas', 'signal', 'marble', 'ribbon', 'thunder', 'saddle', 'willow', 'quartz',
  'the', 'a', 'of', 'and', 'with', 'over', 'near', 'under', 'beside', 'through',
] as const

/** Renders one page of the plan as HTML. Pure: the same plan and index always give the same string. */
export function renderPage(plan: SitePlan, index: number): string {
  const page = plan.pages[index]
  if (page === undefined) throw new RangeError(`no page ${index}`)
  const rng = new Prng(page.textSeed)
  const url = (style: UrlStyle, path: string): string => formatUrl(plan.baseUrl, page.path, style, path)
  const imageUrl = (ref: Ref): string => url(ref.style, plan.images[ref.image]?.path ?? '/')
  const pageUrl = (target: number, style: UrlStyle): string => url(style, plan.pages[target]?.path ?? '/')
  const videoUrl = (ref: VideoRef): string => url(ref.style, plan.videos[ref.video]?.path ?? '/')
  const videoType = (ref: VideoRef): string => VIDEO_MIME_TYPES[plan.videos[ref.video]?.format ?? 'mp4']

  const head: string[] = [`<meta charset="utf-8">`, `<title>${escapeHtml(page.title)}</title>`]
  if (page.ogImage !== undefined) head.push(`<meta property="og:image" content="${escapeHtml(url('absolute', plan.images[page.ogImage.image]?.path ?? '/'))}">`)
  if (page.ogVideo !== undefined) {
    head.push(`<meta property="og:video" content="${escapeHtml(videoUrl(page.ogVideo))}">`, `<meta property="og:video:type" content="${videoType(page.ogVideo)}">`)
  }

  const nav: string[] = []
  if (page.parent !== undefined) nav.push(link(pageUrl(page.parent, 'relative'), 'Up'))
  if (index !== 0) nav.push(link(pageUrl(0, 'root'), 'Home'))
  if (index === 0 && plan.badPage !== undefined) nav.push(link(pageUrl(plan.badPage, 'root'), 'Broken media'))
  for (const [k, child] of page.children.entries()) {
    // Child links in all three styles, so a crawler must resolve each against the page URL.
    const style: UrlStyle = k % 5 === 3 ? 'absolute' : k % 2 === 1 ? 'relative' : 'root'
    nav.push(link(pageUrl(child, style), plan.pages[child]?.title ?? ''))
  }
  for (const cross of page.crossLinks) nav.push(link(pageUrl(cross.page, cross.style), `See also: ${plan.pages[cross.page]?.title ?? ''}`))
  for (const href of page.externalLinks) nav.push(link(href, 'Elsewhere'))
  if (index % 7 === 0) nav.push(link('#top', 'Back to top'), link('mailto:webmaster@example.invalid', 'Contact'))

  const body: string[] = []
  for (const media of page.media) {
    body.push(paragraph(rng))
    body.push(renderMedia(media, imageUrl, videoUrl, videoType))
  }
  body.push(paragraph(rng))

  return [
    '<!doctype html>',
    '<html lang="en">',
    `<head>${head.join('')}</head>`,
    '<body id="top">',
    `<h1>${escapeHtml(page.title)}</h1>`,
    `<nav><ul>${nav.map((a) => `<li>${a}</li>`).join('')}</ul></nav>`,
    `<main>`,
    ...body,
    `</main>`,
    '</body>',
    '</html>',
    '',
  ].join('\n')
}

function renderMedia(media: MediaRef, imageUrl: (ref: Ref) => string, videoUrl: (ref: VideoRef) => string, videoType: (ref: VideoRef) => string): string {
  switch (media.kind) {
    case 'img':
      return `<img src="${imageUrl(media.src)}" alt="">`
    case 'srcset':
      return media.widths
        ? `<img src="${imageUrl(media.src)}" srcset="${imageUrl(media.src)} 320w, ${imageUrl(media.large)} 640w" sizes="(max-width: 600px) 100vw, 50vw" alt="">`
        : `<img src="${imageUrl(media.src)}" srcset="${imageUrl(media.src)} 1x, ${imageUrl(media.large)} 2x" alt="">`
    case 'picture':
      return `<picture><source srcset="${imageUrl(media.webp)}" type="image/webp"><img src="${imageUrl(media.fallback)}" alt=""></picture>`
    case 'link':
      return `<p><a href="${imageUrl(media.href)}">Full size</a></p>`
    case 'poster':
      return `<video controls preload="none" poster="${imageUrl(media.src)}"></video>`
    case 'video':
      switch (media.form) {
        case 'video-src':
          return `<video controls preload="none" src="${videoUrl(media.src)}"></video>`
        case 'video-source':
          return `<video controls preload="none"><source src="${videoUrl(media.src)}" type="${videoType(media.src)}"></video>`
        case 'video-link':
          return `<p><a href="${videoUrl(media.src)}">Watch the video</a></p>`
      }
  }
}

/** Writes `path` (site-absolute) as seen from the page at `fromPath`, in the given style. */
export function formatUrl(baseUrl: string, fromPath: string, style: UrlStyle, path: string): string {
  switch (style) {
    case 'root':
      return path
    case 'absolute':
      return baseUrl + path
    case 'relative':
      return relativePath(fromPath, path)
  }
}

/** A relative reference from the page at `fromPath` to `toPath`, both starting with '/'. */
export function relativePath(fromPath: string, toPath: string): string {
  const fromDir = fromPath.slice(1, fromPath.lastIndexOf('/') + 1).split('/').filter((s) => s !== '')
  const slash = toPath.lastIndexOf('/')
  const toDir = toPath.slice(1, slash + 1).split('/').filter((s) => s !== '')
  const file = toPath.slice(slash + 1)
  let common = 0
  while (common < fromDir.length && common < toDir.length && fromDir[common] === toDir[common]) common++
  const rel = '../'.repeat(fromDir.length - common) + toDir.slice(common).map((s) => `${s}/`).join('') + file
  return rel === '' ? './' : rel
}

function link(href: string, text: string): string {
  return `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`
}

function paragraph(rng: Prng): string {
  const n = rng.int(12, 40)
  const words: string[] = []
  for (let i = 0; i < n; i++) words.push(rng.pick(WORDS))
  const text = words.join(' ')
  return `<p>${text.charAt(0).toUpperCase()}${text.slice(1)}.</p>`
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
