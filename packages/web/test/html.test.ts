import { describe, expect, it } from 'vitest'
import { SafeHtml, escapeHtml, html } from '@arachnid/web'

describe('the html tag', () => {
  it('escapes every interpolated text for element content and quoted attributes', () => {
    const hostile = `"><script>alert('x')</script>&amp;`
    expect(html`<p title="${hostile}">${hostile}</p>`.toString())
      .toBe('<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;amp;</p>')
    expect(escapeHtml(`<a href='x'>&</a>`)).toBe('&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;')
  })

  it('keeps HTML it made itself, joins lists, prints nothing for null, undefined and false, and numbers as they are', () => {
    const items = ['a<b', 'c'].map((t) => html`<li>${t}</li>`)
    expect(html`<ul>${items}</ul>${null}${undefined}${false && html`<b>no</b>`}${0}${12.5}`.toString()).toBe('<ul><li>a&lt;b</li><li>c</li></ul>012.5')
    // Nested all the way down: the inner text is escaped once, not twice.
    expect(html`<div>${html`<span>${'&'}</span>`}</div>`.toString()).toBe('<div><span>&amp;</span></div>')
  })

  it('cannot be handed a string as HTML: only the tag makes SafeHtml', () => {
    expect(() => new SafeHtml(Symbol('html tag') as never, '<script>')).toThrow(/made by the html tag only/)
    // A look-alike object is text like any other.
    const fake = { toString: () => '<script>' }
    expect(html`${fake as unknown as string}`.toString()).toBe('&lt;script&gt;')
  })
})
