import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Database suites open PGlite (WASM) and real Postgres, and end-to-end tests run many `pnpm
    // arachnid` processes (a few seconds each to start under load): a timeout here only catches a
    // hung test, it is not a measure of speed. At 60 s, CI's load (2 cores, load 11-15) failed a
    // video crawl test that takes 25 s on a quiet machine.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', fileURLToPath(new URL('./test/plain-summary-reporter.ts', import.meta.url))],
  },
})
