/**
 * Logging with pino: pretty on a terminal, JSON lines otherwise. Card data never reaches a log
 * by design (nothing logs it); the redaction list is a second line of defence.
 *
 * The JSON lines go to stderr buffered (pino's sonic-boom): one synchronous write per 4 KiB or
 * 50 ms after a line, and what is left at exit — and before a fatal exit, flushLogSync(). Not through
 * libuv's thread pool: an asynchronous write still under way when the process exits could be
 * overtaken by the exit's synchronous flush (lines out of order) or never happen (lines lost).
 *
 * Log capture (tests, audits): with MPOS_BRIDGE_LOG_CAPTURE=<dir> set, every logger made here —
 * createLogger(), silentLogger and their children — also writes every line at trace level, with
 * the same redaction and serialization as the real output, to `<dir>/<pid>.ndjson` (one file per
 * process, synchronous writes, so nothing is lost when the process exits). The real output keeps
 * its own level. `npm test` captures the whole suite and scans it for card data (test/log-scan/).
 */
import path from 'node:path'
import pino, { type DestinationStream, type Logger, type LevelWithSilent, type LoggerOptions } from 'pino'
import { systemClock, type Clock, type Timer } from './clock.js'

export type { Logger }

/** Field names that could carry card data (or a customer's typed data) if someone ever logged a raw object. */
export const CARD_DATA_FIELDS = [
  'pan',
  'card_number',
  'cardNumber',
  'track1',
  'track2',
  'track3',
  'card_track_1',
  'card_track_2',
  'card_track_3',
  'pinBlock',
  'card_pin',
  'card_hash',
  'cardHash',
  'encryption_key',
  'encryptionKey',
  'emvData',
  // What a customer types on the keypad for pinpad_input (GCD's PP_VALUE, §3.3.8): a CPF, a phone.
  'PP_VALUE',
  'typedValue',
]

/** The keys under which a log line may carry an object that holds card data (`{ card: { pan } }`). */
export const CARD_DATA_CONTAINERS = ['card', 'request', 'response', 'result', 'answer', 'payment', 'fields', 'data', 'body', 'params', 'event', 'reply']

/**
 * Each field at the top level of a log line and under each container: explicit paths, which pino
 * checks with a few property reads, where `*.field` wildcards walked every key of every line
 * (ten times the cost of writing a line).
 */
export const REDACTED_PATHS = [...CARD_DATA_FIELDS, ...CARD_DATA_CONTAINERS.flatMap((container) => CARD_DATA_FIELDS.map((field) => `${container}.${field}`))]

/** The environment variable naming the capture directory. */
export const LOG_CAPTURE_ENV = 'MPOS_BRIDGE_LOG_CAPTURE'

export interface LogOptions {
  level?: LevelWithSilent
  /** Force pretty or JSON output; default: pretty when stderr is a terminal. */
  pretty?: boolean
  name?: string
  /** Where the JSON lines go instead of stderr (tests); `pretty` is then ignored. */
  destination?: DestinationStream
}

const baseOptions = (name: string | undefined): LoggerOptions => ({
  name: name ?? 'mpos-bridge',
  redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
})

const PRETTY_OPTIONS = { destination: 2, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }

let capture: { pid: number; stream: DestinationStream } | undefined

/** This process's capture file (opened once, shared by every logger), or undefined when capture is off. */
function logCaptureStream(): DestinationStream | undefined {
  const dir = process.env[LOG_CAPTURE_ENV]
  if (!dir) return undefined
  if (capture?.pid !== process.pid) {
    const dest = path.join(path.resolve(dir), `${process.pid}.ndjson`)
    capture = { pid: process.pid, stream: pino.destination({ dest, sync: true, append: true, mkdir: true }) }
  }
  return capture.stream
}

