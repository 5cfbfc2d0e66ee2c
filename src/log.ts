/**
 * Logging with pino: pretty on a terminal, JSON lines otherwise. Card data never reaches a log
 * by design (nothing logs it); the redaction list is a second line of defence.
 */
import pino, { type Logger, type LevelWithSilent } from 'pino'

export type { Logger }

/** Field names that could carry card data if someone ever logged a raw object. */
export const REDACTED_PATHS = [
  '*.pan',
  '*.card_number',
  '*.cardNumber',
  '*.track1',
  '*.track2',
  '*.track3',
  '*.card_track_1',
  '*.card_track_2',
  '*.card_track_3',
  '*.pinBlock',
  '*.card_pin',
  '*.card_hash',
  '*.cardHash',
  '*.encryption_key',
  '*.encryptionKey',
  '*.emvData',
  'card_hash',
  'encryption_key',
]

export interface LogOptions {
  level?: LevelWithSilent
  /** Force pretty or JSON output; default: pretty when stderr is a terminal. */
  pretty?: boolean
  name?: string
}

export function createLogger(options: LogOptions = {}): Logger {
  const pretty = options.pretty ?? Boolean(process.stderr.isTTY)
  return pino(
    {
      name: options.name ?? 'mpos-bridge',
      level: options.level ?? 'info',
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      ...(pretty
        ? { transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
        : {}),
    },
    pretty ? undefined : pino.destination(2),
  )
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = pino({ level: 'silent' })
