import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const md5 = createHash('md5').update('cli-known').digest('hex')
const pdq = createHash('sha256').update('cli-pdq').digest('hex')
const near = (() => { const b = Buffer.from(pdq, 'hex'); b[0]! ^= 0x07; return b.toString('hex') })()

/** Runs `pnpm arachnid ...` on the embedded database in `home`. */
function arachnid(home: string, args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ARACHNID_HOME: home, LOG_LEVEL: 'silent' }
    delete env.DATABASE_URL
    const child = spawn('pnpm', ['--silent', 'arachnid', ...args], { cwd: root, env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

describe('CLI lists and match', () => {
  let home: string
  beforeAll(async () => { home = await mkdtemp(path.join(tmpdir(), 'arachnid-cli-')) })
  afterAll(async () => { await rm(home, { recursive: true, force: true }) })

  it('imports, lists, shows, matches with the documented JSON shape, and retracts', async () => {
    const file = path.join(home, 'list.csv')
    await writeFile(file, `algorithm,hash,category,external_id\nmd5,${md5},A1,e1\npdq,${pdq},B2,e2\nmd5,zz,,\n`)
    const imported = await arachnid(home, ['lists', 'import', file, '--name', 'cli', '--json'])
    expect(JSON.parse(imported.stdout)).toMatchObject({ list: 'cli', version: 1, imported: 2, applied: true, rejected: [{ line: 4 }] })

    const listed = await arachnid(home, ['lists', 'list', '--json'])
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ name: 'cli', version: 1, hashes: 2, byAlgorithm: { md5: 1, pdq: 1 } })])

    const matched = await arachnid(home, ['match', '--json'], `md5:${md5}\npdq:${near}\nsha1:${'0'.repeat(40)}\n`)
    expect(matched.code).toBe(0)
    const lines = matched.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown)
    expect(lines).toEqual([
      { input: `md5:${md5}`, matches: [{ list: 'cli', algorithm: 'md5', hash: md5, distance: 0, category: 'A1' }] },
      { input: `pdq:${near}`, matches: [{ list: 'cli', algorithm: 'pdq', hash: pdq, distance: 3, category: 'B2' }] },
      { input: `sha1:${'0'.repeat(40)}`, matches: [] },
    ])

    const retracted = await arachnid(home, ['lists', 'retract', md5, '--reason', 'test', '--json'])
    expect(JSON.parse(retracted.stdout)).toMatchObject({ retracted: [{ list: 'cli', algorithm: 'md5', hash: md5 }], notFound: [] })
    const shown = await arachnid(home, ['lists', 'show', 'cli', '--json'])
    expect(JSON.parse(shown.stdout)).toMatchObject({
      name: 'cli', hashes: 1, retracted: 1, byAlgorithm: { pdq: 1 }, byCategory: { B2: 1 },
      versions: [{ version: 1, status: 'active', rows: 2, rejected: 1, format: 'csv', source: 'list.csv' }],
    })
    const after = await arachnid(home, ['match', '--json'], `md5:${md5}\n`)
    expect(JSON.parse(after.stdout)).toEqual({ input: `md5:${md5}`, matches: [] })
  }, 240_000) // six CLI processes; on the shared 2-core machine each start can take seconds
})
