import { pino, type DestinationStream, type Logger } from 'pino'
import { SETTINGS } from './config.js'

export type { Logger }

/**
 * The logger takes its output as a parameter so tests can read what was written.
 * Default: stderr, so stdout stays for command output (JSON lines, tables); level: LOG_LEVEL's default.
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino({ level: options.level ?? SETTINGS.logLevel.default, base: undefined }, options.destination ?? pino.destination(2))
}
