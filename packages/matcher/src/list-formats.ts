import { NonRetryableError } from '@arachnid/core'
import { type Algorithm, isAlgorithm, normaliseHash } from './algorithms.js'
import { splitCsvLine } from './csv.js'

/**
 * List file formats:
 * - `csv`: header `algorithm,hash[,category][,external_id][,quality]` (columns in any order);
 * - `md5-lines`: one MD5 per line, no header (as MD5 lists are commonly published);
 * - `pdq-csv`: `hash,quality[,...]` as hash-sharing exchanges publish PDQ (an optional header line
 *   may name `category` / `external_id` columns; other extra columns are ignored);
 * - `jsonl`: one object per line: `{"algorithm","hash","category"?,"external_id"?,"quality"?}`.
 * Blank lines and lines starting with `#` are skipped in every format.
 */
export const LIST_FORMATS = ['csv', 'md5-lines', 'pdq-csv', 'jsonl'] as const
export type ListFormat = (typeof LIST_FORMATS)[number]

export function isListFormat(value: string): value is ListFormat {
  return (LIST_FORMATS as readonly string[]).includes(value)
}

/** One valid row of a list file. */
export interface ListRow {
  readonly algorithm: Algorithm
  /** Lowercase hex. */
  readonly hex: string
  readonly category: string | null
  readonly externalId: string | null
  readonly quality: number | null
}

export type ParsedLine = ListRow | { readonly error: string } | undefined

/** Parses one line at a time; keeps the header state of formats that have one. */
export interface LineParser {
  /** A row, a reason the line is bad, or undefined for a line that holds no row (blank, comment, header). */
  parse(line: string, lineNo: number): ParsedLine
  /** Throws when the file ended without what the format requires (the CSV header). */
  finish(): void
}

export function createLineParser(format: ListFormat): LineParser {
  switch (format) {
    case 'csv': return new CsvParser()
    case 'md5-lines': return md5LinesParser
    case 'pdq-csv': return new PdqCsvParser()
    case 'jsonl': return jsonlParser
  }
}

function skip(line: string): boolean {
  const t = line.trim()
  return t === '' || t.startsWith('#')
}

function row(algorithm: Algorithm, rawHash: string, category: unknown, externalId: unknown, rawQuality: unknown): ParsedLine {
  const hash = normaliseHash(algorithm, rawHash)
  if ('error' in hash) return { error: hash.error }
  let quality: number | null = null
  if (rawQuality !== undefined && rawQuality !== null && rawQuality !== '') {
    quality = Number(rawQuality)
    if (!Number.isInteger(quality) || quality < 0 || quality > 100) return { error: `quality must be an integer 0..100, got "${String(rawQuality).slice(0, 20)}"` }
  }
  const text = (v: unknown) => (v === undefined || v === null || v === '' ? null : String(v))
  return { algorithm, hex: hash.hex, category: text(category), externalId: text(externalId), quality }
}

class CsvParser implements LineParser {
  #columns: Record<string, number> | undefined

  parse(line: string, lineNo: number): ParsedLine {
    if (skip(line)) return undefined
    const fields = splitCsvLine(line)
    if (this.#columns === undefined) {
      const columns: Record<string, number> = Object.fromEntries(fields.map((f, i) => [f.toLowerCase(), i]))
      if (columns.algorithm === undefined || columns.hash === undefined) {
        throw new NonRetryableError('BAD_LIST', `line ${lineNo}: the header must name the columns algorithm,hash[,category][,external_id]; got "${line.slice(0, 120)}"`)
      }
      this.#columns = columns
      return undefined
    }
    const columns = this.#columns
    const pick = (name: string) => {
      const index = columns[name]
      return index === undefined ? undefined : fields[index]
    }
    const algorithm = (pick('algorithm') ?? '').toLowerCase()
    if (!isAlgorithm(algorithm)) return { error: `unknown algorithm "${algorithm}"` }
    return row(algorithm, pick('hash') ?? '', pick('category'), pick('external_id'), pick('quality'))
  }

  finish(): void {
    if (this.#columns === undefined) throw new NonRetryableError('BAD_LIST', 'the list is empty: no header line')
  }
}

const md5LinesParser: LineParser = {
  parse(line) {
    if (skip(line)) return undefined
    return row('md5', line.trim(), null, null, null)
  },
  finish() {},
}

class PdqCsvParser implements LineParser {
  #category: number | undefined
  #externalId: number | undefined
  #first = true

  parse(line: string): ParsedLine {
    if (skip(line)) return undefined
    const fields = splitCsvLine(line)
    if (this.#first) {
      this.#first = false
      // A header is a first line whose first field is not a hash.
      if (!/^[0-9a-fA-F]{64}$/.test(fields[0] ?? '')) {
        const names = fields.map((f) => f.toLowerCase())
        const at = (name: string) => (names.indexOf(name) >= 0 ? names.indexOf(name) : undefined)
        this.#category = at('category')
        this.#externalId = at('external_id') ?? at('id')
        return undefined
      }
    }
    const get = (i: number | undefined) => (i === undefined ? undefined : fields[i])
    if (fields.length < 2 || fields[1] === '') return { error: 'pdq-csv rows are "hash,quality[,...]": quality is missing' }
    return row('pdq', fields[0] ?? '', get(this.#category), get(this.#externalId), fields[1])
  }

  finish(): void {}
}

const jsonlParser: LineParser = {
  parse(line) {
    if (skip(line)) return undefined
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      return { error: 'not valid JSON' }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'not a JSON object' }
    const o = value as Record<string, unknown>
    const algorithm = typeof o.algorithm === 'string' ? o.algorithm.toLowerCase() : ''
    if (!isAlgorithm(algorithm)) return { error: `unknown algorithm "${String(o.algorithm ?? '')}"` }
    if (typeof o.hash !== 'string') return { error: 'hash must be a string' }
    return row(algorithm, o.hash, o.category, o.external_id ?? o.externalId, o.quality)
  },
  finish() {},
}
