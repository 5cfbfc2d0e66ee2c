/**
 * Run as a child process by redaction.test.ts: writes argv[3] lines through createLogger() to
 * stderr (not a terminal: JSON lines, written asynchronously), then ends as argv[2] says:
 * "exit" (process.exit at once) or "fatal" (an uncaught exception, handled as `serve` does).
 */
import { createLogger, flushLogSync } from '../../src/log.js'

const [end, count] = process.argv.slice(2)
const log = createLogger({ level: 'info', pretty: false })
for (let i = 0; i < Number(count); i++) log.info({ i }, 'line')
if (end === 'exit') process.exit(0)
process.on('uncaughtException', (err) => {
  log.fatal({ err: { message: err.message } }, 'fatal')
  flushLogSync(log)
  process.exit(1)
})
setImmediate(() => {
  throw new Error('boom')
})
