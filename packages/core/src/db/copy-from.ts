import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'

/** Bulk loading: the part of Postgres' COPY we use. */
export type CopyFrom = (statement: string, rows: Iterable<string>) => Promise<void>

/**
 * `COPY ... FROM STDIN` on a pooled connection (node-postgres + pg-copy-streams): rows are lines in
 * COPY's text format, streamed, so a large list never sits in memory as one string.
 */
export function poolCopyFrom(pool: pg.Pool): CopyFrom {
  return async (statement, rows) => {
    const client = await pool.connect()
    try {
      await pipeline(Readable.from(rows, { objectMode: false }), client.query(copyFrom(statement)))
    } finally {
      client.release()
    }
  }
}

/** One field in COPY text format: backslash, tab and line breaks escaped, null as \N. */
export function copyField(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '\\N'
  return String(value).replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!)
}
