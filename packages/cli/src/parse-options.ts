import { ConfigError, parseAddressRange } from '@arachnid/core'

/**
 * Parsers for command-line values, for commander's `.option(flag, text, parser)`. A bad value
 * throws a ConfigError, which main.ts prints as one line naming the flag, the value and what is
 * allowed (exit code 2).
 */

/** An integer from min to max, e.g. `integer('--max-pages', 1, 1e8)`. */
export function integer(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(`${flag} ${JSON.stringify(value)}: expected an integer from ${min} to ${max}`)
    return n
  }
}

/** A number (fractions allowed) from min to max. */
export function decimal(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const n = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(value.trim()) ? Number(value) : Number.NaN
    if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(`${flag} ${JSON.stringify(value)}: expected a number from ${min} to ${max}`)
    return n
  }
}

/** A TCP port to listen on; 0 picks a free one. */
export function port(flag: string): (value: string) => number {
  return integer(flag, 0, 65_535)
}

/** A PDQ or blockhash distance threshold (of 256 bits). */
export function threshold(flag: string): (value: string) => number {
  return integer(flag, 0, 256)
}

/** One of the given words. */
export function choice<T extends string>(flag: string, values: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(values as readonly string[]).includes(value)) throw new ConfigError(`${flag} ${JSON.stringify(value)}: expected one of ${values.join(', ')}`)
    return value as T
  }
}

/** A repeatable (or variadic) address-or-CIDR option: each value checked, all collected. */
export function addressRange(flag: string): (value: string, previous: string[] | undefined) => string[] {
  return (value, previous) => {
    parseAddressRange(value, flag)
    return [...(previous ?? []), value]
  }
}

/** A non-empty text (names, addresses). */
export function text(flag: string): (value: string) => string {
  return (value) => {
    if (value.trim() === '') throw new ConfigError(`${flag}: expected a non-empty value`)
    return value.trim()
  }
}

/** Warns (one line on stderr) about a distance threshold that is allowed but matches unrelated images. */
export function warnLargeThreshold(flag: string, value: number | undefined): void {
  if (value !== undefined && value > 64) process.stderr.write(`arachnid: warning: ${flag} ${value} is above 64: distances that large match unrelated images\n`)
}
