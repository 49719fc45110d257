import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

/**
 * The logger takes its output as a parameter so tests can read what was written.
 * Default: stderr, so stdout stays for command output (JSON lines, tables).
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino({ level: options.level ?? 'info', base: undefined }, options.destination ?? pino.destination(2))
}
