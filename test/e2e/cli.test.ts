import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
const fixtures = path.resolve(root, '../shared/fixtures')
let home: string

/** Runs the real CLI (`pnpm arachnid` runs the same file through tsx) with its own ARACHNID_HOME. */
async function arachnid(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'packages/cli/src/main.ts'), ...args], {
      cwd: home, env: { ...process.env, ARACHNID_HOME: path.join(home, '.arachnid'), DATABASE_URL: '', SMTP_URL: '', LOG_LEVEL: 'warn', ...env },
      maxBuffer: 64 * 1024 * 1024,
    })
    return { stdout, stderr, code: 0 }
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number }
    return { stdout: e.stdout, stderr: e.stderr, code: e.code }
  }
}

beforeAll(async () => { home = await mkdtemp(path.join(os.tmpdir(), 'arachnid-cli-')) })
afterAll(async () => { await rm(home, { recursive: true, force: true }) })

describe('arachnid CLI', () => {
  it('has --help for every command', async () => {
    const top = await arachnid(['--help'])
    expect(top.code).toBe(0)
    const commands = ['demo', 'crawl', 'worker', 'jobs', 'hash', 'lists', 'match', 'notices', 'providers', 'notify', 'stats', 'serve', 'analysts', 'config']
    for (const command of commands) expect(top.stdout).toContain(command)
    // Two at a time: each is a whole process start, and the machine has two cores.
    for (let i = 0; i < commands.length; i += 2) {
      await Promise.all(commands.slice(i, i + 2).map(async (command) => {
        const help = await arachnid([command, '--help'])
        expect(help.code, command).toBe(0)
        expect(help.stdout, command).toMatch(/^Usage: arachnid /)
      }))
    }
  }, 240_000)

  it('hash --json prints one object per file and goes on past bad files', async () => {
    const bad = path.join(os.tmpdir(), `arachnid-cli-${process.pid}-not-an-image.jpg`)
    await writeFile(bad, 'this is text, not a JPEG\n')
    const good = path.join(fixtures, 'blockhash/images/clipper_ship.jpg')
    const result = await arachnid(['hash', '--json', '--dihedral', good, bad, path.join(home, 'missing.png')])
    expect(result.code).toBe(1)
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(lines).toHaveLength(3)
    expect(Object.keys(lines[0]).sort()).toEqual(['blockhash', 'file', 'format', 'height', 'md5', 'pdq', 'pdqDihedral', 'pdqQuality', 'sha1', 'sha256', 'width'])
    expect(lines[0]).toMatchObject({ file: good, format: 'jpeg' })
    expect(lines[0].sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(lines[0].pdq).toMatch(/^[0-9a-f]{64}$/)
    expect(lines[0].pdqDihedral).toHaveLength(8)
    expect(lines[1]).toEqual({ file: bad, error: { code: 'UNSUPPORTED_FORMAT', message: expect.any(String) } })
    expect(lines[2]).toEqual({ file: path.join(home, 'missing.png'), error: { code: 'NOT_FOUND', message: expect.any(String) } })
    await rm(bad)
  })

  it('crawl --detach creates a job that a worker process crawls; jobs show and list report it', async () => {
    const { startSyntheticSite } = await import('@arachnid/synthetic')
    const site = await startSyntheticSite({ seed: 4, pages: 15, images: 20, badInputs: false })
    const env = { ARACHNID_HOME: path.join(home, 'detached') }
    try {
      const created = await arachnid(['crawl', `${site.manifest.baseUrl}/`, '--allow', '127.0.0.1/32', '--detach', '--json'], env)
      expect(created.code, created.stderr).toBe(0)
      const { jobId } = JSON.parse(created.stdout.trim())
      const before = JSON.parse((await arachnid(['jobs', 'show', String(jobId), '--json'], env)).stdout)
      expect(before).toMatchObject({ status: 'running', pages: 0, queued: 1 })
      const worker = await arachnid(['worker', '--exit-when-idle'], env)
      expect(worker.code, worker.stderr).toBe(0)
      const after = JSON.parse((await arachnid(['jobs', 'show', String(jobId), '--json'], env)).stdout)
      expect(after).toMatchObject({ status: 'finished', pages: 15, queued: 0, leased: 0, mediaOpen: 0 })
      const list = await arachnid(['jobs', 'list'], env)
      expect(list.stdout).toMatch(new RegExp(`^\\s*${jobId}\\s+finished`, 'm'))
    } finally {
      await site.close()
    }
  })

  it('demo --json runs the main job and ends with one JSON summary; no media or notices land outside the outbox', async () => {
    const result = await arachnid(['demo', '--json', '--pages', '40', '--images', '80'])
    expect(result.code, result.stderr).toBe(0)
    const last = JSON.parse(result.stdout.trim().split('\n').at(-1)!)
    for (const key of ['pages', 'media', 'matches', 'notices', 'seconds']) expect(typeof last[key], key).toBe('number')
    expect(last.pages).toBeGreaterThanOrEqual(40)
    expect(last.matches).toBeGreaterThan(0)
    expect(last.notices).toBe(last.matches)
    const files = (await readdir(home, { recursive: true })).map(String)
    expect(files.filter((f) => /\.(jpe?g|png|gif|webp|bmp|tiff?)$/i.test(f))).toEqual([])
    expect(files.filter((f) => f.endsWith('.eml'))).toHaveLength(last.notices)
    expect(files.filter((f) => f.endsWith('.eml')).every((f) => f.startsWith(path.join('.arachnid', 'outbox')))).toBe(true)
  })
})
