import { describe, expect, it } from 'vitest'
import { isBarren, urlPattern } from '@arachnid/crawler'

const same = (a: string, b: string) => expect(urlPattern(a), `${a} vs ${b}`).toBe(urlPattern(b))
const differ = (a: string, b: string) => expect(urlPattern(a), `${a} vs ${b}`).not.toBe(urlPattern(b))

describe('urlPattern', () => {
  it('masks numbers, keeps the query keys sorted and drops their values', () => {
    expect(urlPattern('http://a.example/calendar/2026/12/06?view=day')).toBe('a.example/calendar/{n}/{n}/{n}?view')
    same('http://a.example/calendar/2026/12/06?view=day', 'http://a.example/calendar/2031/01/17?view=week')
    expect(urlPattern('http://a.example/gallery/page/17')).toBe('a.example/gallery/page/{n}')
    same('http://a.example/gallery/page/17', 'http://a.example/gallery/page/1800')
    same('http://a.example/listing?sort=name&order=asc&sid=1', 'http://a.example/listing?sid=zz&order=desc&sort=date')
    expect(urlPattern('http://a.example/listing?sort=name&order=asc&sid=abc')).toBe('a.example/listing?order&sid&sort')
    // A repeated key is one key of the set.
    same('http://a.example/s?tag=a&tag=b', 'http://a.example/s?tag=c')
  })

  it('tells apart other hosts, ports, paths, path lengths and key sets', () => {
    differ('http://a.example/gallery/page/1', 'http://b.example/gallery/page/1')
    differ('http://a.example:8080/x', 'http://a.example:8081/x')
    differ('http://a.example/gallery/page/1', 'http://a.example/archive/page/1')
    differ('http://a.example/calendar/2026/12', 'http://a.example/calendar/2026/12/06')
    differ('http://a.example/listing?sort=a', 'http://a.example/listing?sort=a&sid=1')
    differ('http://a.example/listing', 'http://a.example/listing?sort=a')
  })

  it('ignores scheme, fragment and host case', () => {
    same('http://A.Example/x/1#top', 'https://a.example/x/2')
  })

  it('masks dates, UUIDs, hex ids and base64-ish tokens, inside a segment too', () => {
    expect(urlPattern('http://a.example/day/2026-12-06')).toBe('a.example/day/{date}')
    expect(urlPattern('http://a.example/events_2026_12_06.html')).toBe('a.example/events_{date}.html')
    expect(urlPattern('http://a.example/s/123e4567-e89b-12d3-a456-426614174000/catalog')).toBe('a.example/s/{uuid}/catalog')
    expect(urlPattern('http://a.example/feed/9f86d081884c7d65')).toBe('a.example/feed/{hex}')
    expect(urlPattern('http://a.example/commit/a3f9c2')).toBe('a.example/commit/{hex}')
    expect(urlPattern('http://a.example/p/aGVsbG8gd29ybGQx2Zm9v')).toBe('a.example/p/{token}')
    expect(urlPattern('http://a.example/p/Zm9v-YmFy_YmF6cXV4MTIz')).toBe('a.example/p/{token}')
    expect(urlPattern('http://a.example/img/photo-17.jpg')).toBe('a.example/img/photo-{n}.jpg')
    expect(urlPattern('http://a.example/shop;jsessionid=A1B2C3D4E5F6/items')).toBe('a.example/shop;jsessionid=*/items')
    same('http://a.example/feed/9f86d081884c7d65', 'http://a.example/feed/0b14d501a594442a01c6859541bcb3e8')
  })

  it('keeps words: slugs, short names and plain hex-looking words are not ids', () => {
    expect(urlPattern('http://a.example/blog/my-long-post-title-2024')).toBe('a.example/blog/my-long-post-title-{n}')
    differ('http://a.example/blog/a-first-post', 'http://a.example/blog/a-second-post')
    expect(urlPattern('http://a.example/facade/decade/beef')).toBe('a.example/facade/decade/beef')
    expect(urlPattern('http://a.example/v2/about')).toBe('a.example/v{n}/about')
    expect(urlPattern('http://a.example/')).toBe('a.example/')
  })

  it('masks query keys that are ids themselves', () => {
    same('http://a.example/x?9f86d081884c7d65', 'http://a.example/x?0b14d501a594442a')
  })
})

describe('the budget rule', () => {
  it('a pattern is barren once its last `window` pages yielded nothing', () => {
    expect(isBarren({ pages: 49, lastYield: 0 }, 50)).toBe(false)
    expect(isBarren({ pages: 50, lastYield: 0 }, 50)).toBe(true)
    // A page that yields resets the streak.
    expect(isBarren({ pages: 120, lastYield: 100 }, 50)).toBe(false)
    expect(isBarren({ pages: 150, lastYield: 100 }, 50)).toBe(true)
  })
})
