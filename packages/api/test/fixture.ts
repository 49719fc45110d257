import { type DialectName } from '@arachnid/core'
import { importList, Matcher } from '@arachnid/matcher'
import { openTestDatabase, type TestDatabase } from '@arachnid/test'
import { ApiServer, type ApiServerOptions, addApiUser } from '../src/index.js'

/** A database, a service on it (loaded, not listening) and a user's Basic header. */
export interface ApiFixture {
  readonly database: TestDatabase
  readonly server: ApiServer
  readonly auth: string
  /** A new user's Basic header (with its own limits). */
  user(name: string, limits?: { rate?: number; quota?: number }): Promise<string>
  /** Imports a list (csv lines after the header). */
  list(name: string, rows: readonly string[], options?: { classification?: 'csam' | 'harmful-abusive-material'; mode?: 'replace' | 'append' }): Promise<void>
  close(): Promise<void>
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

export async function openApiFixture(dialect: DialectName, options: Partial<ApiServerOptions> = {}): Promise<ApiFixture> {
  const database = await openTestDatabase(dialect)
  const user = async (name: string, limits: { rate?: number; quota?: number } = {}) => {
    const added = await addApiUser(database.db, { name, ...limits })
    return basic(added.user, added.password)
  }
  const auth = await user('partner')
  // The fixture holds the matcher so that list() can wait for the index to take an import in:
  // a new version is loaded in the background while the previous one answers, which a loaded
  // machine can stretch past any fixed wait.
  const matcher = options.matcher ?? new Matcher(database.db)
  const server = await ApiServer.create({ db: database.db, refreshIntervalMs: 100, ...options, matcher })
  await server.loaded
  return {
    database, server, auth, user,
    async list(name, rows, o = {}) {
      await importList(database.db, { name, lines: ['algorithm,hash,category,external_id', ...rows], classification: o.classification, mode: o.mode })
      await matcher.refresh()
    },
    async close() {
      await server.close()
      if (options.matcher === undefined) await matcher.close()
      await database.close()
    },
  }
}

/** Polls `check` until it holds or `ms` pass; returns whether it held. */
export async function eventually(check: () => Promise<boolean>, ms = 1000, stepMs = 25): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  }
}
