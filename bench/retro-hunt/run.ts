/**
 * Retro-hunt throughput (issue 15): 1,000,000 media already seen (hashes only, random but for the
 * planted ones) and a list gaining 100,000 entries (half exact md5/sha256, half PDQ); how long the
 * hunt takes to find every planted media, on Postgres. Baseline in the same run: matching the
 * stored hashes of a sample of the media through the ordinary matcher (what a hunt without its own
 * index of the new entries would do), extrapolated to all the media.
 *
 *   pnpm tsx bench/retro-hunt/run.ts [--media 1000000] [--entries 100000] [--planted 1000]
 *
 * Needs Postgres (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres); it creates
 * and drops its own database.
 */
import { randomBytes } from 'node:crypto'
import os from 'node:os'
import { sql } from '@arachnid/core'
import { Matcher, type Probe, importList, recordMatches, retroHunt } from '@arachnid/matcher'
import { openTestDatabase } from '@arachnid/test'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const MEDIA = arg('media', 1_000_000)
const ENTRIES = arg('entries', 100_000)
const PLANTED = arg('planted', 1_000)

const load = () => os.loadavg()[0]!.toFixed(1)
const hex = (bytes: number) => randomBytes(bytes).toString('hex')
/** `h` with `flips` distinct bits inverted. */
function flip(h: string, flips: number): string {
  const b = Buffer.from(h, 'hex')
  const used = new Set<number>()
  while (used.size < flips) used.add(Math.floor(Math.random() * 256))
  for (const bit of used) b[bit >> 3]! ^= 1 << (bit & 7)
  return b.toString('hex')
}

const pg = await openTestDatabase('postgres')
const db = pg.db
console.log(`retro-hunt bench: ${MEDIA} media, ${ENTRIES} new entries, ${PLANTED} planted exact + ${PLANTED} planted near; load ${load()}`)
try {
  // The media seen so far: random hashes, COPYed in.
  let t = performance.now()
  const planted: { md5: string[]; pdq: string[] } = { md5: [], pdq: [] }
  const rows = function* () {
    for (let i = 0; i < MEDIA; i++) {
      const md5 = hex(16)
      const pdq = hex(32)
      if (i % Math.floor(MEDIA / PLANTED) === 0 && planted.md5.length < PLANTED) planted.md5.push(md5)
      else if (i % Math.floor(MEDIA / PLANTED) === 1 && planted.pdq.length < PLANTED) planted.pdq.push(pdq)
      yield `\\\\x${hex(32)}\t\\\\x${md5}\t\\\\x${hex(20)}\t\\\\x${hex(32)}\t\\\\x${pdq}\t90\t320\t240\tjpeg\t1000\n`
    }
  }
  await pg.copyFrom!('copy media (sha256, md5, sha1, blockhash, pdq, pdq_quality, width, height, format, bytes) from stdin', rows())
  await sql`analyze media`.execute(db)
  console.log(`  media loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`)

  // The list's new entries: half exact (md5, sha256), half PDQ; the planted ones among them.
  const lines = ['algorithm,hash']
  for (const md5 of planted.md5) lines.push(`md5,${md5}`)
  for (const pdq of planted.pdq) lines.push(`pdq,${flip(pdq, 6)}`)
  while (lines.length - 1 < ENTRIES / 2) lines.push(lines.length % 2 ? `md5,${hex(16)}` : `sha256,${hex(32)}`)
  while (lines.length - 1 < ENTRIES) lines.push(`pdq,${hex(32)}`)
  t = performance.now()
  const imported = await importList(db, { name: 'grown', lines, copyFrom: pg.copyFrom })
  console.log(`  ${imported.imported} entries imported in ${((performance.now() - t) / 1000).toFixed(1)} s`)

  // Baseline: the ordinary matcher over the stored hashes of a sample of the media.
  const sample = Math.min(MEDIA, 20_000)
  const matcher = new Matcher(db, { refreshIntervalMs: 0 })
  await matcher.refresh()
  t = performance.now()
  const media = await db.selectFrom('media').select(['id', 'sha256', 'md5', 'sha1', 'pdq', 'pdq_quality', 'blockhash']).orderBy('id').limit(sample).execute()
  for (let i = 0; i < media.length; i += 1000) {
    const probes: Probe[] = []
    for (const m of media.slice(i, i + 1000)) {
      for (const algorithm of ['sha256', 'md5', 'sha1', 'blockhash'] as const) probes.push({ algorithm, hash: Buffer.from(m[algorithm]!).toString('hex') })
      probes.push({ algorithm: 'pdq', hash: Buffer.from(m.pdq!).toString('hex'), quality: m.pdq_quality ?? 0 })
    }
    await matcher.match(probes)
  }
  const baselineSeconds = (performance.now() - t) / 1000
  await matcher.close()
  const baselineRate = sample / baselineSeconds
  console.log(`  baseline (matcher over the stored hashes): ${sample} media in ${baselineSeconds.toFixed(1)} s = ${Math.round(baselineRate)} media/s -> ${(MEDIA / baselineRate).toFixed(0)} s for all (extrapolated)`)

  // The hunt, recording what it finds through the review policy (no URLs: no notices to recheck).
  const loadBefore = load()
  t = performance.now()
  let lastReport = t
  const result = await retroHunt(db, { listId: imported.listId, versionId: imported.versionId!, firstId: imported.added!.first, lastId: imported.added!.last, trigger: 'bench' },
    async (findings) => {
      const recorded = await recordMatches(db, findings.map((f) => ({ mediaId: f.mediaId, jobId: null, matches: f.matches })))
      return { newMatches: recorded.length, notices: 0, gone: 0 }
    }, {
      onProgress: (p) => {
        if (performance.now() - lastReport < 10_000) return
        lastReport = performance.now()
        console.log(`    ${p.scanned}/${p.total} media, ${p.matchedMedia} matched, ${((performance.now() - t) / 1000).toFixed(0)} s`)
      },
    })
  const seconds = (performance.now() - t) / 1000
  console.log(`  retro-hunt: ${result.mediaScanned} media x ${result.entries} new entries in ${seconds.toFixed(1)} s (load ${loadBefore} -> ${load()}): `
    + `${result.matchedMedia} media matched (${PLANTED} exact + ${PLANTED} near planted), ${result.newMatches} matches recorded; `
    + `${Math.round(result.mediaScanned / seconds)} media/s, ${(MEDIA / baselineRate / seconds).toFixed(1)}x the baseline; goal < 60 s: ${seconds < 60 ? 'met' : 'not met'}`)
  if (result.matchedMedia < 2 * PLANTED) console.log(`  MISSED: ${2 * PLANTED - result.matchedMedia} planted media not found`)
} finally {
  await pg.close()
}
