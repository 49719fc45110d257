import type { KnownMatch, MatchService, Probe } from '@arachnid/matcher'

export interface CoalescingOptions {
  /** Probe hashes (each probe and its dihedral hashes) per combined call, at most; a larger call goes alone. */
  readonly maxProbes: number
  /** Combined calls under way at once: one searches while the other waits on the database. */
  readonly concurrency: number
}

export const DEFAULT_COALESCING_OPTIONS: CoalescingOptions = { maxProbes: 16_384, concurrency: 2 }

interface Waiting {
  readonly probes: readonly Probe[]
  readonly weight: number
  readonly resolve: (results: KnownMatch[][]) => void
  readonly reject: (error: unknown) => void
}

/**
 * Puts the calls that arrive while the matcher is busy into one call: the batched index reads its
 * tables once per pass whatever the pass holds, so many callers' small calls (a crawl worker sends
 * a few hundred hashes) cost about what one large call costs. Each caller gets exactly its own
 * probes' answers, in order; a failure of the combined call fails each caller in it.
 *
 * @example
 * const shared = new CoalescingMatcher(matcher)
 * const [a, b] = await Promise.all([shared.match(probesOfA), shared.match(probesOfB)]) // one matcher call
 */
export class CoalescingMatcher implements MatchService {
  readonly #matcher: MatchService
  readonly #options: CoalescingOptions
  readonly #queue: Waiting[] = []
  #running = 0
  /** Combined calls made, and the callers' calls they answered: for the metrics and the tests. */
  readonly counts = { calls: 0, combined: 0 }

  constructor(matcher: MatchService, options: Partial<CoalescingOptions> = {}) {
    this.#matcher = matcher
    this.#options = { ...DEFAULT_COALESCING_OPTIONS, ...options }
  }

  match(probes: readonly Probe[]): Promise<KnownMatch[][]> {
    if (probes.length === 0) return Promise.resolve([])
    const weight = probes.reduce((n, p) => n + 1 + (p.dihedral?.length ?? 0), 0)
    return new Promise((resolve, reject) => {
      this.#queue.push({ probes, weight, resolve, reject })
      this.#drain()
    })
  }

  #drain(): void {
    while (this.#running < this.#options.concurrency && this.#queue.length > 0) {
      // Whole calls in arrival order, while they fit; the first always goes (a large one alone).
      const taken: Waiting[] = [this.#queue.shift()!]
      let weight = taken[0]!.weight
      while (this.#queue.length > 0 && weight + this.#queue[0]!.weight <= this.#options.maxProbes) {
        const next = this.#queue.shift()!
        weight += next.weight
        taken.push(next)
      }
      this.#running++
      this.counts.calls += taken.length
      this.counts.combined++
      void this.#run(taken).finally(() => {
        this.#running--
        this.#drain()
      })
    }
  }

  async #run(taken: readonly Waiting[]): Promise<void> {
    try {
      const all = taken.length === 1 ? taken[0]!.probes : taken.flatMap((w) => w.probes)
      const results = await this.#matcher.match(all)
      let at = 0
      for (const w of taken) {
        w.resolve(results.slice(at, at + w.probes.length))
        at += w.probes.length
      }
    } catch (error) {
      for (const w of taken) w.reject(error)
    }
  }
}
