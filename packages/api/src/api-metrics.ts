import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Matcher } from '@arachnid/matcher'

/** The service's Prometheus metrics, in a registry of its own (several services in one test process do not mix). */
export class ApiMetrics {
  readonly registry = new Registry()
  readonly requests = new Counter({ name: 'arachnid_api_requests_total', help: 'Calls by endpoint and status class.', labelNames: ['endpoint', 'status'] as const, registers: [this.registry] })
  readonly verdicts = new Counter({ name: 'arachnid_api_verdicts_total', help: 'Verdicts given, by endpoint and classification (no-known-match included; malformed probes as malformed).', labelNames: ['endpoint', 'classification'] as const, registers: [this.registry] })
  readonly probes = new Counter({ name: 'arachnid_api_probes_total', help: 'Hashes and media checked, by endpoint.', labelNames: ['endpoint'] as const, registers: [this.registry] })
  readonly busy = new Counter({ name: 'arachnid_api_busy_total', help: 'Calls refused with 429 BUSY because the service was at its limit of calls at once.', registers: [this.registry] })
  readonly latency = new Histogram({
    name: 'arachnid_api_request_seconds', help: 'Time to answer a call, by endpoint.', labelNames: ['endpoint'] as const, registers: [this.registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  })

  constructor(matcher: Pick<Matcher, 'stats'>, ready: () => boolean) {
    new Gauge({ name: 'arachnid_api_ready', help: '1 once the index is loaded.', registers: [this.registry], collect() { this.set(ready() ? 1 : 0) } })
    new Gauge({
      name: 'arachnid_api_index_entries', help: 'Perceptual entries held in memory, by algorithm.', labelNames: ['algorithm'] as const, registers: [this.registry],
      collect() {
        for (const [algorithm, n] of Object.entries(matcher.stats().entries)) this.set({ algorithm }, n)
      },
    })
    new Gauge({ name: 'arachnid_api_index_bytes', help: 'Bytes of hashes and index tables held in memory.', registers: [this.registry], collect() { this.set(matcher.stats().indexBytes) } })
  }
}
