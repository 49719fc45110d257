/**
 * Runs async tasks with at most `concurrency` at once. Tasks report their own failures; the queue
 * only counts and waits. `onIdle` resolves when nothing is queued or running.
 */
export class WorkQueue<T> {
  readonly #run: (item: T) => Promise<void>
  readonly #concurrency: number
  readonly #pending: T[] = []
  #running = 0
  #idle: Array<() => void> = []

  constructor(concurrency: number, run: (item: T) => Promise<void>) {
    this.#concurrency = Math.max(1, concurrency)
    this.#run = run
  }

  get size(): number {
    return this.#pending.length + this.#running
  }

  push(item: T): void {
    this.#pending.push(item)
    this.#pump()
  }

  onIdle(): Promise<void> {
    if (this.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#pending.length > 0) {
      const item = this.#pending.shift() as T
      this.#running++
      this.#run(item).catch(() => {}).finally(() => {
        this.#running--
        this.#pump()
        if (this.size === 0) for (const resolve of this.#idle.splice(0)) resolve()
      })
    }
  }
}
