import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from '@arachnid/core'
import { type CliEnvironment, type CliResult, dialectsUnderTest, openCliEnvironment } from '@arachnid/test'

/**
 * `lists import|list|show|retract` and `match` as a new user runs them: `pnpm arachnid ...`, each a
 * process of its own, on the embedded database and on Postgres. The dialects (and the argument
 * checks) run side by side, each one's commands in order: every command is a whole process start.
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

/** Arguments refused before any database is opened: checked once, on the embedded database. */
describe.concurrent('lists import arguments', () => {
  let cli: CliEnvironment
  beforeAll(async () => { cli = await openCliEnvironment('pglite') })
  afterAll(async () => { await cli?.close() })

  it('refuses thresholds outside 0..256 or not integers, empty names, unknown formats and folders, one line each; warns above 64', async () => {
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
    refused(badFormat, /^arachnid: --format "xml": expected one of csv, md5-lines, pdq-csv, jsonl$/)
    refused(await cli.run(['lists', 'import', folder, '--name', 'x']), /^arachnid: cannot read .*a-folder: it is a directory$/)

    // Allowed with a warning; and read from stdin (-) with a byte order mark and CRLF, as spreadsheets write CSV.
    const input = `\ufeffalgorithm,hash,category\r\nmd5,${md5('piped-1')},A\r\nmd5,${md5('piped-2')},B\r\n`
    const wide = await cli.run(['lists', 'import', '-', '--name', 'wide', '--pdq-threshold', '100', '--json'], { input })
    expect(wide.code, wide.stderr).toBe(0)
    expect(ownLines(wide)).toEqual([expect.stringMatching(/^arachnid: warning: --pdq-threshold 100 is above 64/)])
    expect(JSON.parse(wide.stdout)).toMatchObject({ list: 'wide', imported: 2, rejected: [], applied: true })
  }, 180_000)
})

