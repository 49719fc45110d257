import { readdir, utimes } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliEnvironment, openCliEnvironment, REPO_ROOT } from '@arachnid/test'

/**
 * `pnpm arachnid` runs a bundle of the sources (scripts/arachnid.mjs), rebuilt when a source file
 * changes. Touching a file here changes only its modification time (other test files' commands may
 * rebuild once more; the content is the same).
 */
const CACHE = path.join(REPO_ROOT, 'node_modules/.cache/arachnid-cli')
const SOURCE = path.join(REPO_ROOT, 'packages/cli/src/parse-options.ts')
const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/blockhash/images/clipper_ship.jpg')

const bundles = async (): Promise<string[]> => (await readdir(CACHE).catch(() => [] as string[])).sort()

describe('pnpm arachnid: the CLI bundle', () => {
  let cli: CliEnvironment
  beforeAll(async () => { cli = await openCliEnvironment('pglite') })
  afterAll(async () => { await cli?.close() })

  it('is rebuilt after a source changes, by two commands started together with no half-built folder left, and answers as the sources run through tsx do', async () => {
    const stamp = new Date(Date.now() + 1000 + Math.floor(Math.random() * 1000))
    await utimes(SOURCE, stamp, stamp)
    const before = await bundles()
    const [a, b] = await Promise.all([cli.run(['hash', '--json', FIXTURE]), cli.run(['hash', '--json', '--dihedral', FIXTURE])])
    expect(a.code, a.errors).toBe(0)
    expect(b.code, b.errors).toBe(0)
    const after = await bundles()
    const added = after.filter((name) => !before.includes(name))
    // One new bundle for the new sources (others' commands may have added theirs meanwhile), and no build's temporary folder left.
    expect(added.length).toBeGreaterThanOrEqual(1)
    expect(after.filter((name) => name.startsWith('.'))).toEqual([])
    const throughTsx = await cli.run(['hash', '--json', FIXTURE], { env: { ARACHNID_CLI_BUNDLE: '0' } })
    expect(throughTsx.code, throughTsx.errors).toBe(0)
    expect(JSON.parse(throughTsx.stdout)).toEqual(JSON.parse(a.stdout))
    expect(JSON.parse(b.stdout)).toMatchObject(JSON.parse(a.stdout))
  }, 240_000)
})
