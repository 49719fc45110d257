import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { mkdir, open, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from '@arachnid/core'
import { type CliEnvironment, type CliResult, dialectsUnderTest, openCliEnvironment } from '@arachnid/test'

/**
 * `lists import|list|show|retract` and `match` as a new user runs them: `pnpm arachnid ...`, each a
 * process of its own, on the embedded database and on Postgres. The dialects (and the argument
 * checks) run side by side, each one's commands in order: every command is a whole process start.
 * Each test makes the lists it reads (under names of its own), so none relies on another's.
 */

const dialects = await dialectsUnderTest()

const md5 = (s: string) => createHash('md5').update(s).digest('hex')
const h256 = (s: string) => createHash('sha256').update(s).digest('hex')
/** `hex` with its first `bits` bits flipped: a near copy, at that Hamming distance. */
function near(hex: string, bits: number): string {
  const b = Buffer.from(hex, 'hex')
  for (let i = 0; i < bits; i++) b[i >> 3]! ^= 0x80 >> (i & 7)
  return b.toString('hex')
}
const csv = (rows: readonly string[]) => `algorithm,hash,category\n${rows.map((r) => `${r}\n`).join('')}`

/** What the command wrote of its own on stderr, line by line. */
const ownLines = (r: CliResult) => r.errors.split('\n').filter((l) => l.trim() !== '')

/** A refusal, not a crash: exit 2 and one line on stderr. */
function refused(r: CliResult, line: RegExp): void {
  expect(r.code, r.stderr).toBe(2)
  expect(ownLines(r)).toEqual([expect.stringMatching(line)])
  expect(r.stdout).toBe('')
}

/**
 * Arguments refused before any database is opened, and stdin: checked once, on Postgres when it
 * answers (the cheaper start, beside the embedded database's own lane), else on the embedded one.
 */
describe.concurrent('lists import arguments', () => {
  let cli: CliEnvironment
  beforeAll(async () => { cli = await openCliEnvironment(dialects.includes('postgres') ? 'postgres' : 'pglite') })
  afterAll(async () => { await cli?.close() })

  it('refuses thresholds outside 0..256 or not integers, empty names, unknown formats and folders, one line each, and makes no list ("no lists"); warns above 64', async () => {
    const file = path.join(cli.home, 'one.csv')
    await writeFile(file, csv([`md5,${md5('argument')},A`]))
    const folder = path.join(cli.home, 'a-folder')
    await mkdir(folder)
    const [pdq300, bhFloat] = await Promise.all([
      cli.run(['lists', 'import', file, '--name', 'x', '--pdq-threshold', '300']),
      cli.run(['lists', 'import', file, '--name', 'x', '--blockhash-threshold', '1e1']),
    ])
    refused(pdq300, /^arachnid: --pdq-threshold "300": expected an integer from 0 to 256$/)
    refused(bhFloat, /^arachnid: --blockhash-threshold "1e1": expected an integer from 0 to 256$/)
    const [noName, badFormat] = await Promise.all([
      cli.run(['lists', 'import', file, '--name', ' ']),
      cli.run(['lists', 'import', file, '--name', 'x', '--format', 'xml']),
    ])
    refused(noName, /^arachnid: --name: expected a non-empty value$/)
    refused(badFormat, /^arachnid: --format "xml": expected one of csv, md5-lines, pdq-csv, jsonl, vpdq$/)
    // None of the refusals made a list: the database has none, and says so.
    const [inFolder, none] = await Promise.all([cli.run(['lists', 'import', folder, '--name', 'x']), cli.run(['lists', 'list'])])
    refused(inFolder, /^arachnid: cannot read .*a-folder: it is a directory$/)
    expect(none.code, none.stderr).toBe(0)
    expect(none.stdout).toBe('no lists\n')

    // Allowed with a warning; and read from stdin (-) with a byte order mark and CRLF, as spreadsheets write CSV.
    const input = `\ufeffalgorithm,hash,category\r\nmd5,${md5('piped-1')},A\r\nmd5,${md5('piped-2')},B\r\n`
    const wide = await cli.run(['lists', 'import', '-', '--name', 'wide', '--pdq-threshold', '100', '--json'], { input })
    expect(wide.code, wide.stderr).toBe(0)
    expect(ownLines(wide)).toEqual([expect.stringMatching(/^arachnid: warning: --pdq-threshold 100 is above 64/)])
    expect(JSON.parse(wide.stdout)).toMatchObject({ list: 'wide', imported: 2, rejected: [], applied: true })

    // One at a time from here: the embedded database would take one process.
    expect(await cli.json(['lists', 'show', 'wide', '--json'])).toMatchObject({
      name: 'wide', version: 1, hashes: 2, retracted: 0, pdqThreshold: 100, blockhashThreshold: null,
      byAlgorithm: { md5: 2 }, byCategory: { A: 1, B: 1 },
      versions: [{ version: 1, status: 'active', rows: 2, rejected: 0, format: 'csv', source: 'stdin' }],
    })
    refused(await cli.run(['lists', 'show', 'unknown']), /^arachnid: no list named "unknown"$/)
  }, 180_000)
})

describe.concurrent.each(dialects)('lists and match on %s', (dialect) => {
  let cli: CliEnvironment
  const file = (name: string) => path.join(cli.home, name)
  beforeAll(async () => { cli = await openCliEnvironment(dialect) })
  afterAll(async () => { await cli?.close() })

  describe.sequential('through pnpm arachnid, command after command', () => {
    it('leaves no list behind when an import fails, and still reports its rejected rows', async () => {
      await writeFile(file('one-bad.csv'), csv([`md5,${md5('fine')},A`, 'md5,not-a-hash,A']))
      await writeFile(file('md5s.txt'), `${md5('m1')}\n${md5('m2')}\n`)

      const strict = await cli.run(['lists', 'import', file('one-bad.csv'), '--name', 'ghost-strict', '--strict'])
      expect(strict.code, strict.stderr).toBe(1)
      expect(strict.stdout).toBe('ghost-strict: nothing applied (--strict), 1 row rejected\n  line 3: md5 hash is not hexadecimal\n')

      // An MD5 list with the default format (csv): its first line is no header.
      const noHeader = await cli.run(['lists', 'import', file('md5s.txt'), '--name', 'ghost-header'])
      refused(noHeader, /^arachnid: line 1: the header must name the columns algorithm,hash/)

      // A CSV read as JSON lines: every row is rejected, so nothing is applied (nor would an active list be emptied).
      const allRejected = await cli.run(['lists', 'import', file('one-bad.csv'), '--name', 'ghost-rejected', '--format', 'jsonl'])
      expect(allRejected.code, allRejected.stderr).toBe(1)
      expect(allRejected.stdout.split('\n').slice(0, 2)).toEqual([
        'ghost-rejected: nothing applied: every row was rejected (is --format jsonl right?), 3 rows rejected',
        '  line 1: not valid JSON',
      ])

      // Whatever other lists there are, none of these.
      const listed = await cli.run(['lists', 'list'])
      expect(listed.code, listed.stderr).toBe(0)
      expect(listed.stdout.split('\n').filter((line) => line.includes('ghost-'))).toEqual([])
      refused(await cli.run(['lists', 'show', 'ghost-rejected']), /^arachnid: no list named "ghost-rejected"$/)
    }, 120_000)

    it('Ctrl-C mid-import: says so, exits non-zero and leaves nothing behind', async () => {
      // A named pipe: the import opens it only after making its list and version, and then waits
      // for more rows, so the interruption surely comes mid-import.
      const fifo = file('slow.fifo')
      execFileSync('mkfifo', [fifo])
      const importing = cli.start(['lists', 'import', fifo, '--name', 'interrupted'])
      const writer = await Promise.race([
        open(fifo, 'w'),
        importing.exited.then(async (r) => {
          // Let the pending open of the writing end complete before failing.
          await (await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK)).close()
          throw new Error(`the import exited before reading its file: ${r.stderr}`)
        }),
      ])
      try {
        await writer.write(csv([`md5,${md5('i1')},A`, `md5,${md5('i2')},A`]))
        // To the whole process group, as Ctrl-C in a terminal.
        importing.signal('SIGINT')
        await importing.waitFor(/arachnid: SIGINT: stopping the import/, { stream: 'stderr' })
      } finally {
        await writer.close()
      }
      const interrupted = await importing.exited
      expect(interrupted.code, interrupted.stderr).not.toBe(0)
      expect(ownLines(interrupted)).toContain('arachnid: interrupted (SIGINT): nothing applied to interrupted')
      expect(interrupted.stdout).toBe('')
      // Nothing of it, whatever other lists there are: no list, no version read from the pipe, none of its rows.
      await cli.withDatabase(async ({ db }) => {
        expect(await db.selectFrom('hash_lists').where('name', '=', 'interrupted').select('id').execute()).toEqual([])
        expect(await db.selectFrom('hash_list_versions').where('source', '=', 'slow.fifo').select('id').execute()).toEqual([])
        expect(await db.selectFrom('known_hashes').where('hash', 'in', [md5('i1'), md5('i2')].map((h) => Buffer.from(h, 'hex'))).select('id').execute()).toEqual([])
      })
    }, 120_000)

    it('imports every row of a 1-row, a 3-row and a 5,000-row file', async () => {
      const sizes = [1, 3, 5000]
      for (const size of sizes) {
        await writeFile(file(`rows-${size}.csv`), csv(Array.from({ length: size }, (_, i) => `md5,${md5(`${size}-${i}`)},A`)))
        const result = await cli.json(['lists', 'import', file(`rows-${size}.csv`), '--name', `rows-${size}`, '--json'])
        expect(result).toMatchObject({ list: `rows-${size}`, version: 1, imported: size, rejected: [], applied: true })
      }
      await cli.withDatabase(async ({ db }) => {
        const stored = await sql<{ name: string; n: number }>`select l.name, count(*)::int as n from hash_lists l
          join known_hashes k on k.version_id = l.active_version_id where l.name like 'rows-%' group by l.name order by l.name`.execute(db)
        expect(stored.rows).toEqual(sizes.map((size) => ({ name: `rows-${size}`, n: size })))
      })
    }, 120_000)

    it('stores a repeated row once, appends only the rows not in the list yet, and match reports each list entry once', async () => {
      // One row three times (once with another category): stored once, the first kept.
      const rows = [`md5,${md5('a1')},A`, `pdq,${h256('a2')},B`, `md5,${md5('a1')},A`, `sha256,${h256('a2')},B`, `md5,${md5('a1')},C`]
      await writeFile(file('base.csv'), csv(rows))
      expect(await cli.json(['lists', 'import', file('base.csv'), '--name', 'grown', '--json']))
        .toMatchObject({ imported: 3, repeated: 2, alreadyPresent: 0, applied: true })

      // The same file again, plus one new row given twice.
      await writeFile(file('more.csv'), csv([...rows, `md5,${md5('a3')},A`, `md5,${md5('a3')},A`]))
      const appended = await cli.run(['lists', 'import', file('more.csv'), '--name', 'grown', '--append'])
      expect(appended.code, appended.stderr).toBe(0)
      expect(appended.stdout).toMatch(/^grown v1: 1 hash appended in \d+\.\d s, 0 rows rejected, 3 rows repeat an earlier row \(stored once\), 3 rows were already in the list\nretro-hunt: 1 new entry looked for among 0 media in \d+\.\d s: 0 media matched \(0 new matches\), 0 notices, 0 URLs already gone\n$/)

      await cli.withDatabase(async ({ db }) => {
        const { active_version_id: version } = await db.selectFrom('hash_lists').where('name', '=', 'grown').select('active_version_id').executeTakeFirstOrThrow()
        const stored = await db.selectFrom('known_hashes').where('version_id', '=', version).select('algorithm').orderBy('id').execute()
        expect(stored.map((r) => r.algorithm)).toEqual(['md5', 'pdq', 'sha256', 'md5'])
        // A version written before repeats were dropped (by an older import) must still match each entry once.
        await sql`insert into known_hashes (list_id, version_id, algorithm, hash, category)
          select list_id, version_id, algorithm, hash, category from known_hashes where version_id = ${version}`.execute(db)
        await sql`update hash_list_versions set last_id = (select max(id) from known_hashes) where id = ${version}`.execute(db)
      })

      const probes = [`md5:${md5('a1')}`, `pdq:${near(h256('a2'), 3)}`, `sha256:${h256('a2')}`, `md5:${md5('a3')}`, `sha1:${'0'.repeat(40)}`]
      const matched = await cli.run(['match', '--json'], { input: `${probes.join('\n')}\n` })
      expect(matched.code, matched.stderr).toBe(0)
      // The documented shape, one line per input (each match also names its list version, ids and classification).
      const lines = matched.stdout.trim().split('\n').map((l) => JSON.parse(l))
      for (const line of lines) {
        for (const m of line.matches) expect(m).toMatchObject({ version: expect.any(Number), listId: expect.any(Number), knownHashId: expect.any(Number), externalId: null, classification: 'csam' })
      }
      const documented = lines.map((l) => ({ input: l.input, matches: l.matches.map(({ list, algorithm, hash, distance, category }: Record<string, unknown>) => ({ list, algorithm, hash, distance, category })) }))
      expect(documented).toEqual([
        { input: probes[0], matches: [{ list: 'grown', algorithm: 'md5', hash: md5('a1'), distance: 0, category: 'A' }] },
        { input: probes[1], matches: [{ list: 'grown', algorithm: 'pdq', hash: h256('a2'), distance: 3, category: 'B' }] },
        { input: probes[2], matches: [{ list: 'grown', algorithm: 'sha256', hash: h256('a2'), distance: 0, category: 'B' }] },
        { input: probes[3], matches: [{ list: 'grown', algorithm: 'md5', hash: md5('a3'), distance: 0, category: 'A' }] },
        { input: probes[4], matches: [] },
      ])
    }, 120_000)

    it('retracts hex or algorithm:hex (as match and retract print it): matching stops at once, the rows stay for audit; retracting again is done, not an error', async () => {
      // A list of its own, each entry stored twice in its version as an older import left them.
      await writeFile(file('retractable.csv'), csv([`md5,${md5('r1')},A`, `pdq,${h256('r2')},B`, `sha256,${h256('r2')},B`, `md5,${md5('r3')},A`]))
      expect(await cli.json(['lists', 'import', file('retractable.csv'), '--name', 'retractable', '--json'])).toMatchObject({ imported: 4, applied: true })
      await cli.withDatabase(async ({ db }) => {
        const { active_version_id: version } = await db.selectFrom('hash_lists').where('name', '=', 'retractable').select('active_version_id').executeTakeFirstOrThrow()
        await sql`insert into known_hashes (list_id, version_id, algorithm, hash, category)
          select list_id, version_id, algorithm, hash, category from known_hashes where version_id = ${version}`.execute(db)
        await sql`update hash_list_versions set last_id = (select max(id) from known_hashes) where id = ${version}`.execute(db)
      })

      const first = await cli.run(['lists', 'retract', `md5:${md5('r1')}`, `pdq:${h256('r2')}`, '--reason', 'test'])
      expect(first.code, first.stderr).toBe(0)
      // One line per list entry, although the version holds each twice.
      expect(first.stdout.trim().split('\n').sort()).toEqual([`retracted retractable md5:${md5('r1')}`, `retracted retractable pdq:${h256('r2')}`])
      const again = await cli.run(['lists', 'retract', md5('r1'), md5('never-listed')])
      expect(again.code).toBe(1)
      expect(again.stdout).toBe(`already retracted ${md5('r1')}\nnot found ${md5('never-listed')}\n`)

      // pdq:<hex> left the sha256 entry with the same hex alone.
      const probes = [`md5:${md5('r1')}`, `pdq:${near(h256('r2'), 3)}`, `sha256:${h256('r2')}`, `md5:${md5('r3')}`]
      const matched = await cli.run(['match', '--json'], { input: `${probes.join('\n')}\n` })
      expect(matched.code, matched.stderr).toBe(0)
      expect(matched.stdout.trim().split('\n').map((l) => JSON.parse(l).matches.map((m: { list: string; algorithm: string }) => `${m.list} ${m.algorithm}`)))
        .toEqual([[], [], ['retractable sha256'], ['retractable md5']])
      await cli.withDatabase(async ({ db }) => {
        const kept = await db.selectFrom('known_hashes as k').innerJoin('hash_lists as l', 'l.id', 'k.list_id').where('l.name', '=', 'retractable')
          .where('k.retract_reason', '=', 'test').select(['k.algorithm', 'k.retracted_at']).execute()
        expect(kept.map((r) => r.algorithm).sort()).toEqual(['md5', 'md5', 'pdq', 'pdq'])
        expect(kept.every((r) => r.retracted_at instanceof Date)).toBe(true)
      })
    }, 120_000)
  })
})
