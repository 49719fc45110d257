import type { FastifyReply } from 'fastify'

/** Held by this module only: what lets the tag, and nothing else, make SafeHtml. */
const TAG: unique symbol = Symbol('html tag')

/**
 * A piece of HTML made by the `html` tag. Only the tag makes one (the class cannot be built from a
 * string outside this module), so a value of this type is either the tag's own literal text or text
 * the tag has escaped: nothing reaches a page unescaped by forgetting to escape it.
 */
export class SafeHtml {
  readonly #text: string
  constructor(madeBy: typeof TAG, text: string) {
    if (madeBy !== TAG) throw new TypeError('SafeHtml is made by the html tag only')
    this.#text = text
  }

  toString(): string {
    return this.#text
  }
}

/** What the tag takes between `${...}`: text and numbers (escaped), HTML it made (kept), lists of either, and nothing. */
export type HtmlValue = SafeHtml | string | number | bigint | boolean | null | undefined | readonly HtmlValue[]

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.toString()
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('')
  // `${cond && html`...`}` leaves false; null and undefined are "nothing here".
  if (value === null || value === undefined || value === false) return ''
  return escapeHtml(String(value))
}

/**
 * The one way HTML is written in this project (review pages, charts, the acknowledgement page,
 * error pages): a tagged template whose literal text is kept and whose every interpolated value is
 * escaped, unless it is HTML the tag made itself. Arrays are joined; `null`, `undefined` and
 * `false` print nothing. Escaping covers element text and quoted attributes (the only places
 * values go); a URL attribute takes only URLs the code built, never a user's.
 *
 * @example
 * const row = (name: string) => html`<li>${name}</li>`
 * html`<ul>${['a<b', 'c'].map(row)}</ul>`.toString() // '<ul><li>a&lt;b</li><li>c</li></ul>'
 */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0] ?? ''
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + (strings[i + 1] ?? '')
  return new SafeHtml(TAG, out)
}

export const HTML_CONTENT_TYPE = 'text/html; charset=utf-8'

/**
 * Sends a page.
 *
 * @example
 * return sendHtml(reply, html`<p>${message}</p>`, 404)
 */
export function sendHtml(reply: FastifyReply, page: SafeHtml, status?: number): FastifyReply {
  if (status !== undefined) reply.code(status)
  return reply.type(HTML_CONTENT_TYPE).send(page.toString())
}
