import { readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliEnvironment, dialectsUnderTest, openCliEnvironment, REPO_ROOT } from '@arachnid/test'

const dialects = await dialectsUnderTest()
const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/blockhash/images/clipper_ship.jpg')

/** What a command printed of its own on stderr, line by line (pnpm's lines left out). */
const ownLines = (errors: string) => errors.split('\n').filter((l) => l.trim() !== '')

/** Commands and settings that need no database: run once, on the embedded one. */
describe('arachnid CLI, as the README runs it (pnpm arachnid)', () => {
  let cli: CliEnvironment
  beforeAll(async () => { cli = await openCliEnvironment('pglite') })
  afterAll(async () => { await cli?.close() })

  it('has --help for every command', async () => {
    const top = await cli.run(['--help'])
    expect(top.code).toBe(0)
    const commands = ['demo', 'crawl', 'worker', 'jobs', 'hash', 'lists', 'match', 'notices', 'providers', 'notify', 'stats', 'serve', 'analysts', 'config']
    for (const command of commands) expect(top.stdout).toContain(command)
    // Two at a time: each is a whole process start, and the machine has two cores.
    for (let i = 0; i < commands.length; i += 2) {
      await Promise.all(commands.slice(i, i + 2).map(async (command) => {
        const help = await cli.run([command, '--help'])
        expect(help.code, command).toBe(0)
        expect(help.stdout, command).toMatch(/^Usage: arachnid /)
      }))
    }
  }, 240_000)

  it('hash --json prints one object per file and goes on past bad files; without --json --dihedral prints the 8 dihedral hashes', async () => {
    const bad = path.join(cli.home, 'not-an-image.jpg')
    await writeFile(bad, 'this is text, not a JPEG\n')
    const missing = path.join(cli.home, 'missing.png')
    const result = await cli.run(['hash', '--json', '--dihedral', FIXTURE, bad, missing])
    expect(result.code).toBe(1)
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(lines).toHaveLength(3)
    expect(Object.keys(lines[0]).sort()).toEqual(['blockhash', 'file', 'format', 'height', 'md5', 'pdq', 'pdqDihedral', 'pdqQuality', 'sha1', 'sha256', 'width'])
    expect(lines[0]).toMatchObject({ file: FIXTURE, format: 'jpeg' })
    expect(lines[0].sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(lines[0].pdq).toMatch(/^[0-9a-f]{64}$/)
    expect(lines[0].pdqDihedral).toHaveLength(8)
    expect(lines[1]).toEqual({ file: bad, error: { code: 'UNSUPPORTED_FORMAT', message: expect.any(String) } })
    expect(lines[2]).toEqual({ file: missing, error: { code: 'NOT_FOUND', message: expect.any(String) } })

    const text = await cli.run(['hash', '--dihedral', FIXTURE])
    expect(text.code).toBe(0)
    const dihedral = text.stdout.split('\n').filter((l) => /^ {2}pdq \S/.test(l) && !l.includes('quality')).map((l) => l.trim().split(/\s+/).at(-1))
    expect(dihedral).toEqual(lines[0].pdqDihedral)
  })

  it('stops on a bad setting with one line naming the variable, the value and what is allowed', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ ARACHNID_IN_DOUBT: 'hodl' }, /^arachnid: ARACHNID_IN_DOUBT=hodl: expected one of resend, hold$/],
      [{ ARACHNID_PDQ_THRESHOLD: '999' }, /^arachnid: ARACHNID_PDQ_THRESHOLD=999: expected an integer from 0 to 256$/],
      [{ LOG_LEVEL: 'loud' }, /^arachnid: LOG_LEVEL=loud: expected one of fatal, error, warn, info, debug, trace, silent$/],
      [{ DATABASE_URL: 'notaurl' }, /^arachnid: DATABASE_URL=notaurl: not a URL; expected e\.g\. postgres:\/\//],
      [{ SMTP_URL: 'bogus' }, /^arachnid: SMTP_URL=bogus: not a URL; expected e\.g\. smtp:\/\//],
      [{ ARACHNID_HOME: FIXTURE }, /^arachnid: ARACHNID_HOME=.*clipper_ship\.jpg: expected a folder, but it is a file$/],
    ]
    for (let i = 0; i < cases.length; i += 2) {
      await Promise.all(cases.slice(i, i + 2).map(async ([env, message]) => {
        const result = await cli.run(['stats'], { env })
        expect(result.code, JSON.stringify(env)).toBe(2)
        expect(ownLines(result.errors), JSON.stringify(env)).toEqual([expect.stringMatching(message)])
        expect(result.stdout).toBe('')
      }))
    }
  }, 120_000)

  it('warns, in one line, about a PDQ threshold above 64 and goes on', async () => {
    const result = await cli.run(['lists', 'list'], { env: { ARACHNID_PDQ_THRESHOLD: '100' } })
    expect(result.code).toBe(0)
    expect(ownLines(result.errors)).toEqual([expect.stringMatching(/^arachnid: warning: ARACHNID_PDQ_THRESHOLD=100 is above 64/)])
  })
})

describe.each(dialects)('arachnid CLI on %s', (dialect) => {
  let cli: CliEnvironment
  beforeAll(async () => { cli = await openCliEnvironment(dialect) })
  afterAll(async () => { await cli?.close() })

  it('crawl --detach creates a job that a worker process crawls; jobs show and list report it', async () => {
    const { startSyntheticSite } = await import('@arachnid/synthetic')
    const site = await startSyntheticSite({ seed: 4, pages: 15, images: 20, badInputs: false })
    try {
      const { jobId } = await cli.json(['crawl', `${site.manifest.baseUrl}/`, '--allow', '127.0.0.1/32', '--detach', '--json'])
      const before = await cli.json(['jobs', 'show', String(jobId), '--json'])
      expect(before).toMatchObject({ status: 'running', pages: 0, queued: 1 })
      const worker = await cli.run(['worker', '--exit-when-idle'])
      expect(worker.code, worker.errors).toBe(0)
      const after = await cli.json(['jobs', 'show', String(jobId), '--json'])
      expect(after).toMatchObject({ status: 'finished', pages: 15, queued: 0, leased: 0, mediaOpen: 0 })
      const list = await cli.run(['jobs', 'list'])
      expect(list.stdout).toMatch(new RegExp(`^\\s*${jobId}\\s+finished`, 'm'))
    } finally {
      await site.close()
    }
  })

  it('demo --json runs the main job and ends with one JSON summary; no media or notices land outside the outbox', async () => {
    const result = await cli.run(['demo', '--json', '--pages', '40', '--images', '80'])
    expect(result.code, result.errors).toBe(0)
    const last = JSON.parse(result.stdout.trim().split('\n').at(-1)!)
    for (const key of ['pages', 'media', 'matches', 'notices', 'seconds']) expect(typeof last[key], key).toBe('number')
    expect(last.pages).toBeGreaterThanOrEqual(40)
    expect(last.matches).toBeGreaterThan(0)
    expect(last.notices).toBe(last.matches)
    const files = (await readdir(cli.home, { recursive: true })).map(String)
    expect(files.filter((f) => /\.(jpe?g|png|gif|webp|bmp|tiff?)$/i.test(f))).toEqual([])
    expect(files.filter((f) => f.endsWith('.eml'))).toHaveLength(last.notices)
    expect(files.filter((f) => f.endsWith('.eml')).every((f) => f.startsWith('outbox'))).toBe(true)
  }, 180_000)
})
