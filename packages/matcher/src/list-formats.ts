import { createHash } from 'node:crypto'
import { NonRetryableError } from '@arachnid/core'
import { type Algorithm, isAlgorithm, normaliseHash } from './algorithms.js'
import { splitCsvLine } from './csv.js'

/**
 * List file formats:
 * - `csv`: header `algorithm,hash[,category][,external_id][,quality]` (columns in any order);
 * - `md5-lines`: one MD5 per line, no header (as MD5 lists are commonly published);
 * - `pdq-csv`: `hash,quality[,...]` as hash-sharing exchanges publish PDQ (an optional header line
 *   may name `category` / `external_id` columns; other extra columns are ignored);
 * - `jsonl`: one object per line: `{"algorithm","hash","category"?,"external_id"?,"quality"?}`;
 * - `vpdq`: vPDQ's text output, one frame per line (`frame_number,quality,pdq_hex,timestamp`, or
 *   with the hash before the quality as vPDQ's Python binding prints it): the frames of one known
 *   video, which become one list entry (algorithm `vpdq`). A line `# video: NAME` starts another
 *   video named NAME (the entry's external id), so one stream can carry many; without it the whole
 *   file is one video, named by whoever reads it (`ImportListOptions.videoName`: the CLI gives the
 *   file name).
 * Blank lines and lines starting with `#` are skipped in every format.
 */
export const LIST_FORMATS = ['csv', 'md5-lines', 'pdq-csv', 'jsonl', 'vpdq'] as const
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
  /** A video entry's frames (algorithm `vpdq`); `hex` is then the SHA-256 of `frames` and `qualities`. */
  readonly video?: VideoFrames
}

/** The frames of a known video: `frames` n x 32 bytes of PDQ, `qualities` n bytes, `timestamps` n seconds. */
export interface VideoFrames {
  readonly frames: Uint8Array
  readonly qualities: Uint8Array
  readonly timestamps: readonly number[]
}

export type ParsedLine = ListRow | { readonly error: string } | undefined

/** Parses one line at a time; keeps the header state of formats that have one. */
export interface LineParser {
  /** A row, a reason the line is bad, or undefined for a line that holds no row (blank, comment, header). */
  parse(line: string, lineNo: number): ParsedLine
  /**
   * Throws when the file ended without what the format requires (the CSV header); returns the row
   * a format completes only at the end (the last video of a vPDQ file).
   */
  finish(): ParsedLine | void
}

export function createLineParser(format: ListFormat, options: { videoName?: string } = {}): LineParser {
  switch (format) {
    case 'csv': return new CsvParser()
    case 'md5-lines': return md5LinesParser
    case 'pdq-csv': return new PdqCsvParser()
    case 'jsonl': return jsonlParser
    case 'vpdq': return new VpdqParser(options.videoName ?? null)
  }
}

const NOT_VPDQ = { error: 'vpdq entries are the frames of a video: import them with --format vpdq' }

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
    if (algorithm === 'vpdq') return NOT_VPDQ
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
    if (algorithm === 'vpdq') return NOT_VPDQ
    if (typeof o.hash !== 'string') return { error: 'hash must be a string' }
    return row(algorithm, o.hash, o.category, o.external_id ?? o.externalId, o.quality)
  },
  finish() {},
}

/**
 * vPDQ's text output: frames accumulate until the video ends (a `# video: NAME` line or the end of
 * the stream) and become one row. A bad frame line is reported on its own line and left out.
 */
class VpdqParser implements LineParser {
  #name: string | null
  #frames: Uint8Array[] = []
  #qualities: number[] = []
  #timestamps: number[] = []

  constructor(name: string | null) {
    this.#name = name
  }

  parse(line: string): ParsedLine {
    const t = line.trim()
    const header = /^#\s*video:\s*(.*)$/i.exec(t)
    if (header) {
      const done = this.#take()
      this.#name = header[1]!.trim() || null
      return done
    }
    if (skip(line)) return undefined
    const fields = t.split(',').map((f) => f.trim())
    if (fields.length < 4) return { error: 'vpdq lines are "frame_number,quality,pdq_hex,timestamp"' }
    // vPDQ's C++ tool writes the quality second; its Python binding prints the hash second.
    const hashAt = /^[0-9a-fA-F]{64}$/.test(fields[1]!) ? 1 : 2
    const hash = normaliseHash('pdq', fields[hashAt]!)
    if ('error' in hash) return { error: hash.error }
    const quality = Number(fields[hashAt === 1 ? 2 : 1])
    if (!Number.isInteger(quality) || quality < 0 || quality > 100) return { error: `quality must be an integer 0..100, got "${fields[hashAt === 1 ? 2 : 1]!.slice(0, 20)}"` }
    const timestamp = Number(fields[3])
    if (!Number.isFinite(timestamp) || timestamp < 0) return { error: `timestamp must be seconds >= 0, got "${fields[3]!.slice(0, 20)}"` }
    this.#frames.push(Buffer.from(hash.hex, 'hex'))
    this.#qualities.push(quality)
    this.#timestamps.push(timestamp)
    return undefined
  }

  finish(): ParsedLine {
    return this.#take()
  }

  /** The video read so far as one row (undefined when it has no frame). */
  #take(): ParsedLine {
    if (this.#frames.length === 0) return undefined
    const frames = Buffer.concat(this.#frames)
    const qualities = Uint8Array.from(this.#qualities)
    const timestamps = this.#timestamps
    this.#frames = []
    this.#qualities = []
    this.#timestamps = []
    const hex = createHash('sha256').update(frames).update(qualities).digest('hex')
    return { algorithm: 'vpdq', hex, category: null, externalId: this.#name, quality: null, video: { frames, qualities, timestamps } }
  }
}
