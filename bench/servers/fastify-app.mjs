// The baseline of the cold-start and idle-connection figures: a bare Fastify app with
// @fastify/websocket (a /ready route, a /ws that echoes JSON), nothing else. Plain JavaScript run
// by plain node, as the bridge's dist/ is. `--port N` (0: any); prints {"port":N} on stdout.
import Fastify from 'fastify'
import websocket from '@fastify/websocket'

const arg = process.argv.indexOf('--port')
const port = arg > 0 ? Number(process.argv[arg + 1]) : 0
const app = Fastify()
await app.register(websocket)
app.get('/ready', async () => ({ ready: true }))
app.get('/ws', { websocket: true }, (socket) => {
  socket.on('message', (raw) => socket.send(JSON.stringify(JSON.parse(String(raw)))))
})
await app.listen({ host: '127.0.0.1', port })
process.stdout.write(`${JSON.stringify({ port: app.server.address().port })}\n`)
process.on('SIGTERM', () => app.close().then(() => process.exit(0)))
// SIGUSR2: a full GC (under --expose-gc) and the process's memory as a JSON line on stdout.
process.on('SIGUSR2', () => {
  globalThis.gc?.()
  process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`)
})
