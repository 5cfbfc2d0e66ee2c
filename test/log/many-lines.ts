/**
 * Run as a child process by redaction.test.ts: writes argv[3] lines through createLogger() to
 * stderr (not a terminal: JSON lines, written asynchronously), then ends as argv[2] says:
 * "exit" (process.exit at once), "fatal" (an uncaught exception, handled as `serve` does) or
 * "stay" (runs on, logging nothing, until its stdin closes).
 */
import { createLogger, flushLogSync } from '../../src/log.js'

const [end, count] = process.argv.slice(2)
const log = createLogger({ level: 'info', pretty: false })
for (let i = 0; i < Number(count); i++) log.info({ i }, 'line')
if (end === 'exit') process.exit(0)
// "stay": alive (logging nothing more) until stdin closes; the lines must not wait for the exit.
if (end === 'stay') process.stdin.on('end', () => process.exit(0)).resume()
if (end === 'fatal') {
  process.on('uncaughtException', (err) => {
    log.fatal({ err: { message: err.message } }, 'fatal')
    flushLogSync(log)
    process.exit(1)
  })
  setImmediate(() => {
    throw new Error('boom')
  })
}