describe.concurrent.each(dialects)('lists and match on %s', (dialect) => {
  let cli: CliEnvironment
  const file = (name: string) => path.join(cli.home, name)
  beforeAll(async () => { cli = await openCliEnvironment(dialect) })
  afterAll(async () => { await cli?.close() })

  describe.sequential('through pnpm arachnid, command after command', () => {
    it('says so when there are no lists', async () => {
      const empty = await cli.run(['lists', 'list'])
      expect(empty.code, empty.stderr).toBe(0)
      expect(empty.stdout).toBe('no lists\n')
    }, 120_000)

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

      refused(await cli.run(['lists', 'show', 'ghost-header']), /^arachnid: no list named "ghost-header"$/)
      await cli.withDatabase(async ({ db }) => {
        expect(await db.selectFrom('hash_lists').select('name').execute()).toEqual([])
        expect(await db.selectFrom('hash_list_versions').select('id').execute()).toEqual([])
      })
    }, 120_000)

    it('imports every row of a 1-row, a 3-row and a 5,000-row file', async () => {
      const sizes = [1, 3, 5000]
      for (const size of sizes) {
        await writeFile(file(`rows-${size}.csv`), csv(Array.from({ length: size }, (_, i) => `md5,${md5(`${size}-${i}`)},A`)))
        const result = await cli.json(['lists', 'import', file(`rows-${size}.csv`), '--name', `rows-${size}`, '--json'])
        expect(result).toMatchObject({ list: `rows-${size}`, version: 1, imported: size, rejected: [], applied: true })
      }
      // Exactly these lists: none left by the failed imports before.
      const listed = await cli.run(['lists', 'list'])
      expect(listed.code, listed.stderr).toBe(0)
      expect(listed.stdout).toBe('rows-1 v1: 1 hash (md5 1)\nrows-3 v1: 3 hashes (md5 3)\nrows-5000 v1: 5000 hashes (md5 5000)\n')
    }, 120_000)

    it('appends only the rows not in the list yet, stores a repeated row once, and match reports each list entry once', async () => {
      const rows = [`md5,${md5('a1')},A`, `pdq,${h256('a2')},B`, `sha256,${h256('a2')},B`]
      await writeFile(file('base.csv'), csv(rows))
      expect(await cli.json(['lists', 'import', file('base.csv'), '--name', 'grown', '--json'])).toMatchObject({ imported: 3, applied: true })

      // The same file again, plus one new row given twice.
      await writeFile(file('more.csv'), csv([...rows, `md5,${md5('a3')},A`, `md5,${md5('a3')},A`]))
      const appended = await cli.run(['lists', 'import', file('more.csv'), '--name', 'grown', '--append'])
      expect(appended.code, appended.stderr).toBe(0)
      expect(appended.stdout).toMatch(/^grown v1: 1 hash appended in \d+\.\d s, 0 rows rejected, 1 row repeats an earlier row \(stored once\), 3 rows were already in the list\n$/)

      // Rows given twice (one three times, with another category): stored once each, the first kept.
      await writeFile(file('twice.csv'), csv([`md5,${md5('t1')},A`, `pdq,${h256('t2')},B`, `md5,${md5('t1')},A`, `pdq,${h256('t2')},B`, `md5,${md5('t1')},C`]))
      expect(await cli.json(['lists', 'import', file('twice.csv'), '--name', 'twice', '--json']))
        .toMatchObject({ imported: 2, repeated: 3, alreadyPresent: 0, applied: true })

      await cli.withDatabase(async ({ db }) => {
        const stored = await sql<{ name: string; n: number }>`select l.name, count(*)::int as n from known_hashes k
          join hash_lists l on l.id = k.list_id where l.name in ('grown', 'twice') group by l.name order by l.name`.execute(db)
        expect(stored.rows).toEqual([{ name: 'grown', n: 4 }, { name: 'twice', n: 2 }])
        // A version written before repeats were dropped (by an older import) must still match each entry once.
        const { active_version_id: version } = await db.selectFrom('hash_lists').where('name', '=', 'twice').select('active_version_id').executeTakeFirstOrThrow()
        await sql`insert into known_hashes (list_id, version_id, algorithm, hash, category)
          select list_id, version_id, algorithm, hash, category from known_hashes where version_id = ${version}`.execute(db)
        await sql`update hash_list_versions set last_id = (select max(id) from known_hashes) where id = ${version}`.execute(db)
      })

      const probes = [`md5:${md5('a1')}`, `pdq:${near(h256('a2'), 3)}`, `md5:${md5('a3')}`, `md5:${md5('t1')}`, `pdq:${h256('t2')}`, `sha1:${'0'.repeat(40)}`]
      const matched = await cli.run(['match', '--json'], { input: `${probes.join('\n')}\n` })
      expect(matched.code, matched.stderr).toBe(0)
      // The documented shape, one line per input.
      expect(matched.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([
        { input: probes[0], matches: [{ list: 'grown', algorithm: 'md5', hash: md5('a1'), distance: 0, category: 'A' }] },
        { input: probes[1], matches: [{ list: 'grown', algorithm: 'pdq', hash: h256('a2'), distance: 3, category: 'B' }] },
        { input: probes[2], matches: [{ list: 'grown', algorithm: 'md5', hash: md5('a3'), distance: 0, category: 'A' }] },
        { input: probes[3], matches: [{ list: 'twice', algorithm: 'md5', hash: md5('t1'), distance: 0, category: 'A' }] },
        { input: probes[4], matches: [{ list: 'twice', algorithm: 'pdq', hash: h256('t2'), distance: 0, category: 'B' }] },
        { input: probes[5], matches: [] },
      ])
    }, 120_000)

    it('retracts hex or algorithm:hex (as match and retract print it): matching stops at once, the rows stay for audit; retracting again is done, not an error', async () => {
      const first = await cli.run(['lists', 'retract', `md5:${md5('a1')}`, `pdq:${h256('a2')}`, `md5:${md5('t1')}`, '--reason', 'test'])
      expect(first.code, first.stderr).toBe(0)
      // One line per list entry, although the older import above left 'twice' holding each twice.
      expect(first.stdout.trim().split('\n').sort()).toEqual([
        `retracted grown md5:${md5('a1')}`, `retracted grown pdq:${h256('a2')}`, `retracted twice md5:${md5('t1')}`,
      ])
      const again = await cli.run(['lists', 'retract', md5('a1'), md5('never-listed')])
      expect(again.code).toBe(1)
      expect(again.stdout).toBe(`already retracted ${md5('a1')}\nnot found ${md5('never-listed')}\n`)

      // pdq:<hex> left the sha256 entry with the same hex alone.
      expect(await cli.json(['lists', 'show', 'grown', '--json'])).toMatchObject({
        name: 'grown', version: 1, hashes: 2, retracted: 2, byAlgorithm: { md5: 1, sha256: 1 }, byCategory: { A: 1, B: 1 },
        versions: [{ version: 1, status: 'active', rows: 4, rejected: 0, format: 'csv', source: 'base.csv' }],
      })
      const probes = [`md5:${md5('a1')}`, `pdq:${near(h256('a2'), 3)}`, `sha256:${h256('a2')}`, `md5:${md5('t1')}`]
      const matched = await cli.run(['match', '--json'], { input: `${probes.join('\n')}\n` })
      expect(matched.code, matched.stderr).toBe(0)
      expect(matched.stdout.trim().split('\n').map((l) => JSON.parse(l).matches.map((m: { list: string; algorithm: string }) => `${m.list} ${m.algorithm}`)))
        .toEqual([[], [], ['grown sha256'], []])
    }, 120_000)
  })
})
