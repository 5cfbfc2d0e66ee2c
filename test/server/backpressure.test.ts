/**
 * Fairness between connections: a client that floods without reading its answers is cut off
 * (1008, a reason, a log line) before it can cost more than its outbound buffer; one that sends
 * faster than the rate limit gets MPOS_ERR_RATE_LIMITED for the excess — one answer each — and
 * everyone else keeps being served.
 */
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { TokenBucket } from '../../src/server/connection.js'
import { Client, memoryLogger, startBridge, until } from './helpers.js'

t.test('the token bucket: a burst, then the sustained rate', async (t) => {
  let now = 0
  const bucket = new TokenBucket(50, 100, () => now)
  let taken = 0
  while (bucket.take()) taken++
  t.equal(taken, 100, 'a burst of 100')
  t.notOk(bucket.take(), 'then nothing')
  now += 100
  t.equal([1, 2, 3, 4, 5, 6].filter(() => bucket.take()).length, 5, '100 ms later: 5 more (50 per second)')
  now += 60_000
  taken = 0
  while (bucket.take()) taken++
  t.equal(taken, 100, 'a long pause refills to the burst, no more')
})

t.test('more than the rate: the excess is refused with MPOS_ERR_RATE_LIMITED, one answer per message', async (t) => {
  const rig = await startBridge(t, { limits: { messagesPerSecond: 20, burst: 30 } })
  const ws = await Client.open(t, rig.wsUrl)
  const other = await Client.open(t, rig.wsUrl)
  for (let i = 0; i < 200; i++) ws.sendRaw(JSON.stringify({ command: 'status', command_id: i }))
  await until(() => ws.messages.filter((m) => m.event === undefined).length === 200, '200 answers')
  const answers = ws.messages.filter((m) => m.event === undefined)
  const limited = answers.filter((m) => m.code === 'MPOS_ERR_RATE_LIMITED')
  t.ok(limited.length >= 150, `${limited.length} of 200 refused`)
  t.match(limited[0], { success: false, context: 'default', error: /More than 20 messages per second/ })
  t.equal(answers.length - limited.length + limited.length, 200, 'one answer each')
  t.match(await other.request({ command: 'status' }), { success: true }, 'another connection is not affected')
  await new Promise((r) => setTimeout(r, 1100))
  t.match(await ws.request({ command: 'status' }), { success: true }, 'after a pause the same connection is served again')
})

/** A raw client whose socket stops reading: the kernel buffers fill, then the bridge's. */
async function nonReader(t: Test, url: string) {
  const ws = new WebSocket(url)
  t.teardown(() => ws.terminate())
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  const socket = (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
  socket.pause()
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  return { ws, closed, resume: () => socket.resume() }
}

const send = (ws: WebSocket, data: string) => new Promise<void>((resolve) => ws.send(data, () => resolve()))

t.test('a client that does not read its answers is cut off with 1008 once they pile up', async (t) => {
  const { logger, lines } = memoryLogger('warn')
  const rig = await startBridge(t, { logger, limits: { messagesPerSecond: 1e9, burst: 1e9, maxBufferedBytes: 256 * 1024 } })
  const other = await Client.open(t, rig.wsUrl)
  const flooder = await nonReader(t, rig.wsUrl)
  // Small requests, larger answers: what piles up is the bridge's output.
  let sent = 0
  while (rig.server.runtime.sessionCount === 2 && sent < 500_000) {
    await send(flooder.ws, '{"command":"list_devices"}')
    if (++sent % 500 === 0) await new Promise((r) => setImmediate(r))
  }
  t.equal(rig.server.runtime.sessionCount, 1, `cut off after ${sent} unread answers`)
  flooder.resume()
  // It reads again: the answers queued before the close frame come first, and the socket was
  // dropped a second after the close (a client that does not read cannot be told): 1008 or 1006.
  t.match(await flooder.closed, { code: /^(1008|1006)$/ }, 'closed')
  t.ok(lines().some((l) => /does not read/.test(String(l.msg))), 'the reason is logged')
  t.ok(lines().some((l) => l.level === 40 && /connection cut off/.test(String(l.msg))), 'and a log line')
  t.match(await other.request({ command: 'status' }), { success: true }, 'another connection is served throughout')
})

t.test('a client flooding 60 KB bad requests without reading is cut off; the bridge barely notices', async (t) => {
  const { logger, lines } = memoryLogger('warn')
  const rig = await startBridge(t, { logger })
  const other = await Client.open(t, rig.wsUrl)
  const flooder = await nonReader(t, rig.wsUrl)
  const bad = JSON.stringify({ command: 'status', context: 'c'.repeat(4000), padding: Array.from({ length: 14 }, () => 'x'.repeat(4000)) })
  const before = process.memoryUsage().rss
  let sent = 0
  while (rig.server.runtime.sessionCount === 2 && sent < 20_000) {
    await send(flooder.ws, bad)
    if (++sent % 100 === 0) await new Promise((r) => setImmediate(r))
  }
  const grown = (process.memoryUsage().rss - before) / 1024 / 1024
  t.equal(rig.server.runtime.sessionCount, 1, `cut off after ${sent} messages of ${bad.length} bytes`)
  t.ok(grown < 100, `the process grew ${grown.toFixed(1)} MB meanwhile`)
  flooder.resume()
  t.match(await flooder.closed, { code: /^(1008|1006)$/ }, 'closed')
  t.ok(lines().some((l) => /far over the rate limit/.test(String(l.msg))), 'the reason is logged')
  t.ok(lines().some((l) => l.level === 40 && /connection cut off/.test(String(l.msg))), 'a log line says why')
  t.match(await other.request({ command: 'status' }), { success: true }, 'another connection is served throughout')
})
