import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase } from '@arachnid/core'
import { importList, listLists, Matcher, retractHashes, showList } from '@arachnid/matcher'
import { dialectsUnderTest, openTestDatabase, type TestDatabase } from '@arachnid/test'
import { readLines } from '../src/read-lines.js'

const dialects = await dialectsUnderTest()

const md5 = (s: string) => createHash('md5').update(s).digest('hex')
const h256 = (s: string) => createHash('sha256').update(s).digest('hex')
/** `hex` with the first `n` bits flipped. */
function flip(hex: string, n: number, from = 0): string {
  const b = Buffer.from(hex, 'hex')
  for (let i = from; i < from + n; i++) b[i >> 3]! ^= 0x80 >> (i & 7)
  return b.toString('hex')
}

describe.each(dialects)('lists on %s', (dialect) => {
  let handle: TestDatabase
  beforeAll(async () => { handle = await openTestDatabase(dialect) })
  afterAll(async () => { await handle?.close() })

  it('imports md5-lines, reporting bad lines by number', async () => {
    const result = await importList(handle.db, {
      name: 'md5s', format: 'md5-lines',
      lines: ['# a comment', md5('a'), '', md5('b').toUpperCase(), 'xyz', md5('c').slice(0, 30)],
    })
    expect(result).toMatchObject({ applied: true, imported: 2, version: 1 })
    expect(result.rejected).toEqual([
      { line: 5, reason: 'md5 hash is not hexadecimal' },
      { line: 6, reason: 'md5 hash must be 32 hex characters, got 30' },
    ])
    const [hit] = await new Matcher(handle.db).match([{ algorithm: 'md5', hash: md5('b') }])
    expect(hit).toEqual([expect.objectContaining({ list: 'md5s', algorithm: 'md5', distance: 0 })])
  })

  it('imports pdq-csv with quality and an optional header, and rejects rows without a quality', async () => {
    const result = await importList(handle.db, {
      name: 'pdqs', format: 'pdq-csv',
      lines: ['hash,quality,category,external_id', `${h256('p1')},100,A,x1`, `${h256('p2')},`, `${h256('p3')},101,A,x3`, `${h256('p4')},90,B,x4`],
    })
    expect(result.imported).toBe(2)
    expect(result.rejected).toEqual([
      { line: 3, reason: 'pdq-csv rows are "hash,quality[,...]": quality is missing' },
      { line: 4, reason: 'quality must be an integer 0..100, got "101"' },
    ])
    const row = await handle.db.selectFrom('known_hashes').where('external_id', '=', 'x4').select(['quality', 'category', 'algorithm']).executeTakeFirstOrThrow()
    expect(row).toEqual({ quality: 90, category: 'B', algorithm: 'pdq' })
  })

  it('imports jsonl and reports bad JSON by line', async () => {
    const result = await importList(handle.db, {
      name: 'json', format: 'jsonl',
      lines: [
        JSON.stringify({ algorithm: 'sha1', hash: 'a'.repeat(40), category: 'C', external_id: 'j1' }),
        '{not json',
        JSON.stringify({ algorithm: 'crc32', hash: 'abcd' }),
        JSON.stringify([1]),
        JSON.stringify({ algorithm: 'pdq', hash: h256('j'), quality: 80 }),
      ],
    })
    expect(result.imported).toBe(2)
    expect(result.rejected).toEqual([
      { line: 2, reason: 'not valid JSON' },
      { line: 3, reason: 'unknown algorithm "crc32"' },
      { line: 4, reason: 'not a JSON object' },
    ])
  })

  it('applies nothing with --strict, in every format, and the active version stays', async () => {
    await importList(handle.db, { name: 'strict', format: 'md5-lines', lines: [md5('strict-kept')] })
    for (const [format, lines] of [
      ['csv', ['algorithm,hash', `md5,${md5('s1')}`, 'md5,bad']],
      ['md5-lines', [md5('s1'), 'bad']],
      ['pdq-csv', [`${h256('s1')},100`, 'bad,100']],
      ['jsonl', [JSON.stringify({ algorithm: 'md5', hash: md5('s1') }), '{']],
    ] as const) {
      const result = await importList(handle.db, { name: 'strict', format, strict: true, lines })
      expect(result).toMatchObject({ applied: false, imported: 0, version: undefined })
      expect(result.rejected.map((r) => r.line)).toEqual([lines.length])
    }
    const [found, strictRow] = await new Matcher(handle.db).match([{ algorithm: 'md5', hash: md5('strict-kept') }, { algorithm: 'md5', hash: md5('s1') }])
    expect(found).toEqual([expect.objectContaining({ list: 'strict', listVersion: 1 })])
    expect(strictRow).toEqual([])
    expect((await showList(handle.db, 'strict')).versions.map((v) => v.status)).toEqual(['failed', 'failed', 'failed', 'failed', 'active'])
  })

  it('keeps the active version when every row of a new one is rejected, and drops a list whose only import failed', async () => {
    await importList(handle.db, { name: 'kept', lines: ['algorithm,hash', `md5,${md5('kept')}`] })
    // An md5 list read as JSON lines: every row rejected; applying it would have emptied the list.
    const wrong = await importList(handle.db, { name: 'kept', format: 'jsonl', lines: [md5('x'), md5('y')] })
    expect(wrong).toMatchObject({ applied: false, imported: 0, version: undefined })
    expect(wrong.rejected.map((r) => r.line)).toEqual([1, 2])
    const [hit] = await new Matcher(handle.db).match([{ algorithm: 'md5', hash: md5('kept') }])
    expect(hit).toEqual([expect.objectContaining({ list: 'kept', listVersion: 1 })])
    expect((await showList(handle.db, 'kept')).versions.map((v) => [v.version, v.status])).toEqual([[2, 'failed'], [1, 'active']])

    await expect(importList(handle.db, { name: 'never', lines: [md5('no header')] })).rejects.toThrow(/header must name the columns/)
    expect(await importList(handle.db, { name: 'never', strict: true, lines: ['algorithm,hash', 'md5,bad'] })).toMatchObject({ applied: false })
    expect(await importList(handle.db, { name: 'never', format: 'md5-lines', lines: ['bad'] })).toMatchObject({ applied: false })
    expect((await listLists(handle.db)).map((l) => l.name)).not.toContain('never')
    expect(await handle.db.selectFrom('hash_lists').where('name', '=', 'never').select('id').execute()).toEqual([])
  })

  it('stores rows repeated in one file once, and appends only rows the active version lacks (retracted ones included)', async () => {
    const rows = ['algorithm,hash,category', `md5,${md5('rep1')},A`, `pdq,${h256('rep2')},B`, `md5,${md5('rep1')},C`, `sha256,${h256('rep2')},B`, `pdq,${h256('rep2')},B`]
    // One row per chunk: the repeats span chunks (and, on Postgres, COPY statements).
    const result = await importList(handle.db, { name: 'repeats', lines: rows, chunkRows: 1, copyFrom: handle.copyFrom })
    expect(result).toMatchObject({ imported: 3, repeated: 2, alreadyPresent: 0, applied: true })
    const [r1] = await new Matcher(handle.db).match([{ algorithm: 'md5', hash: md5('rep1') }])
    expect(r1).toEqual([expect.objectContaining({ list: 'repeats', category: 'A' })])
    expect((await showList(handle.db, 'repeats')).versions[0]).toMatchObject({ rows: 3 })

    await retractHashes(handle.db, { hashes: [`pdq:${h256('rep2')}`] })
    const appended = await importList(handle.db, { name: 'repeats', mode: 'append', lines: [...rows, `md5,${md5('rep3')},A`, `md5,${md5('rep3')},A`] })
    expect(appended).toMatchObject({ imported: 1, repeated: 3, alreadyPresent: 3, applied: true, version: 1 })
    const details = await showList(handle.db, 'repeats')
    expect(details).toMatchObject({ hashes: 3, retracted: 1, byAlgorithm: { md5: 2, sha256: 1 } })
    expect(details.versions[0]).toMatchObject({ rows: 4 })
    // Nothing new: nothing written, not even a change-log entry.
    const changes = await handle.db.selectFrom('hash_list_changes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    expect(await importList(handle.db, { name: 'repeats', mode: 'append', lines: rows })).toMatchObject({ imported: 0, alreadyPresent: 3, applied: true })
    const after = await handle.db.selectFrom('hash_list_changes').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
    expect(Number(after.n)).toBe(Number(changes.n))
  })

  it('keeps the old version matching while a new one is being imported, then switches atomically', async () => {
    const matcher = new Matcher(handle.db, { refreshIntervalMs: 0 })
    await importList(handle.db, { name: 'versioned', lines: ['algorithm,hash', `md5,${md5('old')}`, `pdq,${h256('old')}`] })
    const during: unknown[][][] = []
    async function* slowFile() {
      yield 'algorithm,hash'
      yield `md5,${md5('new')}`
      yield `pdq,${h256('new')}`
      // Mid-import (rows of the new version already written): still the old version only.
      during.push(await matcher.match([
        { algorithm: 'md5', hash: md5('old') }, { algorithm: 'md5', hash: md5('new') },
        { algorithm: 'pdq', hash: h256('old') }, { algorithm: 'pdq', hash: h256('new') },
      ]))
      yield `md5,${md5('new2')}`
    }
    const result = await importList(handle.db, { name: 'versioned', lines: slowFile(), chunkRows: 1 })
    expect(result.version).toBe(2)
    expect(during[0]!.map((r) => r.length)).toEqual([1, 0, 1, 0])
    const after = await matcher.match([
      { algorithm: 'md5', hash: md5('old') }, { algorithm: 'md5', hash: md5('new') },
      { algorithm: 'pdq', hash: h256('old') }, { algorithm: 'pdq', hash: h256('new') },
    ])
    expect(after.map((r) => r.length)).toEqual([0, 1, 0, 1])
    expect(after[3]![0]).toMatchObject({ list: 'versioned', listVersion: 2 })
    const details = await showList(handle.db, 'versioned')
    expect(details.versions.map((v) => [v.version, v.status, v.rows])).toEqual([[2, 'active', 3], [1, 'superseded', 2]])
    expect(details.byAlgorithm).toEqual({ md5: 2, pdq: 1 })
  })

  it('retracts hashes: they stop matching at once and stay for audit', async () => {
    await importList(handle.db, {
      name: 'retractable',
      lines: ['algorithm,hash,category', `md5,${md5('r1')},A`, `md5,${md5('r2')},A`, `pdq,${h256('r3')},B`, `pdq,${h256('r4')},B`],
    })
    // A long refresh interval: the retraction must still hold on the very next call.
    const matcher = new Matcher(handle.db, { refreshIntervalMs: 60_000 })
    const probes = [{ algorithm: 'md5' as const, hash: md5('r1') }, { algorithm: 'pdq' as const, hash: flip(h256('r3'), 5) }, { algorithm: 'pdq' as const, hash: h256('r4') }]
    expect((await matcher.match(probes)).map((r) => r.length)).toEqual([1, 1, 1])
    const result = await retractHashes(handle.db, { hashes: [md5('r1'), h256('r3'), md5('nothing')], reason: 'false positive' })
    expect(result.retracted.map((r) => r.hash).sort()).toEqual([md5('r1'), h256('r3')].sort())
    expect(result.notFound).toEqual([md5('nothing')])
    expect((await matcher.match(probes)).map((r) => r.length)).toEqual([0, 0, 1])
    const kept = await handle.db.selectFrom('known_hashes').where('retract_reason', '=', 'false positive').select(['retracted_at']).execute()
    expect(kept).toHaveLength(2)
    expect(kept.every((k) => k.retracted_at instanceof Date)).toBe(true)
    const details = await showList(handle.db, 'retractable')
    expect(details).toMatchObject({ hashes: 2, retracted: 2, byAlgorithm: { md5: 1, pdq: 1 }, byCategory: { A: 1, B: 1 } })
    // The in-memory index drops it too once it polls (so it no longer even costs a confirmation).
    const fresh = new Matcher(handle.db, { refreshIntervalMs: 0 })
    expect((await fresh.match(probes)).map((r) => r.length)).toEqual([0, 0, 1])
    expect(fresh.stats().entries.pdq).toBeGreaterThan(0)
  })

  it('appends hashes written by another connection; the next match finds them without reloading the list', async () => {
    await importList(handle.db, { name: 'growing', lines: ['algorithm,hash', ...Array.from({ length: 50 }, (_, i) => `pdq,${h256(`g${i}`)}`)] })
    const matcher = new Matcher(handle.db, { refreshIntervalMs: 0 })
    const probe = { algorithm: 'pdq' as const, hash: flip(h256('late'), 9) }
    expect((await matcher.match([probe]))[0]).toEqual([])
    const loads = matcher.stats().versionLoads
    // PGlite is one connection per database, so there the writer shares it.
    const other = dialect === 'postgres' ? await openDatabase({ databaseUrl: handle.url, migrate: false, poolSize: 1 }) : undefined
    try {
      const result = await importList(other?.db ?? handle.db, { name: 'growing', mode: 'append', lines: ['algorithm,hash', `pdq,${h256('late')}`, `md5,${md5('late')}`] })
      expect(result).toMatchObject({ applied: true, imported: 2, version: 1 })
    } finally {
      await other?.close()
    }
    const [found, exact] = await matcher.match([probe, { algorithm: 'md5', hash: md5('late') }])
    expect(found).toEqual([expect.objectContaining({ list: 'growing', listVersion: 1, hash: h256('late'), distance: 9 })])
    expect(exact).toHaveLength(1)
    expect(matcher.stats().versionLoads).toBe(loads)
    expect((await listLists(handle.db)).find((l) => l.name === 'growing')?.hashes).toBe(52)
  })

  it('applies per-list thresholds', async () => {
    const base = h256('threshold-base')
    await importList(handle.db, { name: 'strict-list', pdqThreshold: 10, lines: ['algorithm,hash', `pdq,${base}`] })
    await importList(handle.db, { name: 'loose-list', lines: ['algorithm,hash', `pdq,${base}`, `blockhash,${base}`] })
    await importList(handle.db, { name: 'bh-list', blockhashThreshold: 30, lines: ['algorithm,hash', `blockhash,${base}`] })
    const matcher = new Matcher(handle.db, { refreshIntervalMs: 0, blockhashThreshold: 24 })
    const [near, far, bh] = await matcher.match([
      { algorithm: 'pdq', hash: flip(base, 10) }, { algorithm: 'pdq', hash: flip(base, 20) }, { algorithm: 'blockhash', hash: flip(base, 28) },
    ])
    expect(near!.map((m) => m.list).sort()).toEqual(['loose-list', 'strict-list'])
    expect(far!.map((m) => m.list)).toEqual(['loose-list'])
    expect(bh!.map((m) => m.list)).toEqual(['bh-list'])
    expect((await listLists(handle.db)).find((l) => l.name === 'strict-list')).toMatchObject({ pdqThreshold: 10, blockhashThreshold: null })
  })

  it('matches PDQ dihedral probes and says which transform matched', async () => {
    const stored = h256('rotated-original')
    await importList(handle.db, { name: 'dihedral', lines: ['algorithm,hash', `pdq,${stored}`] })
    const matcher = new Matcher(handle.db, { refreshIntervalMs: 0 })
    const unrelated = Array.from({ length: 7 }, (_, i) => h256(`unrelated-${i}`))
    const dihedral = [...unrelated.slice(0, 3), flip(stored, 12), ...unrelated.slice(3)]
    const [withDihedral, without] = await matcher.match([
      { algorithm: 'pdq', hash: h256('probe-itself'), quality: 100, dihedral },
      { algorithm: 'pdq', hash: h256('probe-itself'), quality: 100 },
    ])
    expect(withDihedral).toEqual([expect.objectContaining({ list: 'dihedral', distance: 12, transform: 3 })])
    expect(without!.filter((m) => m.list === 'dihedral')).toEqual([])
  })
})

describe.skipIf(!dialects.includes('postgres'))('bulk import with COPY on Postgres', () => {
  it('loads the same rows as the INSERT path, awkward text included (newline, carriage return, tab, backslash, \\N), and they match', async () => {
    const handle = await openTestDatabase('postgres')
    try {
      expect(handle.copyFrom).toBeTypeOf('function')
      // Every character COPY's text format escapes, and its NULL marker as plain text. A list line
      // cannot hold a raw newline, but JSON lines carry them escaped, so these reach COPY as they are.
      const awkward = [
        'new\\nline', 'carriage\\rreturn', 'windows\\r\\nline end', 'tab\\there', 'back\\\\slash', '\\\\N', '\\\\.', 'end of line\\n',
      ]
      const decoded = awkward.map((a) => JSON.parse(`"${a}"`) as string)
      expect(decoded.slice(0, 6)).toEqual(['new\nline', 'carriage\rreturn', 'windows\r\nline end', 'tab\there', 'back\\slash', '\\N'])
      const hashes = Array.from({ length: 2500 }, (_, i) => createHash('sha256').update(`copy-${i}`).digest('hex'))
      const odd = (i: number) => i % 300 < awkward.length ? i % 300 : -1
      const lines = hashes.map((h, i) => odd(i) >= 0
        ? `{"algorithm":"sha256","hash":"${h}","category":"${awkward[odd(i)]}","external_id":"id-${awkward[odd(i)]}"}`
        : `{"algorithm":"sha256","hash":"${h}","category":"plain","external_id":"id-${i}"}`)
      const copied = await importList(handle.db, { name: 'copied', format: 'jsonl', lines, copyFrom: handle.copyFrom, chunkRows: 1000 })
      expect(copied).toMatchObject({ applied: true, imported: 2500, rejected: [] })
      const inserted = await importList(handle.db, { name: 'inserted', format: 'jsonl', lines, chunkRows: 1000 })
      expect(inserted).toMatchObject({ applied: true, imported: 2500, rejected: [] })

      // Both paths store exactly the decoded text.
      const stored = async (list: string) => new Map((await handle.db.selectFrom('known_hashes as k').innerJoin('hash_lists as l', 'l.id', 'k.list_id')
        .where('l.name', '=', list).select(['k.hash', 'k.category', 'k.external_id']).execute())
        .map((r) => [Buffer.from(r.hash).toString('hex'), { category: r.category, externalId: r.external_id }]))
      const viaCopy = await stored('copied')
      expect(viaCopy.size).toBe(2500)
      expect(viaCopy).toEqual(await stored('inserted'))
      hashes.forEach((h, i) => {
        const expected = odd(i) >= 0 ? { category: decoded[odd(i)], externalId: `id-${decoded[odd(i)]}` } : { category: 'plain', externalId: `id-${i}` }
        expect(viaCopy.get(h), `row ${i}`).toEqual(expected)
      })

      // And they match with their text as it was.
      const probes = decoded.map((_, k) => ({ algorithm: 'sha256' as const, hash: hashes[k]! }))
      const found = await new Matcher(handle.db).match(probes)
      found.forEach((hits, k) => {
        expect(hits.find((m) => m.list === 'copied')).toEqual(expect.objectContaining({ hash: hashes[k], category: decoded[k], externalId: `id-${decoded[k]}` }))
      })
    } finally {
      await handle.close()
    }
  })
})

describe('readLines', () => {
  async function* chunks(parts: readonly (string | Uint8Array)[]) { for (const p of parts) yield p }
  const all = async (lines: AsyncIterable<string>) => { const out: string[] = []; for await (const l of lines) out.push(l); return out }

  it('splits at any chunk boundary: inside CRLF, inside a UTF-8 character, inside the byte order mark; keeps a last line without a line end', async () => {
    const bytes = new TextEncoder().encode('\ufeffalgorithm,hash\r\nmd5,é\r\n\nlast')
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(await all(readLines(chunks([bytes.subarray(0, cut), bytes.subarray(cut)]))), `cut at ${cut}`).toEqual(['algorithm,hash', 'md5,é', '', 'last'])
    }
    expect(await all(readLines(chunks(['a\nb\n'])))).toEqual(['a', 'b'])
    expect(await all(readLines(chunks([])))).toEqual([])
  })

  it('loses no line when the consumer starts late: the file is read only as lines are asked for', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'arachnid-lines-'))
    try {
      const file = path.join(dir, 'list.csv')
      const rows = Array.from({ length: 5000 }, (_, i) => `md5,${md5(`late-${i}`)}`)
      await writeFile(file, `algorithm,hash\n${rows.join('\n')}\n`)
      const lines = readLines(createReadStream(file))
      // What an import does before its first line: open a database, a few round trips.
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      expect(await all(lines)).toEqual(['algorithm,hash', ...rows])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
