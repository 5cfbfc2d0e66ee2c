/**
 * Run as a child process by capture.test.ts: logs through every kind of logger src/log.ts makes,
 * then ends as argv[2] says: "natural" (the event loop empties), "exit" (process.exit at once),
 * "kill" (SIGKILL at once). argv[3] "pretty" makes createLogger pretty.
 */
import { createLogger, silentLogger } from '../../src/log.js'

const [end, pretty] = process.argv.slice(2)
const log = createLogger({ level: 'info', pretty: pretty === 'pretty' })
log.trace('real trace')
log.debug('real debug')
log.info({ n: 1 }, 'real info')
log.warn({ card: { pan: 'PAN-VALUE', track2: 'TRACK-VALUE' }, card_hash: 'HASH-VALUE', pinBlock: 'PIN-VALUE' }, 'real warn redacted')
log.child({ component: 'child' }).trace('child trace')
log.child({ component: 'child' }).info('child info')
silentLogger.trace('silent trace')
silentLogger.error('silent error')
silentLogger.child({ component: 'quiet' }).debug({ card: { cardNumber: 'PAN-VALUE' } }, 'silent child debug')
createLogger({ level: 'silent', name: 'muted' }).error('muted error')
for (let i = 0; i < 200; i++) log.trace({ i }, 'burst')
if (end === 'exit') process.exit(3)
if (end === 'kill') process.kill(process.pid, 'SIGKILL')
