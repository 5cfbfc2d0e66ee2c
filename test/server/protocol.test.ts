/**
 * The `/ws` protocol end to end over a real WebSocket: the seed document's examples sent verbatim
 * get answers of exactly the documented shape, every command answers, and process_payment's
 * answer carries a card hash that opens (with the sandbox key) to the card that was presented —
 * while the card number itself never travels in any message. With the subprotocol `mpos-bridge`
 * (which the server must select) and without a subprotocol.
 */
import t, { type Test } from 'tap'
import { decryptCardHash } from '../../src/acquirer/sandbox/index.js'
import { findCard, track2 } from '../../src/simulator/cards.js'
import { Client, EK, startBridge, type Message, type Rig } from './helpers.js'

// The seed's requests, byte for byte (websocket-protocol.md).
const SEED = {
  list_devices: `{
    "command": "list_devices"
}`,
  initialize: `{
    "command": "initialize",
    "encryption_key": "ek_test_msSNokas032mAsdkmnklsspa4AdjzmcALl23",
    "device_id": 1
}`,
  status: `{
    "command": "status"
}`,
  display_message: `{
    "command": "display_message",
    "message": "Hello World!"
}`,
  process_payment: `{
    "command": "process_payment",
    "amount": 1000
}`,
}

const keys = (m: Message) => Object.keys(m).sort()
const CARD_HASH = /^(\d+)_([A-Za-z0-9+/]+={0,2})$/

/** Checks a card hash opens to the card presented; returns its fields. */
async function opensTo(t: Test, rig: Rig, hash: string, cardName: string): Promise<Record<string, string>> {
  t.match(hash, CARD_HASH, 'card_hash is <id>_<base64>')
  const fields = await decryptCardHash(hash, rig.dataDir)
  t.equal(fields.card_number, findCard(cardName).pan, `the card hash holds ${cardName}'s number`)
  return fields
}

/** No message ever carried the card number or track 2 of these cards. */
function noCardData(t: Test, client: Client, cardNames: string[]): void {
  const all = client.raw.join('\n')
  for (const name of cardNames) {
    const card = findCard(name)
    t.notOk(all.includes(card.pan), `${name}: the card number is in no message`)
    t.notOk(all.includes(track2(card)), `${name}: track 2 is in no message`)
  }
}

