import { open, readFile, rm } from 'node:fs/promises'
import { CriticalError } from '../errors.js'

/** Whether a process with this pid is alive on this machine. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * PGlite is one process's database: a second process opening the same folder would corrupt it.
 * This takes `<dataDir>.lock` (holding our pid), takes over a lock left by a dead process, and
 * refuses with a clear error while another live process holds it.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = `${dataDir}.lock`
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      return async () => { await rm(file, { force: true }) }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim())
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new CriticalError('DATABASE_IN_USE', `the embedded database ${dataDir} is in use by process ${holder}; stop it, or use Postgres (DATABASE_URL) to run several processes`)
      }
      // Left by a process that died: take it over.
      await rm(file, { force: true })
    }
  }
  throw new CriticalError('DATABASE_IN_USE', `could not take the lock ${file}`)
}
