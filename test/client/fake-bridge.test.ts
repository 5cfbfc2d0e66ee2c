/**
 * The client against a scripted bridge (a `ws` server), for what the real one cannot show on
 * demand: pairing (`token`, `pair`, `authenticate` — the pairing branch's commands, sent first on
 * every connection and reconnection) and the journal's verdicts on a payment in flight after a
 * reconnection — `interrupted` (a restart) and `unknown` (it never arrived) — which reject with
 * codes and never send the payment again.
 */
import t, { type Test } from 'tap'
import WebSocket, { WebSocketServer } from 'ws'
import { connect } from '../../src/client/index.js'
import { until } from '../server/helpers.js'

type Msg = Record<string, any>
type Handler = (m: Msg, reply: (fields: Msg) => void) => void

interface Fake {
  url: string
  /** Every message, by connection (in order). */
  connections: Msg[][]
  dropAll(): void
}

async function fakeBridge(t: Test, handle: Handler): Promise<Fake> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'mpos-bridge' })
  await new Promise<void>((r) => wss.once('listening', () => r()))
  const connections: Msg[][] = []
  wss.on('connection', (ws) => {
    const seen: Msg[] = []
    connections.push(seen)
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Msg
      seen.push(m)
      handle(m, (fields) => ws.send(JSON.stringify({ command: m.command, context: m.context, command_id: m.command_id, ...fields })))
    })
  })
  t.teardown(() => new Promise<void>((r) => {
    for (const c of wss.clients) c.terminate()
    wss.close(() => r())
  }))
  return {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/ws`,
    connections,
    dropAll: () => {
      for (const c of wss.clients) c.terminate()
    },
  }
}

/** A bridge that knows pairing: `pair` with 123456 gives a token; `authenticate` takes the tokens it gave. */
function pairingHandler(tokens: Set<string>): Handler {
  return (m, reply) => {
    if (m.command === 'pair') {
      if (m.code !== '123456') return reply({ success: false, error: 'wrong code', code: 'MPOS_ERR_PAIRING_CODE' })
      tokens.add('tok-paired')
      return reply({ success: true, response: { token: 'tok-paired', origin: 'http://localhost:3000' } })
    }
    if (m.command === 'authenticate') return tokens.has(m.token) ? reply({ success: true }) : reply({ success: false, error: 'not paired', code: 'MPOS_ERR_NOT_PAIRED' })
    if (m.command === 'status') return reply({ success: true, response: { status: 'idle' } })
  }
}

t.test('token: authenticate goes first on every connection and reconnection', async (t) => {
  const fake = await fakeBridge(t, pairingHandler(new Set(['tok-1'])))
  const bridge = await connect({ url: fake.url, WebSocket, context: 'till', token: 'tok-1', reconnect: { initialDelay: 10, maxDelay: 20 } })
  t.teardown(() => bridge.disconnect())
  t.match(fake.connections[0]![0], { command: 'authenticate', token: 'tok-1', context: 'till', command_id: /.+/ })
  fake.dropAll()
  await until(() => fake.connections.length === 2 && bridge.state === 'open', 'reconnected')
  t.match(fake.connections[1]![0], { command: 'authenticate', token: 'tok-1' }, 'again first after the reconnection')
  t.match(await bridge.status(), { status: 'idle' })
})

t.test('pair(code) resolves with the token; reconnections authenticate with it', async (t) => {
  const fake = await fakeBridge(t, pairingHandler(new Set()))
  const bridge = await connect({ url: fake.url, WebSocket, context: 'till', reconnect: { initialDelay: 10, maxDelay: 20 } })
  t.teardown(() => bridge.disconnect())
  t.equal(fake.connections[0]!.filter((m) => m.command === 'authenticate').length, 0, 'no token, no authenticate')
  t.match(await bridge.pair('000000').catch((e: unknown) => e), { code: 'MPOS_ERR_PAIRING_CODE', command: 'pair' })
  t.same(await bridge.pair('123456'), { token: 'tok-paired', origin: 'http://localhost:3000' })
  t.match(fake.connections[0]!.filter((m) => m.command === 'pair').at(-1), { command: 'pair', code: '123456', context: 'till' })
  fake.dropAll()
  await until(() => fake.connections.length === 2 && bridge.state === 'open', 'reconnected')
  t.match(fake.connections[1]![0], { command: 'authenticate', token: 'tok-paired' })
})

t.test('authenticate(token) and a refused token', async (t) => {
  const fake = await fakeBridge(t, pairingHandler(new Set(['tok-1'])))
  const bridge = await connect({ url: fake.url, WebSocket, context: 'till' })
  t.teardown(() => bridge.disconnect())
  t.equal(await bridge.authenticate('tok-1'), undefined)
  t.match(await bridge.authenticate('tok-2').catch((e: unknown) => e), { code: 'MPOS_ERR_NOT_PAIRED', command: 'authenticate' })
  const refused = await connect({ url: fake.url, WebSocket, context: 'till', token: 'revoked' }).catch((e: unknown) => e)
  t.match(refused, { name: 'BridgeError', code: 'MPOS_ERR_NOT_PAIRED', command: 'authenticate' }, 'connect rejects with the bridge code')
})

t.test('after a reconnection, a payment the journal calls interrupted or unknown rejects, and is never sent again', async (t) => {
  const verdicts: Record<string, string> = { 'pay-interrupted': 'interrupted', 'pay-unknown': 'unknown', 'fin-done': 'done' }
  const fake = await fakeBridge(t, (m, reply) => {
    if (m.command === 'status') return reply({ success: true, response: { status: 'initialized' } })
    if (m.command === 'get_result') {
      const id = m.target_command_id as string
      const answer = { command: 'finish_payment', context: 'till', command_id: id, success: true, response: { approved: true }, replayed: true }
      return reply({ success: true, response: { target_command_id: id, state: verdicts[id], command: 'x', ...(verdicts[id] === 'done' ? { answer } : {}) } })
    }
    // Money commands: no answer before the connection drops.
  })
  const bridge = await connect({ url: fake.url, WebSocket, context: 'till', reconnect: { initialDelay: 10, maxDelay: 20 } })
  t.teardown(() => bridge.disconnect())
  const interrupted = bridge.processPayment({ amount: 100, commandId: 'pay-interrupted' }).catch((e: unknown) => e)
  const unknown = bridge.processPayment({ amount: 200, commandId: 'pay-unknown' }).catch((e: unknown) => e)
  const finished = bridge.finishPayment({ success: true }, { commandId: 'fin-done' })
  const menu = bridge.pinpadMenu({ options: ['A'] }).catch((e: unknown) => e)
  await until(() => fake.connections[0]!.length === 5, 'all sent')
  fake.dropAll()

  t.match(await interrupted, { code: 'MPOS_ERR_COMMAND_INTERRUPTED', command: 'process_payment', commandId: 'pay-interrupted' })
  t.match(await unknown, { code: 'MPOS_ERR_CONNECTION_LOST', command: 'process_payment', commandId: 'pay-unknown', message: /nothing ran/ })
  t.same(await finished, { approved: true }, 'a finish answered meanwhile resolves from the journal')
  t.match(await menu, { code: 'MPOS_ERR_CONNECTION_LOST', command: 'pinpad_menu' }, 'a prompt is not journaled: lost')
  const all = fake.connections.flat()
  t.equal(all.filter((m) => m.command === 'process_payment').length, 2, 'each payment sent once, never again')
  t.same(fake.connections[1]!.filter((m) => m.command === 'get_result').map((m) => m.target_command_id).sort(), ['fin-done', 'pay-interrupted', 'pay-unknown'], 'asked the journal about each')
  t.equal(fake.connections[1]![0]!.command, 'status', 're-attached to the context first')
})
