/**
 * The browser client (`mpos-bridge/client`, src/client/index.ts) in Node over a real WebSocket
 * (`ws`) against a real bridge: calls correlated by command_id, answers as the bridge sends them,
 * errors as BridgeError with codes, events, per-call timeouts; the connection dropped mid-payment
 * and the payment recovered through the journal — answered while the client was away or still
 * running — with the pinpad asked for one payment only.
 */
import t, { type Test } from 'tap'
import { readFile } from 'node:fs/promises'
import WebSocket from 'ws'
import { connect, BridgeError, type Bridge, type ConnectionEvent, type ConnectOptions, type PinpadMessageEvent, type StatusEvent } from '../../src/client/index.js'
import { EK, recordLink, startBridge, type Rig } from '../server/helpers.js'

/** Nobody at the pinpad acts unless the test says so. */
const manual = { runtime: { virtualPinpads: 1, simulator: { cardholder: { autoCard: null, autoPin: null, presentAfterMs: 20, pinAfterMs: 20, removeAfterMs: 20 } } } }

async function open(t: Test, rig: Rig, options: Partial<ConnectOptions> = {}): Promise<Bridge> {
  const bridge = await connect({ url: rig.wsUrl, WebSocket, context: 'till-1', ...options })
  t.teardown(() => bridge.disconnect())
  return bridge
}

/** Drops every connection from the bridge's side (a cable pulled, a proxy restarted). */
function dropConnections(rig: Rig): void {
  for (const s of rig.server.app.websocketServer.clients) s.terminate()
}

/** A WebSocket whose connections the test can refuse for a while (the bridge unreachable). */
function gatedWebSocket(deadUrl: string) {
  const gate = { blocked: false, opened: 0 }
  class Gated extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(gate.blocked ? deadUrl : url, protocols)
      if (!gate.blocked) gate.opened++
    }
  }
  return { gate, WebSocket: Gated }
}

const commandsSent = (events: ReturnType<typeof recordLink>, id: string) => events.filter((e) => e.type === 'command' && e.id === id).length

t.test('a payment end to end: answers as the bridge sends them, each call its own command_id', async (t) => {
  const rig = await startBridge(t)
  const bridge = await open(t, rig)
  const seen: Array<StatusEvent | PinpadMessageEvent> = []
  bridge.on('status', (e) => seen.push(e))
  bridge.on('pinpad_message', (e) => seen.push(e))

  // Concurrent calls resolve with their own answers.
  const [devices, status, result] = await Promise.all([bridge.listDevices(), bridge.status(), bridge.getResult('never-sent')])
  t.match(devices, [{ id: 1, kind: 'virtual', manufacturer: 'Gertec' }, { id: 2, kind: 'virtual' }])
  t.match(status, { status: 'idle', devices_available: 2 })
  t.same(result, { target_command_id: 'never-sent', state: 'unknown' })

  t.equal(await bridge.initialize({ encryptionKey: EK, deviceId: 1 }), undefined, 'initialize resolves with no response')
  const payment = await bridge.processPayment({ amount: 1000, commandId: 'pay-1' })
  t.match(payment, { status: 'accepted', card_hash: /^\d+_/, card_holder_name: 'ANA SILVA', payment_method: 'credit_card', is_online_pin: true })
  const recorded = await bridge.getResult('pay-1')
  t.match(recorded, { target_command_id: 'pay-1', state: 'done', command: 'process_payment', answer: { command_id: 'pay-1', success: true, replayed: true, response: { status: 'accepted' } } }, 'the given command_id was used')
  t.same(await bridge.finishPayment({ success: true, responseCode: '0000' }), { approved: true })
  t.equal(await bridge.displayMessage('OBRIGADO'), undefined)
  t.equal(await bridge.close(), undefined)

  const ids = rig.server.journal.list({ context: 'till-1' }).map((e) => e.key)
  t.equal(new Set(ids).size, ids.length, 'a fresh command_id per call')
  t.ok(seen.some((e) => e.event === 'pinpad_message' && e.lines[0] === 'SOLICITE A SENHA'), 'pinpad_message events')
  t.ok(seen.some((e) => e.event === 'status' && e.device_state === 'awaitingCard'), 'status events')
})