for (const subprotocol of ['mpos-bridge', undefined] as const) {
  const label = subprotocol ? `subprotocol ${subprotocol}` : 'no subprotocol'

  t.test(`the seed's examples, verbatim (${label})`, async (t) => {
    const rig = await startBridge(t)
    const ws = await Client.open(t, rig.wsUrl, subprotocol ? { protocol: subprotocol } : {})
    t.equal(ws.ws.protocol, subprotocol ?? '', subprotocol ? 'the server selected mpos-bridge' : 'no subprotocol selected')

    const list = await ws.exchange(SEED.list_devices)
    t.same(keys(list), ['command', 'context', 'response', 'success'])
    t.equal(list.command, 'list_devices')
    t.equal(list.success, true)
    t.equal(list.context, 'default', 'the default context is named in the answer')
    t.ok(Array.isArray(list.response), 'response is a list')
    t.equal(list.response.length, 2)
    for (const [i, d] of (list.response as Message[]).entries()) {
      t.equal(d.id, i + 1, 'ids are small integers')
      t.type(d.name, 'string')
      t.type(d.manufacturer, 'string')
    }
    t.match(list.response[0], { id: 1, name: 'MOBI PIN 10 (virtual)', manufacturer: 'Gertec' }, 'as in the seed, plus "(virtual)"')

    const init = await ws.exchange(SEED.initialize)
    t.same(init, { command: 'initialize', context: 'default', success: true }, 'initialize answers exactly the seed shape (+ context)')

    const status = await ws.exchange(SEED.status)
    t.same(keys(status), ['command', 'context', 'response', 'success'])
    t.match(status, { command: 'status', success: true, response: { status: 'initialized', connected_device_id: 1, devices_available: 2 } })
    t.equal(status.response.available_devices, 2, "also under the docs table's name")

    const display = await ws.exchange(SEED.display_message)
    t.same(display, { command: 'display_message', context: 'default', success: true })
    t.same(rig.pinpads[0]!.display.screen, { lines: ['  Hello World!', ''], source: 'DSP' }, 'the pinpad shows the message (DSP, centred)')

    rig.pinpads[0]!.cardholder.present('visa-credit')
    const payment = await ws.exchange(SEED.process_payment)
    t.same(keys(payment), ['command', 'context', 'response', 'success'])
    t.equal(payment.command, 'process_payment')
    t.equal(payment.success, true)
    t.same(keys(payment.response), ['card_hash', 'card_holder_name', 'is_online_pin', 'payment_method', 'status'])
    t.match(payment.response, { status: 'accepted', card_holder_name: 'ANA SILVA', payment_method: 'credit_card', is_online_pin: true })
    const fields = await opensTo(t, rig, payment.response.card_hash, 'visa-credit')
    t.match(fields, { capture_method: 'emv', payment_method: 'credit_card', card_holder_name: 'ANA SILVA', card_pin_mode: 'online' })

    const finish = await ws.request({ command: 'finish_payment', success: true, response_code: '0000' })
    t.match(finish, { command: 'finish_payment', success: true })
    noCardData(t, ws, ['visa-credit'])
  })

  t.test(`every command, with context and command_id echoed (${label})`, async (t) => {
    const rig = await startBridge(t)
    const ws = await Client.open(t, rig.wsUrl, subprotocol ? { protocol: subprotocol } : {})
    const ctx = 'till-7'
    const send = async (request: Message, id: string | number) => {
      const reply = await ws.request({ ...request, context: ctx, command_id: id })
      t.equal(reply.context, ctx, `${request.command}: context echoed`)
      t.equal(reply.command_id, id, `${request.command}: command_id echoed`)
      t.equal(reply.command, request.command, `${request.command}: command named`)
      return reply
    }

    const list = await send({ command: 'list_devices' }, 'a-1')
    t.equal(list.success, true)
    t.same(
      (list.response as Message[]).map((d) => [d.id, d.kind, d.path]),
      [
        [1, 'virtual', 'virtual:1'],
        [2, 'virtual', 'virtual:2'],
      ],
    )

    const idle = await send({ command: 'status' }, 2)
    t.same(idle.response, { status: 'idle', connected_device_id: null, devices_available: 2, available_devices: 2 }, 'numeric command_id echoed as a number')

    const init = await send({ command: 'initialize', encryption_key: EK, device_id: 2 }, 'a-3')
    t.same(init, { command: 'initialize', context: ctx, command_id: 'a-3', success: true })
    const again = await send({ command: 'initialize', encryption_key: EK, device_id: 2 }, 'a-4')
    t.match(again, { success: false, code: 'MPOS_ERR_ALREADY_INITIALIZED', error: `Context "${ctx}" is already initialized` })

    const ready = await send({ command: 'status' }, 'a-5')
    t.match(ready.response, { status: 'initialized', connected_device_id: 2, devices_available: 2 })

    const shown = await send({ command: 'display_message', message: 'Caixa 7 livre' }, 'a-6')
    t.same(shown, { command: 'display_message', context: ctx, command_id: 'a-6', success: true })
    t.same(rig.pinpads[1]!.display.screen.lines.map((l) => l.trim()), ['Caixa 7 livre', ''], 'device 2 shows it')

    const nothing = await send({ command: 'cancel' }, 'a-7')
    t.match(nothing, { success: false, code: 'MPOS_ERR_NOTHING_TO_CANCEL', error: `Nothing runs in context "${ctx}"` })

    // Debit chip card: payment_method debit_card.
    rig.pinpads[1]!.cardholder.present('visa-electron-debit')
    const debit = await send({ command: 'process_payment', amount: 2500 }, 'a-8')
    t.match(debit, { success: true, response: { status: 'accepted', payment_method: 'debit_card', is_online_pin: true, card_holder_name: 'CARLOS PEREIRA' } })
    await opensTo(t, rig, debit.response.card_hash, 'visa-electron-debit')

    // process_payment before finish_payment: refused, saying what is allowed.
    const early = await send({ command: 'process_payment', amount: 100 }, 'a-9')
    t.match(early, {
      success: false,
      code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER',
      error: `process_payment is not allowed now in context "${ctx}"; allowed: finish_payment, cancel, status, list_devices, close`,
    })

    const finished = await send({ command: 'finish_payment', success: true, response_code: '0000' }, 'a-10')
    t.same(finished, { command: 'finish_payment', context: ctx, command_id: 'a-10', success: true, response: { approved: true } })

    // Offline PIN (cents 02): is_online_pin false, the card hash says offline and carries no PIN block.
    rig.pinpads[1]!.cardholder.present('visa-credit')
    const offline = await send({ command: 'process_payment', amount: 1002 }, 'a-11')
    t.match(offline.response, { status: 'accepted', is_online_pin: false, payment_method: 'credit_card' })
    const fields = await opensTo(t, rig, offline.response.card_hash, 'visa-credit')
    t.equal(fields.card_pin_mode, 'offline')
    t.notOk('card_pin' in fields, 'no PIN block for an offline PIN')
    await send({ command: 'finish_payment', success: true, response_code: '0000' }, 'a-12')

    // Swiped magstripe card with signature: no PIN at all.
    rig.pinpads[1]!.cardholder.present('magstripe-credit', 'swipe')
    const swiped = await send({ command: 'process_payment', amount: 700 }, 'a-13')
    t.match(swiped.response, { status: 'accepted', is_online_pin: false, payment_method: 'credit_card', card_holder_name: 'PAULO RODRIGUES' })
    const magFields = await opensTo(t, rig, swiped.response.card_hash, 'magstripe-credit')
    t.equal(magFields.capture_method, 'magstripe')
    await send({ command: 'finish_payment', success: true, response_code: '0000' }, 'a-14')

    // The chip declines in GOC/GOX (cents 70): rejected, with a card hash all the same.
    rig.pinpads[1]!.cardholder.present('visa-credit')
    const declined = await send({ command: 'process_payment', amount: 1070 }, 'a-15')
    t.match(declined.response, { status: 'rejected', payment_method: 'credit_card' })
    await opensTo(t, rig, declined.response.card_hash, 'visa-credit')
    await send({ command: 'finish_payment', success: false }, 'a-16')

    const closed = await send({ command: 'close' }, 'a-17')
    t.same(closed, { command: 'close', context: ctx, command_id: 'a-17', success: true })
    t.same(rig.pinpads[1]!.display.screen, { lines: ['    OBRIGADO', ''], source: 'CLO' }, 'the pinpad got CLO')
    const after = await send({ command: 'status' }, 'a-18')
    t.same(after.response, { status: 'idle', connected_device_id: null, devices_available: 2, available_devices: 2 })
    const closeIdle = await send({ command: 'close' }, 'a-19')
    t.equal(closeIdle.success, true, 'close answers at any time, also when idle')

    noCardData(t, ws, ['visa-electron-debit', 'visa-credit', 'magstripe-credit'])
  })

  t.test(`payments that are not accepted carry the ABECS code (${label})`, async (t) => {
    const rig = await startBridge(t)
    const ws = await Client.open(t, rig.wsUrl, subprotocol ? { protocol: subprotocol } : {})
    t.equal((await ws.request({ command: 'initialize', encryption_key: EK })).success, true, 'initialize without device_id takes the first free device')
    t.equal((await ws.request({ command: 'status' })).response.connected_device_id, 1)

    // Cents 13: the cardholder presses CANCEL on the keypad.
    const cancelled = await ws.request({ command: 'process_payment', amount: 1013 })
    t.equal(cancelled.success, true)
    t.same(keys(cancelled.response), ['error', 'error_code', 'error_type', 'status'])
    t.match(cancelled.response, { status: 'canceled', error_code: 13, error_type: 'MPOS_ERR_PINPAD_STATUS' })
    t.match(cancelled.response.error, /013/)
    t.notOk('card_hash' in cancelled.response, 'no card hash')

    // finish_payment is obligatory also after a failure, then process_payment again.
    t.match(await ws.request({ command: 'finish_payment', success: false }), { success: true })

    // Cents 12: nobody presents a card, the pinpad times out.
    const noCard = await ws.request({ command: 'process_payment', amount: 1012 })
    t.match(noCard.response, { status: 'errored', error_code: 12, error_type: 'MPOS_ERR_PAYMENT_TIMEOUT' })
    t.match(noCard.response.error, /012/)
    t.match(await ws.request({ command: 'finish_payment', success: false }), { success: true })

    // A blocked card: the pinpad's own code.
    rig.pinpads[0]!.cardholder.present('blocked-card')
    const blocked = await ws.request({ command: 'process_payment', amount: 1000 })
    t.match(blocked.response, { status: 'errored', error_code: findCard('blocked-card').fault!.status })

    // After failures the next payment goes through.
    rig.pinpads[0]!.cardholder.present('mastercard-credit')
    const ok = await ws.request({ command: 'process_payment', amount: 1000 })
    t.match(ok.response, { status: 'accepted', payment_method: 'credit_card', card_holder_name: 'JOAO SOUZA' })
    await opensTo(t, rig, ok.response.card_hash, 'mastercard-credit')
    t.match(await ws.request({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true })
    t.match(await ws.request({ command: 'close' }), { success: true })
    noCardData(t, ws, ['blocked-card', 'mastercard-credit', 'visa-credit'])
  })
}

t.test('a client offering several subprotocols gets mpos-bridge', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl, { protocol: ['mpos-bridge.v2', 'mpos-bridge'] })
  t.equal(ws.ws.protocol, 'mpos-bridge')
  t.match(await ws.request({ command: 'status' }), { command: 'status', success: true, response: { status: 'idle' } })
})
