import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '@arachnid/core'

describe('the embedded database folder', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'arachnid-lock-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('is locked while open, released on close, refused to another live process, taken over from a dead one', async () => {
    const dataDir = path.join(dir, 'db')
    const handle = await openDatabase({ dataDir })
    expect(await readFile(`${dataDir}.lock`, 'utf8')).toBe(String(process.pid))
    await handle.close()
    expect(existsSync(`${dataDir}.lock`)).toBe(false)

    // A live process holds it: refused with the reason.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'])
    try {
      await writeFile(`${dataDir}.lock`, String(other.pid))
      await expect(openDatabase({ dataDir })).rejects.toMatchObject({ code: 'DATABASE_IN_USE' })
    } finally {
      other.kill('SIGKILL')
      await new Promise((resolve) => other.once('exit', resolve))
    }
    // Its holder is dead now: the lock is taken over.
    const again = await openDatabase({ dataDir })
    expect(await readFile(`${dataDir}.lock`, 'utf8')).toBe(String(process.pid))
    await again.close()
  })
})