t.test('refusals reject with BridgeError: code, command and command_id', async (t) => {
  const rig = await startBridge(t, manual)
  const bridge = await open(t, rig)
  const early = await bridge.processPayment({ amount: 1000, commandId: 'early' }).catch((e: unknown) => e)
  t.ok(early instanceof BridgeError)
  t.match(early, { name: 'BridgeError', code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER', command: 'process_payment', commandId: 'early', message: /not allowed now/ })
  t.match(await bridge.processPayment({ amount: -5 }).catch((e: unknown) => e), { code: 'MPOS_ERR_INVALID_FIELD', command: 'process_payment', commandId: /.+/ })
  t.match(await bridge.initialize({ encryptionKey: EK, deviceId: 99 }).catch((e: unknown) => e), { code: 'MPOS_ERR_DEVICE_NOT_FOUND', command: 'initialize' })

  // A per-call timeout: the call rejects; the bridge goes on with the payment (nobody presents a card).
  await bridge.initialize({ encryptionKey: EK, deviceId: 1 })
  const late = await bridge.processPayment({ amount: 1000, commandId: 'slow' }, { timeout: 300 }).catch((e: unknown) => e)
  t.match(late, { code: 'MPOS_ERR_CLIENT_TIMEOUT', command: 'process_payment', commandId: 'slow', message: /getResult\("slow"\)/ })
  t.match(await bridge.getResult('slow'), { state: 'running' }, 'the payment still runs: getResult says so')
  t.match(await bridge.processPayment({ amount: 1000 }).catch((e: unknown) => e), { code: 'MPOS_ERR_CONTEXT_BUSY' })
  t.match(await bridge.cancel().then(() => bridge.getResult('slow')), { state: /running|done/ })

  const reused = bridge.pinpadMenu({ options: ['Crédito', 'Débito'] }, { commandId: 'twice', timeout: 0 }).catch((e: unknown) => e)
  t.match(await bridge.status({ commandId: 'twice' }).catch((e: unknown) => e), { code: 'MPOS_ERR_COMMAND_ID_REUSED', command: 'status' }, 'a command_id already waiting on this client')
  bridge.disconnect()
  t.match(await reused, { code: 'MPOS_ERR_CLIENT_DISCONNECTED', command: 'pinpad_menu', commandId: 'twice' }, 'disconnect() rejects what waits')
  t.match(await bridge.status().catch((e: unknown) => e), { code: 'MPOS_ERR_CLIENT_DISCONNECTED' }, 'and what comes after')
  t.match(await connect({ url: 'ws://127.0.0.1:1/ws', WebSocket }).catch((e: unknown) => e), { code: 'MPOS_ERR_CONNECTION_FAILED' }, 'nothing listening')
})

t.test('events: on and off', async (t) => {
  const rig = await startBridge(t)
  const bridge = await open(t, rig)
  const all: string[] = []
  const removed: string[] = []
  const onRemoved = (e: { device: { name: string } }) => removed.push(e.device.name)
  bridge.on('device_removed', onRemoved)
  bridge.on('device_added', (e) => all.push(`added ${e.device.id}`))
  const second = rig.server.runtime.virtualDevices()[1]!.device
  second.unplug()
  await rig.until(() => removed.length === 1, 'device_removed')
  bridge.off('device_removed', onRemoved)
  second.plug()
  await rig.until(() => all.length === 1, 'device_added')
  second.unplug()
  await bridge.status()
  await rig.until(() => rig.server.runtime.devices().length === 1, 'unplugged again')
  await bridge.listDevices()
  t.same(removed, ['MOBI PIN 10 (virtual)'], 'off() stopped the listener')
  t.same(all, ['added 2'])
})

t.test('the connection drops mid-payment: the client reconnects and the payment still running is recovered, never sent twice', async (t) => {
  const rig = await startBridge(t, manual)
  const link = recordLink(rig.pinpads[0]!)
  const states: ConnectionEvent['state'][] = []
  const bridge = await open(t, rig, { reconnect: { initialDelay: 50, maxDelay: 200 } })
  bridge.on('connection', (e) => states.push(e.state))
  await bridge.initialize({ encryptionKey: EK, deviceId: 1 })
  const messages: string[] = []
  bridge.on('pinpad_message', (e) => messages.push(e.lines.join(' ')))
  const payment = bridge.processPayment({ amount: 2500, commandId: 'in-flight' })
  await rig.until(() => rig.server.runtime.contexts()[0]?.device_state === 'awaitingCard', 'the pinpad waits for a card')

  dropConnections(rig)
  await rig.until(() => states.includes('open'), 'reconnected')
  rig.pinpads[0]!.cardholder.present('visa-credit')
  rig.pinpads[0]!.cardholder.typePin('1234')
  t.match(await payment, { status: 'accepted', card_hash: /^\d+_/ }, 'the payment answered after the reconnection')
  t.same(states, ['reconnecting', 'open'])
  t.equal(commandsSent(link, 'GCX') + commandsSent(link, 'GCR'), 1, 'the pinpad was asked for a card once')
  t.equal(rig.server.journal.list({ context: 'till-1' }).filter((e) => e.command === 'process_payment').length, 1, 'one payment in the journal')
  t.ok(messages.length > 0, 'events of the context reach the reconnected client')
  const finished = bridge.finishPayment({ success: true, responseCode: '0000' })
  await rig.until(() => rig.server.runtime.contexts()[0]?.device_state === 'removingCard', 'the pinpad asks for the card back')
  rig.pinpads[0]!.cardholder.remove()
  t.same(await finished, { approved: true }, 'and the page carries on')
})

t.test('a payment answered while the client was away is recovered from the journal', async (t) => {
  const rig = await startBridge(t, manual)
  const link = recordLink(rig.pinpads[0]!)
  const { gate, WebSocket: Gated } = gatedWebSocket('ws://127.0.0.1:1/ws')
  const bridge = await connect({ url: rig.wsUrl, WebSocket: Gated, context: 'till-2', reconnect: { initialDelay: 20, maxDelay: 50 } })
  t.teardown(() => bridge.disconnect())
  const states: ConnectionEvent[] = []
  bridge.on('connection', (e) => states.push(e))
  await bridge.initialize({ encryptionKey: EK, deviceId: 1 })
  const payment = bridge.processPayment({ amount: 4200, commandId: 'away' })
  await rig.until(() => rig.server.runtime.contexts()[0]?.device_state === 'awaitingCard', 'the pinpad waits for a card')

  gate.blocked = true
  dropConnections(rig)
  await rig.until(() => states.filter((e) => e.state === 'reconnecting').length >= 3, 'failed reconnection attempts')
  rig.pinpads[0]!.cardholder.present('mastercard-credit')
  rig.pinpads[0]!.cardholder.typePin('1234')
  await rig.until(() => rig.server.journal.find('till-2', JSON.stringify('away'))?.state === 'done', 'the payment answered with nobody connected')
  gate.blocked = false

  t.match(await payment, { status: 'accepted', card_holder_name: /.+/ }, 'resolved from the journal')
  await rig.until(() => states.at(-1)?.state === 'open', 'open again')
  t.match(states.filter((e) => e.state === 'reconnecting').map((e) => e.attempt), [1, 2, 3], 'attempts counted')
  t.equal(commandsSent(link, 'GCX') + commandsSent(link, 'GCR'), 1, 'the pinpad was asked for a card once')
  t.equal(rig.server.journal.list({ context: 'till-2' }).filter((e) => e.command === 'process_payment').length, 1, 'one payment in the journal')
})

t.test('without reconnect, a dropped connection rejects what was in flight', async (t) => {
  const rig = await startBridge(t, manual)
  const bridge = await open(t, rig, { reconnect: false })
  const closed: ConnectionEvent[] = []
  bridge.on('connection', (e) => closed.push(e))
  await bridge.initialize({ encryptionKey: EK, deviceId: 1 })
  const payment = bridge.processPayment({ amount: 1000, commandId: 'dropped' }).catch((e: unknown) => e)
  await rig.until(() => rig.server.runtime.contexts()[0]?.device_state === 'awaitingCard', 'the pinpad waits for a card')
  dropConnections(rig)
  t.match(await payment, { code: 'MPOS_ERR_CONNECTION_LOST', command: 'process_payment', commandId: 'dropped' })
  t.match(closed, [{ state: 'closed', error: { code: 'MPOS_ERR_CONNECTION_LOST' } }])
  t.equal(bridge.state, 'closed')
})

t.test('the package export mpos-bridge/client is the built module with its types', async (t) => {
  const spec = 'mpos-bridge/client'
  t.match(import.meta.resolve(spec), /\/dist\/src\/client\/index\.js$/)
  const built = (await import(spec)) as typeof import('../../src/client/index.js')
  t.type(built.connect, 'function')
  t.type(built.BridgeError, 'function')
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { exports: Record<string, { types: string }> }
  await t.resolves(readFile(new URL(`../../${pkg.exports['./client']!.types}`, import.meta.url)), 'the .d.ts exists')
})
