// The baseline of the `status` figures: a bare `ws` server that parses each JSON message and sends
// it back serialized. Plain JavaScript run by plain node. `--port N` (0: any); prints {"port":N}.
import { WebSocketServer } from 'ws'

const arg = process.argv.indexOf('--port')
const wss = new WebSocketServer({ host: '127.0.0.1', port: arg > 0 ? Number(process.argv[arg + 1]) : 0 })
wss.on('connection', (socket) => {
  socket.on('message', (raw) => socket.send(JSON.stringify(JSON.parse(String(raw)))))
})
wss.on('listening', () => process.stdout.write(`${JSON.stringify({ port: wss.address().port })}\n`))
process.on('SIGTERM', () => wss.close(() => process.exit(0)))
// SIGUSR2: a full GC (under --expose-gc) and the process's memory as a JSON line on stdout.
process.on('SIGUSR2', () => {
  globalThis.gc?.()
  process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`)
})
