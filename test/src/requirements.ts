import { existsSync } from 'node:fs'
import { describe, it } from 'vitest'

/** Debian's binaries that some suites drive (installed by .ci/run; never downloaded). */
export const BINARIES = {
  chromium: { path: '/usr/bin/chromium', install: 'apt-get install -y chromium' },
  ffmpeg: { path: '/usr/bin/ffmpeg', install: 'apt-get install -y ffmpeg' },
} as const

export type BinaryName = keyof typeof BINARIES

/**
 * Whether a suite that needs a Debian binary can run. Missing under CI=true is a failure (thrown
 * at collection, so the file fails); elsewhere the suite is skipped and says why.
 */
export function haveBinary(name: BinaryName): boolean {
  const binary = BINARIES[name]
  if (existsSync(binary.path)) return true
  if (process.env.CI === 'true') throw new Error(`CI=true but ${binary.path} is missing (${binary.install})`)
  return false
}

/**
 * Registers a visibly skipped suite that names what is missing, for a file whose real suites
 * cannot run here (so the run reports a skip with its reason instead of "No test suite found").
 */
export function skippedSuite(title: string, why: string): void {
  console.warn(`[test] ${title}: skipped, ${why}`)
  describe(`${title} (skipped: ${why})`, () => {
    it.skip(why, () => {})
  })
}
