import { execFile } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '@arachnid/test'

const run = promisify(execFile)

/** Package folders under packages/. */
async function packages(): Promise<string[]> {
  return (await readdir(path.join(REPO_ROOT, 'packages'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name)
}

async function sources(pkg: string): Promise<{ file: string; text: string }[]> {
  const dir = path.join(REPO_ROOT, 'packages', pkg, 'src')
  const files = (await readdir(dir, { recursive: true })).map(String).filter((f) => f.endsWith('.ts'))
  return Promise.all(files.map(async (f) => ({ file: `packages/${pkg}/src/${f}`, text: await readFile(path.join(dir, f), 'utf8') })))
}

/** How the packages depend on each other: the rules the README's architecture section states. */
describe('the house rules', () => {
  it('the notifier and the review server do not depend on the crawler', async () => {
    for (const pkg of ['notifier', 'review']) {
      const manifest = JSON.parse(await readFile(path.join(REPO_ROOT, 'packages', pkg, 'package.json'), 'utf8'))
      const all = { ...manifest.dependencies, ...manifest.devDependencies }
      expect(Object.keys(all), pkg).not.toContain('@arachnid/crawler')
      for (const { file, text } of await sources(pkg)) expect(text, file).not.toMatch(/from '@arachnid\/crawler'/)
    }
  })

  it('importing the notifier or the review server loads neither Crawlee nor Playwright', async () => {
    // A fresh process, so what is loaded is what these imports load and nothing else.
    const script = [
      "import { createRequire } from 'node:module'",
      "await import('@arachnid/notifier')",
      "await import('@arachnid/review')",
      'const loaded = Object.keys(createRequire(import.meta.url).cache)',
      "console.log(JSON.stringify(loaded.filter((m) => /[\\\\/](@crawlee|crawlee|playwright|playwright-core)[\\\\/]/.test(m))))",
    ].join('\n')
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: path.join(REPO_ROOT, 'packages/cli') })
    expect(JSON.parse(stdout.trim())).toEqual([])
  })

  it('no server is written on node:http directly', async () => {
    for (const pkg of await packages()) {
      for (const { file, text } of await sources(pkg)) {
        expect(text, file).not.toMatch(/\bhttps?\.createServer\s*\(|\bnew\s+https?\.Server\s*\(/)
      }
    }
  })
})
