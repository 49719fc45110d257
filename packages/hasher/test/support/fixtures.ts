import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The repository's own copy of the reference fixtures (test/fixtures, trimmed to what the tests read). */
export const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url))
export const PDQ_FIXTURES = `${FIXTURES}pdq/`
export const BLOCKHASH_FIXTURES = `${FIXTURES}blockhash/`

export function fixture(path: string): Buffer {
  return readFileSync(`${FIXTURES}${path}`)
}

/** Rows of one expected/*.csv (comment lines starting with '#' and the header skipped). */
export function expectedCsv(name: string): string[][] {
  return readFileSync(`${PDQ_FIXTURES}expected/${name}`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .slice(1)
    .map((line) => line.split(','))
}
