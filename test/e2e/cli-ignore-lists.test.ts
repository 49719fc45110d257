import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CliEnvironment, dialectsUnderTest, openCliEnvironment } from '@arachnid/test'

/**
 * Ignore lists as a user makes and unmakes them: `lists import --ignore`, `lists set --no-ignore`,
 * and what `match --json` says meanwhile. Benign synthetic hashes only (digests of seed strings).
 */

const dialects = await dialectsUnderTest()

const h256 = (s: string) => createHash('sha256').update(s).digest('hex')
const csv = (rows: readonly string[]) => `algorithm,hash,category\n${rows.map((r) => `${r}\n`).join('')}`

describe.concurrent.each(dialects)('ignore lists through the CLI on %s', (dialect) => {
  let cli: CliEnvironment
  beforeAll(async () => { cli = await openCliEnvironment(dialect) })
  afterAll(async () => { await cli?.close() })

  it('lists import --ignore makes an ignore list whose match match --json marks; lists set --no-ignore makes it ordinary again', async () => {
    const stock = h256('stock-photo')
    const known = path.join(cli.home, 'known.csv')
    const ignore = path.join(cli.home, 'stock.csv')
    await writeFile(known, csv([`sha256,${stock},A`]))
    await writeFile(ignore, csv([`sha256,${stock},`]))
    await cli.json(['lists', 'import', known, '--name', 'known', '--no-retro-hunt', '--json'])
    const imported = await cli.json(['lists', 'import', ignore, '--name', 'stock', '--ignore', '--json'])
    expect(imported).toMatchObject({ list: 'stock', applied: true, imported: 1 })
    const lists = await cli.json<{ name: string; ignore: boolean }[]>(['lists', 'list', '--json'])
    expect(lists.map((l) => [l.name, l.ignore])).toEqual([['known', false], ['stock', true]])

    const probe = `sha256:${stock}\n`
    const flagged = await cli.json<{ matches: { list: string; ignore?: boolean }[] }>(['match', '--json'], { input: probe })
    expect(flagged.matches.map((m) => [m.list, m.ignore]).sort()).toEqual([['known', undefined], ['stock', true]])

    const set = await cli.run(['lists', 'set', 'stock', '--no-ignore'])
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout).toBe('stock: not an ignore list\n')
    const plain = await cli.json<{ matches: { list: string; ignore?: boolean }[] }>(['match', '--json'], { input: probe })
    expect(plain.matches.map((m) => [m.list, m.ignore]).sort()).toEqual([['known', undefined], ['stock', undefined]])

    const nothing = await cli.run(['lists', 'set', 'stock'])
    expect(nothing.code).toBe(2)
    expect(nothing.errors).toMatch(/nothing to set: give --classification, --ignore or --no-ignore/)
    await cli.withDatabase(async ({ db }) => {
      expect(await db.selectFrom('hash_lists').where('name', '=', 'stock').select('ignore').executeTakeFirstOrThrow()).toEqual({ ignore: false })
    })
  }, 180_000)
})