/**
 * With capture on: a logger at trace level (so `logger.level` says "trace") whose lines go to
 * `real` at `level` (nowhere when `real` is undefined) and to the capture file at every level,
 * through pino.multistream: both get the same serialized, redacted line.
 */
function capturing(options: LoggerOptions, level: LevelWithSilent, real: DestinationStream | undefined, captured: DestinationStream): Logger {
  const streams: pino.StreamEntry[] = [{ level: 'trace', stream: captured }]
  if (real && level !== 'silent') streams.push({ level, stream: real })
  return pino({ ...options, level: 'trace' }, pino.multistream(streams))
}

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? 'info'
  const pretty = options.destination === undefined && (options.pretty ?? Boolean(process.stderr.isTTY))
  const captured = logCaptureStream()
  if (captured) {
    const real = level === 'silent' ? undefined : (options.destination ?? (pretty ? pino.transport({ target: 'pino-pretty', options: PRETTY_OPTIONS }) : stderrDestination()))
    return capturing(baseOptions(options.name), level, real, captured)
  }
  return pino(
    {
      ...baseOptions(options.name),
      level,
      ...(pretty ? { transport: { target: 'pino-pretty', options: PRETTY_OPTIONS } } : {}),
    },
    options.destination ?? (pretty ? undefined : stderrDestination()),
  )
}

/** How long a buffered line may wait for more before it is written. */
export const LOG_FLUSH_MS = 50

/** What flushAfterLines() needs of a buffered destination (sonic-boom's methods). */
export interface BufferedDestination {
  write(line: string): unknown
  flush(): void
  flushSync(): void
}

/**
 * A buffered destination written out `ms` after the first line since the last flush. sonic-boom's
 * own `periodicFlush` writes on a timer whether or not anything is buffered: a zero-length write(2)
 * twenty times a second for as long as the bridge idles beside the till.
 */
export function flushAfterLines(dest: BufferedDestination, ms = LOG_FLUSH_MS, clock: Clock = systemClock): DestinationStream & { flush(cb?: (err?: Error) => void): void; flushSync(): void } {
  let armed: Timer | undefined
  const disarm = () => {
    clock.clearTimeout(armed)
    armed = undefined
  }
  return {
    write(line: string) {
      dest.write(line)
      armed ??= clock
        .setTimeout(() => {
          armed = undefined
          try {
            dest.flush()
          } catch {
            // stderr gone: the lines are lost, the bridge goes on.
          }
        }, ms)
        .unref()
    },
    /** pino's logger.flush(): written now (sync mode), the pending flush disarmed. */
    flush(cb?: (err?: Error) => void) {
      disarm()
      try {
        dest.flush()
      } catch (err) {
        return cb?.(err as Error)
      }
      cb?.()
    },
    flushSync() {
      disarm()
      dest.flushSync()
    },
  }
}

/** stderr, one per process (every logger shares it): see the header. */
let stderr: (pino.DestinationStream & { flushSync(): void }) | undefined
function stderrDestination(): pino.DestinationStream {
  if (stderr) return stderr
  const dest = flushAfterLines(pino.destination({ dest: 2, sync: true, minLength: 4096 }))
  // pino flushes at exit only the asynchronous kind.
  process.once('exit', () => {
    try {
      dest.flushSync()
    } catch {
      // stderr gone: nothing more can be done.
    }
  })
  return (stderr = dest)
}

/** Writes out what a logger still holds (before process.exit on a fatal error): synchronous. */
export function flushLogSync(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { flushSync?: () => void } | undefined
  try {
    stream?.flushSync?.()
  } catch {
    // Nothing buffered yet (sonic-boom not ready) or stderr gone: nothing more can be done.
  }
}

/** A logger that drops everything (tests, library use); with capture on, it still writes the capture file. */
export const silentLogger: Logger = ((): Logger => {
  const captured = logCaptureStream()
  return captured ? capturing(baseOptions(undefined), 'silent', undefined, captured) : pino({ level: 'silent' })
})()
