import type { CrawlCounters } from '@arachnid/crawler'

/**
 * A live progress line for a crawl, on a terminal. On a TTY it rewrites one line; elsewhere it
 * prints a line every few seconds so logs stay readable.
 */
export class ProgressDisplay {
  readonly #out: NodeJS.WriteStream
  readonly #read: () => { counters: CrawlCounters; backlog: number }
  readonly #started = performance.now()
  #timer: NodeJS.Timeout | undefined
  #lastLength = 0

  constructor(out: NodeJS.WriteStream, read: () => { counters: CrawlCounters; backlog: number }) {
    this.#out = out
    this.#read = read
  }

  start(): void {
    const tty = this.#out.isTTY === true
    this.#timer = setInterval(() => this.#draw(tty), tty ? 250 : 5000)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    if (this.#out.isTTY) this.#draw(true)
    if (this.#out.isTTY) this.#out.write('\n')
  }

  #draw(tty: boolean): void {
    const { counters: c, backlog } = this.#read()
    const seconds = (performance.now() - this.#started) / 1000
    const errors = Object.entries(c.errors).map(([k, v]) => `${k}:${v}`).join(' ')
    const line = `[${seconds.toFixed(1)}s] pages ${c.pages} (${(c.pages / Math.max(seconds, 0.001)).toFixed(0)}/s)`
      + ` media ${c.media} (${(c.media / Math.max(seconds, 0.001)).toFixed(0)}/s, queue ${backlog})`
      + ` ${formatBytes(c.bytes)} matches ${c.matchedMedia} notices ${c.notices}`
      + (errors ? ` errors ${errors}` : '')
    if (tty) {
      this.#out.write(`\r${line.padEnd(this.#lastLength)}`)
      this.#lastLength = line.length
    } else this.#out.write(`${line}\n`)
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
