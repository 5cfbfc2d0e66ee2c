// The bridge as the figures of `npm run bench` measure it: compiled (dist/), in its own process,
// with its real logger (JSON lines to stderr, which the bench discards) and the embedded sandbox.
// The per-connection rate limit is lifted: at 50 messages per second it, not the bridge, would be
// what the throughput figure measures. Plain JavaScript, run by plain node.
//   --port N (0: any)   --data-dir DIR   --serial PATH (and no virtual pinpad)   --zero-delays
// Prints {"port":N} on stdout once listening.
import { parseArgs } from 'node:util'
import { createBridgeServer } from '../../dist/src/server/app.js'
import { createLogger } from '../../dist/src/log.js'

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'data-dir': { type: 'string' },
    serial: { type: 'string' },
    baud: { type: 'string', default: '19200' },
    'zero-delays': { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'info' },
  },
})
const logger = createLogger({ level: values['log-level'], pretty: false })
const server = await createBridgeServer({
  host: '127.0.0.1',
  port: Number(values.port),
  dataDir: values['data-dir'],
  simulator: values.serial === undefined,
  serialPaths: values.serial ? [values.serial] : [],
  discovery: false,
  logger,
  limits: { messagesPerSecond: 1e9, burst: 1e9 },
  runtime: {
    baudRate: Number(values.baud),
    ...(values['zero-delays'] ? { simulator: { cardholder: { presentAfterMs: 0, pinAfterMs: 0, removeAfterMs: 0 } } } : {}),
  },
})
process.stdout.write(`${JSON.stringify({ port: Number(new URL(server.url).port) })}\n`)
process.on('SIGTERM', () => server.close().then(() => process.exit(0)))
// SIGUSR2: a full GC (under --expose-gc) and the process's memory as a JSON line on stdout.
process.on('SIGUSR2', () => {
  globalThis.gc?.()
  process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`)
})
