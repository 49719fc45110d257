/**
 * List sharing throughput (issue 15): how fast a list is exported (`lists export`) and pulled by
 * another deployment (`lists subscribe` / `lists pull` through the publisher's matching service),
 * on Postgres, against the baseline of importing the same entries from a local file in the same run
 * (`lists import`: what a pull has to do at least, without the network and the peer).
 *
 *   pnpm tsx bench/list-sharing/run.ts [--entries 1000000] [--append 10000] [--retract 1000] [--page 5000]
 *
 * Two databases (publisher and subscriber, created and dropped by the bench), one ApiServer on
 * 127.0.0.1 in this process serving GET /api/v1/lists/:name/changes to a user with the export scope.
 * Needs Postgres (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { ApiServer, addApiUser } from '../../packages/api/src/index.js'
import { exportListLines, importList, retractHashes } from '@arachnid/matcher'
import { openTestDatabase } from '@arachnid/test'
import { pullSubscription } from '../../packages/cli/src/commands/list-sharing.js'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const ENTRIES = arg('entries', 1_000_000)
const APPEND = arg('append', 10_000)
const RETRACT = arg('retract', 1_000)
const PAGE = arg('page', 5000)

const load = () => os.loadavg()[0]!.toFixed(1)
const hex = (bytes: number) => randomBytes(bytes).toString('hex')
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000))
const seconds = (ms: number) => (ms / 1000).toFixed(1)

/** A list file's lines: half PDQ (with quality), a quarter md5, a quarter sha256, with categories and ids. */
function listLines(n: number, prefix: string): string[] {
  const lines = ['algorithm,hash,category,external_id,quality']
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) lines.push(`pdq,${hex(32)},A${i % 3},${prefix}${i},${80 + (i % 20)}`)
    else if (i % 4 === 1) lines.push(`md5,${hex(16)},B1,${prefix}${i},`)
    else lines.push(`sha256,${hex(32)},B2,${prefix}${i},`)
  }
  return lines
}

const publisher = await openTestDatabase('postgres')
const subscriber = await openTestDatabase('postgres')
const baseline = await openTestDatabase('postgres')
console.log(`list-sharing bench: ${ENTRIES} entries, then ${APPEND} appended and ${RETRACT} retracted; pages of ${PAGE}; load ${load()}`)
let server: ApiServer | undefined
try {
  const lines = listLines(ENTRIES, 'e')

  // Baseline: the same file imported locally (COPY), on its own database.
  let t = performance.now()
  const local = await importList(baseline.db, { name: 'shared', lines, copyFrom: baseline.copyFrom })
  const importMs = performance.now() - t
  console.log(`  baseline: lists import of ${local.imported} entries: ${seconds(importMs)} s, ${rate(local.imported, importMs)} entries/s (load ${load()})`)

  await importList(publisher.db, { name: 'shared', lines, copyFrom: publisher.copyFrom })

  // Export: every live entry written as lines, as `lists export` writes them (to nowhere here).
  const exports: Record<string, { ms: number; bytes: number }> = {}
  for (const format of ['csv', 'jsonl'] as const) {
    t = performance.now()
    let bytes = 0
    for await (const line of exportListLines(publisher.db, 'shared', format)) bytes += line.length
    exports[format] = { ms: performance.now() - t, bytes }
    console.log(`  export ${format}: ${seconds(exports[format].ms)} s, ${rate(ENTRIES, exports[format].ms)} entries/s, ${(bytes / 1e6).toFixed(0)} MB (${(exports[format].ms > 0 ? importMs / exports[format].ms : 0).toFixed(1)}x the import's rate; load ${load()})`)
  }

  // The publisher's service, and a subscriber following it.
  const user = await addApiUser(publisher.db, { name: 'peer', scopes: ['export'], rate: 1_000_000 })
  server = await ApiServer.start({ db: publisher.db, maxBatch: Math.max(PAGE, 1000) }, { port: 0, host: '127.0.0.1' })
  await server.loaded
  const sub = { local_name: 'followed', url: `http://127.0.0.1:${server.port}`, remote_name: 'shared', user_name: user.user, password: user.password, cursor: '0' }
  await subscriber.db.insertInto('list_subscriptions').values({ local_name: sub.local_name, url: sub.url, remote_name: sub.remote_name, user_name: sub.user_name, password: sub.password }).execute()
  t = performance.now()
  const first = await pullSubscription(subscriber.db, sub, { pageSize: PAGE, copyFrom: subscriber.copyFrom })
  const pullMs = performance.now() - t
  console.log(`  first pull (the whole list, as a replace): ${first.replacedEntries} entries in ${first.pages} pages, ${seconds(pullMs)} s, ${rate(first.replacedEntries, pullMs)} entries/s, ${(importMs / pullMs).toFixed(2)}x the import's rate (load ${load()})`)
  const local2 = await subscriber.db.selectFrom('known_hashes').where('retracted_at', 'is', null).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
  if (Number(local2.n) !== ENTRIES) throw new Error(`the subscriber holds ${local2.n} entries, not ${ENTRIES}`)

  // An append and a retraction on the publisher, then the next (incremental) pull.
  const appended = listLines(APPEND, 'a')
  await importList(publisher.db, { name: 'shared', lines: appended, mode: 'append' })
  const gone = lines.slice(1, RETRACT + 1).map((l) => { const [algorithm, h] = l.split(','); return `${algorithm}:${h}` })
  await retractHashes(publisher.db, { hashes: gone, list: 'shared', reason: 'bench' })
  t = performance.now()
  const next = await pullSubscription(subscriber.db, { ...sub, cursor: first.cursor }, { pageSize: PAGE, copyFrom: subscriber.copyFrom })
  const nextMs = performance.now() - t
  console.log(`  next pull: ${next.added} added and ${next.retracted} retracted in ${next.pages} pages, ${seconds(nextMs)} s, ${rate(next.added + next.retracted, nextMs)} changes/s (load ${load()})`)
  if (next.added !== APPEND || next.retracted !== RETRACT) throw new Error(`expected ${APPEND} added and ${RETRACT} retracted`)
  console.log(`summary: import ${rate(ENTRIES, importMs)}/s; export csv ${rate(ENTRIES, exports.csv!.ms)}/s (${(importMs / exports.csv!.ms).toFixed(1)}x import), jsonl ${rate(ENTRIES, exports.jsonl!.ms)}/s; `
    + `first pull ${rate(ENTRIES, pullMs)}/s (${(importMs / pullMs).toFixed(2)}x import); incremental pull ${rate(APPEND + RETRACT, nextMs)} changes/s`)
} finally {
  await server?.close()
  await publisher.close()
  await subscriber.close()
  await baseline.close()
}
