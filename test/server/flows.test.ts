/**
 * Whole flows over `/ws`: shared contexts, parallel contexts on two pinpads, connections that
 * drop mid-payment, cancel, the order of pushed events, a pinpad unplugged mid-payment, graceful
 * shutdown — and the CLI's `serve` as a child process (a payment, then SIGTERM/SIGINT, its logs).
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { decryptCardHash } from '../../src/acquirer/sandbox/index.js'
import { findCard, track2 } from '../../src/simulator/cards.js'
import { LOG_CAPTURE_ENV } from '../../src/log.js'
import { Client, EK, IDLE_LINES, recordLink, screenText, startBridge, tempDir, until, WAIT_MS, type Message, type Rig } from './helpers.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

const contextState = (rig: Rig, name: string) => rig.server.runtime.contexts().find((c) => c.name === name)

/** Starts a payment that waits for a card nobody presents; resolves once the pinpad waits. */
async function paymentWaiting(c: Client, context: string, rig: Rig, pad: number, commandId = 'pay'): Promise<number> {
  rig.pinpads[pad]!.cardholder.options.autoCard = null
  const from = c.messages.length
  c.sendRaw(JSON.stringify({ command: 'process_payment', amount: 1000, context, command_id: commandId }))
  // The pinpad's own prompt (NTM): the card read has reached it.
  await c.next((m) => m.event === 'pinpad_message' && m.context === context && m.lines[0] === 'APROXIME, INSIRA', from, 'the card prompt')
  return from
}

t.test('two connections on one context', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl, { protocol: 'mpos-bridge' })
  const b = await Client.open(t, rig.wsUrl)
  t.match(await b.request({ command: 'status', context: 'shop' }), { success: true, response: { status: 'idle' } }, 'B attaches to "shop"')

  const fromB = b.messages.length
  t.match(await a.request({ command: 'initialize', context: 'shop', encryption_key: EK, device_id: 1 }), { success: true })
  await b.next((m) => m.event === 'status' && m.context === 'shop' && m.status === 'initialized', fromB, "the context's status pushed to B")
  t.ok(b.events('status', fromB).some((e) => e.running_command === 'initialize'), "B saw A's initialize running")
  t.notOk(b.messages.slice(fromB).some((m) => m.command === 'initialize'), 'the reply went to A only')

  const fromA = await paymentWaiting(a, 'shop', rig, 0)
  const seen = await b.request({ command: 'status', context: 'shop' })
  t.match(seen.response, { status: 'in_use', connected_device_id: 1, running_command: 'process_payment', device_state: 'awaitingCard' }, "B sees A's payment in status")
  t.same(
    await b.request({ command: 'display_message', context: 'shop', message: 'oi', command_id: 'b-1' }),
    {
      command: 'display_message',
      context: 'shop',
      command_id: 'b-1',
      success: false,
      error: 'display_message refused: process_payment is running in context "shop"',
      code: 'MPOS_ERR_CONTEXT_BUSY',
    },
    "B's conflicting command is refused naming the running one",
  )
  t.match(await b.request({ command: 'process_payment', context: 'shop', amount: 100 }), { success: false, code: 'MPOS_ERR_CONTEXT_BUSY' })

  const fromB2 = b.messages.length
  rig.pinpads[0]!.cardholder.options.autoCard = 'visa-credit'
  rig.pinpads[0]!.cardholder.present('visa-credit')
  const paid = await a.reply('process_payment', fromA, 'pay')
  t.match(paid.response, { status: 'accepted' })
  await b.next((m) => m.event === 'payment_status' && m.context === 'shop', fromB2, 'payment_status on B')
  for (const c of [a, b]) {
    const ev = c.events(undefined, c === a ? fromA : fromB2)
    t.match(ev.find((e) => e.event === 'payment_status'), { event: 'payment_status', context: 'shop', status: 'accepted' })
    t.ok(ev.some((e) => e.event === 'pinpad_message' && e.message.startsWith('SOLICITE A SENHA')), 'both saw the PIN prompt')
  }
  t.notOk(b.messages.some((m) => m.command === 'process_payment' && m.success === true), 'the card hash went to A only')

  // The context is shared: B may finish what A started.
  t.match(await b.request({ command: 'finish_payment', context: 'shop', success: true, response_code: '0000' }), { success: true })
  t.match((await a.request({ command: 'status', context: 'shop' })).response, { status: 'initialized', device_state: 'ready' })
})

t.test('two contexts on two pinpads pay at once', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  const b = await Client.open(t, rig.wsUrl)
  const [ia, ib] = await Promise.all([
    a.request({ command: 'initialize', context: 'left', encryption_key: EK, device_id: 1 }),
    b.request({ command: 'initialize', context: 'right', encryption_key: EK, device_id: 2 }),
  ])
  t.match([ia, ib], [{ success: true }, { success: true }])

  rig.pinpads[0]!.cardholder.present('visa-credit')
  rig.pinpads[1]!.cardholder.present('mastercard-credit')
  const [pa, pb] = await Promise.all([
    a.request({ command: 'process_payment', context: 'left', amount: 1500 }),
    b.request({ command: 'process_payment', context: 'right', amount: 2500 }),
  ])
  t.match(pa.response, { status: 'accepted', card_holder_name: 'ANA SILVA' })
  t.match(pb.response, { status: 'accepted', card_holder_name: 'JOAO SOUZA' })
  t.equal((await decryptCardHash(pa.response.card_hash, rig.dataDir)).card_number, findCard('visa-credit').pan, "left: pinpad 1's card")
  t.equal((await decryptCardHash(pb.response.card_hash, rig.dataDir)).card_number, findCard('mastercard-credit').pan, "right: pinpad 2's card")
  t.notOk(a.messages.some((m) => m.context === 'right'), 'A got nothing of context "right"')
  t.notOk(b.messages.some((m) => m.context === 'left'), 'B got nothing of context "left"')

  t.match((await a.request({ command: 'status', context: 'left' })).response, { connected_device_id: 1 })
  t.match((await b.request({ command: 'status', context: 'right' })).response, { connected_device_id: 2 })
  t.match(
    rig.server.runtime.contexts().map((c) => [c.name, c.device_id]),
    [
      ['left', 1],
      ['right', 2],
    ],
    'each context holds its own device',
  )
  await Promise.all([
    a.request({ command: 'finish_payment', context: 'left', success: true, response_code: '0000' }),
    b.request({ command: 'finish_payment', context: 'right', success: true, response_code: '0000' }),
  ])
})

t.test('the only connection drops mid-payment: the payment runs on, and the page that comes back learns it', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  const link = recordLink(rig.pinpads[0]!)
  const from = a.messages.length
  a.sendRaw(JSON.stringify({ command: 'process_payment', context: 'default', amount: 1000, command_id: 'pay-1' }))
  await until(() => contextState(rig, 'default')?.device_state === 'awaitingCard', 'the card read')
  t.equal(a.messages.slice(from).filter((m) => m.command === 'process_payment').length, 0, 'no answer yet')
  const waiting = link.length

  a.terminate()
  await until(() => rig.server.runtime.sessionCount === 0, 'the page is gone')
  t.same(link.slice(waiting).filter((e) => e.type === 'aborted' || e.type === 'eot-sent'), [], 'nothing cancelled on the pinpad')
  // The customer, still at the pinpad, finishes.
  rig.pinpads[0]!.cardholder.options.autoCard = 'visa-credit'
  rig.pinpads[0]!.cardholder.present('visa-credit')
  await until(() => contextState(rig, 'default')?.device_state === 'awaitingFinish', 'the payment awaits finish_payment')

  // The page reloads: its first message on the context brings the payment's outcome.
  const b = await Client.open(t, rig.wsUrl)
  const status = await b.request({ command: 'status' })
  const pushed = b.messages.find((m) => m.event === 'payment_status')
  t.match(pushed, { event: 'payment_status', context: 'default', status: 'accepted', command_id: 'pay-1', result: { status: 'accepted', card_hash: /^\d+_[A-Za-z0-9+/=]+$/ } }, 'the outcome is pushed to the page that came back')
  t.ok(b.messages.indexOf(pushed!) < b.messages.indexOf(status), 'before the answer to its first message')
  t.match(status.response, { awaiting_finish: [{ context: 'default', command_id: 'pay-1', amount: 1000 }] }, 'status shows the payment awaiting its finish')
  const other = await Client.open(t, rig.wsUrl)
  await other.request({ command: 'status' })
  t.notOk(other.messages.some((m) => m.event === 'payment_status' && m.command_id === 'pay-1'), 'pushed once, not to every later connection')

  // The recovery recipe: get_result by command_id, or the same process_payment again.
  t.match(await b.request({ command: 'get_result', target_command_id: 'pay-1' }), { success: true, response: { state: 'done', command: 'process_payment', answer: { command: 'process_payment', command_id: 'pay-1', success: true, response: { status: 'accepted', card_hash: pushed!.result.card_hash }, replayed: true } } })
  const reads = link.filter((e) => e.type === 'command' && (e.id === 'GCR' || e.id === 'GCX')).length
  const again = await b.request({ command: 'process_payment', amount: 1000, command_id: 'pay-1' })
  t.match(again, { success: true, replayed: true, response: { status: 'accepted', card_hash: pushed!.result.card_hash } }, 'the retry gets the same card hash')
  t.equal(link.filter((e) => e.type === 'command' && (e.id === 'GCR' || e.id === 'GCX')).length, reads, 'and no card is read again')
  t.match(await b.request({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true })
  t.notOk('awaiting_finish' in (await b.request({ command: 'status' })).response, 'nothing awaits its finish any more')
})

t.test('the payer drops while another connection is attached: the payment goes on', async (t) => {
  const rig = await startBridge(t)
  const payer = await Client.open(t, rig.wsUrl)
  const watcher = await Client.open(t, rig.wsUrl)
  t.match(await payer.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  await watcher.request({ command: 'status' })
  const link = recordLink(rig.pinpads[0]!)
  await paymentWaiting(payer, 'default', rig, 0)
  const waiting = link.length

  payer.terminate()
  await until(() => rig.server.runtime.sessionCount === 1, 'the payer is gone')
  // Let the drop travel through the actors before judging that nothing was cancelled.
  t.match((await watcher.request({ command: 'status' })).response, { status: 'in_use', running_command: 'process_payment', device_state: 'awaitingCard' })
  t.same(link.slice(waiting), [], 'nothing cancelled on the pinpad')

  const from = watcher.messages.length
  rig.pinpads[0]!.cardholder.options.autoCard = 'visa-credit'
  rig.pinpads[0]!.cardholder.present('visa-credit')
  const outcome = await watcher.next((m) => m.event === 'payment_status', from, 'payment_status on the watcher')
  t.match(
    outcome,
    { event: 'payment_status', context: 'default', status: 'accepted', result: { status: 'accepted', card_hash: /^\d+_[A-Za-z0-9+/=]+$/, payment_method: 'credit_card' } },
    'the watcher gets the events, and the result the payer can no longer receive',
  )
  t.ok(watcher.events('pinpad_message', from).some((e) => e.message.startsWith('SOLICITE A SENHA')))
  t.notOk(watcher.messages.some((m) => m.command === 'process_payment'), "the payer's reply is not sent to another connection")
  await until(() => contextState(rig, 'default')?.device_state === 'awaitingFinish', 'the payment awaits finish_payment')
  t.match(await watcher.request({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true }, 'the watcher finishes it')
})

t.test('the payer drops, then the last attached connection: the payment goes on; get_result tells it', async (t) => {
  const rig = await startBridge(t)
  const payer = await Client.open(t, rig.wsUrl)
  const watcher = await Client.open(t, rig.wsUrl)
  t.match(await payer.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  await watcher.request({ command: 'status' })
  const link = recordLink(rig.pinpads[0]!)
  payer.sendRaw(JSON.stringify({ command: 'process_payment', context: 'default', amount: 1000, command_id: 'pay-2' }))
  await until(() => contextState(rig, 'default')?.device_state === 'awaitingCard', 'the card read')
  const waiting = link.length
  payer.terminate()
  watcher.terminate()
  await until(() => rig.server.runtime.sessionCount === 0, 'both are gone')
  t.same(link.slice(waiting).filter((e) => e.type === 'aborted' || e.type === 'eot-sent'), [], 'nothing cancelled on the pinpad')

  // A page asks while the customer is still at the pinpad: running; the same command_id attaches it.
  const page = await Client.open(t, rig.wsUrl)
  t.match(await page.request({ command: 'get_result', target_command_id: 'pay-2' }), { success: true, response: { state: 'running', command: 'process_payment' } })
  const from = page.messages.length
  page.sendRaw(JSON.stringify({ command: 'process_payment', context: 'default', amount: 1000, command_id: 'pay-2' }))
  rig.pinpads[0]!.cardholder.options.autoCard = 'visa-credit'
  rig.pinpads[0]!.cardholder.present('visa-credit')
  const answer = await page.reply('process_payment', from, 'pay-2')
  t.match(answer, { success: true, response: { status: 'accepted' } }, 'the attached page gets the answer when it comes')
  t.notOk('replayed' in answer, 'the answer itself, not a replay')
  t.equal(link.filter((e) => e.type === 'command' && (e.id === 'GCR' || e.id === 'GCX')).length, 1, 'one card read')
  t.match(await page.request({ command: 'process_payment', amount: 2000, command_id: 'pay-2' }), { success: false, code: 'MPOS_ERR_COMMAND_ID_REUSED' }, 'the same command_id with another amount is refused')
  t.match(await page.request({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true })
})

t.test('cancel during a payment', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  const pad = rig.pinpads[0]!
  const link = recordLink(pad)

  // While the pinpad waits for a card.
  const from = await paymentWaiting(a, 'default', rig, 0, 'p1')
  t.same(screenText(pad), ['VALOR: 10,00', 'APROXIME, INSIRA', 'OU PASSE CARTAO'], 'the pinpad asks for a card')
  const waiting = link.length
  const cancelled = await a.request({ command: 'cancel', command_id: 'c1' })
  t.same(cancelled, { command: 'cancel', context: 'default', command_id: 'c1', success: true })
  const answer = await a.reply('process_payment', from, 'p1')
  t.same(
    answer,
    {
      command: 'process_payment',
      context: 'default',
      command_id: 'p1',
      success: true,
      response: { status: 'canceled', error: 'The payment was cancelled', error_type: 'MPOS_ERR_PAYMENT_CANCELED' },
    },
    'the pending process_payment answers canceled',
  )
  t.ok(link.slice(waiting).some((e) => e.type === 'eot-sent'), 'CAN reached the pinpad')
  await until(() => pad.display.screen.source === 'DSP', 'the idle screen')
  t.same(screenText(pad), IDLE_LINES, "the pinpad's display is back to idle")
  t.match(a.events('payment_status', from), [{ status: 'canceled' }])

  // While the cardholder is asked for the PIN (card in the slot).
  pad.cardholder.options.autoPin = null
  pad.cardholder.present('visa-credit')
  const from2 = a.messages.length
  a.sendRaw(JSON.stringify({ command: 'process_payment', amount: 1000, command_id: 'p2' }))
  await a.next((m) => m.event === 'pinpad_message' && m.message.startsWith('SOLICITE A SENHA'), from2, 'the PIN prompt')
  const atPin = link.length
  t.match(await a.request({ command: 'cancel' }), { success: true })
  t.match((await a.reply('process_payment', from2, 'p2')).response, { status: 'canceled' })
  t.ok(link.slice(atPin).some((e) => e.type === 'eot-sent'), 'CAN reached the pinpad')
  await until(() => pad.display.screen.source === 'DSP', 'the idle screen')
  t.same(screenText(pad), IDLE_LINES)
  t.notOk(a.messages.some((m) => m.command === 'process_payment' && m.response?.card_hash), 'no card hash for a cancelled payment')
  t.match((await a.request({ command: 'status' })).response, { status: 'initialized', device_state: 'ready' })
})

t.test('close during a payment', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  const pad = rig.pinpads[0]!
  const link = recordLink(pad)
  pad.cardholder.options.autoPin = null
  pad.cardholder.present('visa-credit')
  const from = a.messages.length
  a.sendRaw(JSON.stringify({ command: 'process_payment', amount: 1000, command_id: 'p' }))
  await a.next((m) => m.event === 'pinpad_message' && m.lines[0] === 'SOLICITE A SENHA', from, 'the PIN prompt')
  const atPin = link.length

  t.same(await a.request({ command: 'close', command_id: 'c' }), { command: 'close', context: 'default', command_id: 'c', success: true })
  t.same(
    await a.reply('process_payment', from, 'p'),
    { command: 'process_payment', context: 'default', command_id: 'p', success: true, response: { status: 'canceled', error: 'The context was closed', error_type: 'MPOS_ERR_PAYMENT_CANCELED' } },
    'the payment answers canceled',
  )
  t.same(a.events('payment_status', from), [{ event: 'payment_status', context: 'default', status: 'canceled' }], 'its payment_status is pushed')
  const after = link.slice(atPin)
  t.ok(after.some((e) => e.type === 'eot-sent'), 'the PIN entry was cancelled (CAN)')
  t.ok(after.findIndex((e) => e.type === 'eot-sent') < after.findIndex((e) => e.type === 'command' && e.id === 'CLO'), 'then CLO')
  t.same(screenText(pad), ['OBRIGADO', ''])
  t.match((await a.request({ command: 'status' })).response, { status: 'idle', connected_device_id: null })
  t.same(rig.server.runtime.contexts(), [{ name: 'default', state: 'idle', device_id: null }], 'the device is released')
})

t.test('the events of a payment arrive in order', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  await until(() => contextState(rig, 'default')?.device_state === 'ready', 'ready')
  rig.pinpads[0]!.cardholder.present('visa-credit')
  const from = a.messages.length
  const reply = await a.request({ command: 'process_payment', amount: 1000, command_id: 'ordered' })
  t.match(reply.response, { status: 'accepted' })
  await a.next((m) => m.event === 'status' && m.device_state === 'awaitingFinish', from, 'awaitingFinish')
  const seq = a.messages.slice(from)
  const at = (match: (m: Message) => boolean, what: string) => {
    const i = seq.findIndex(match)
    t.ok(i >= 0, `${what} arrives`)
    return i
  }
  const running = at((m) => m.event === 'status' && m.status === 'in_use' && m.running_command === 'process_payment', 'status in_use')
  const awaiting = at((m) => m.event === 'status' && m.device_state === 'awaitingCard', 'status awaitingCard')
  const prompt = at(
    (m) => m.event === 'pinpad_message' && m.message === 'APROXIME, INSIRAOU PASSE CARTAO ' && m.lines.join('|') === 'APROXIME, INSIRA|OU PASSE CARTAO',
    'pinpad_message with the card prompt',
  )
  const onChip = at((m) => m.event === 'status' && m.device_state === 'onChip', 'status onChip')
  const pin = at((m) => m.event === 'pinpad_message' && m.lines[0] === 'SOLICITE A SENHA', 'pinpad_message SOLICITE A SENHA')
  const processed = at((m) => m.event === 'status' && m.device_state === 'processed', 'status processed')
  const outcome = at((m) => m.event === 'payment_status' && m.status === 'accepted' && m.context === 'default', 'payment_status accepted')
  const answer = at((m) => m.command === 'process_payment', 'the reply')
  const finishWait = at((m) => m.event === 'status' && m.status === 'initialized' && m.device_state === 'awaitingFinish', 'status initialized awaitingFinish')
  t.ok(running < awaiting && awaiting < prompt && prompt < onChip && onChip < pin && pin < processed && processed < outcome && outcome < answer && answer < finishWait, 'in that order')
  const states = seq.filter((m) => m.event === 'status').map((m) => m.device_state)
  t.same(
    states.filter((s, i) => s !== states[i - 1]),
    ['ready', 'awaitingCard', 'onChip', 'processed', 'awaitingFinish'],
    'the device states, in order',
  )
  t.equal(seq.filter((m) => m.event === 'payment_status').length, 1, 'one payment_status')
})

t.test('a pinpad unplugged mid-payment', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  const bystander = await Client.open(t, rig.wsUrl)
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  const device = rig.server.runtime.registry.virtualDevice(1)!
  const from = await paymentWaiting(a, 'default', rig, 0)
  const fromBystander = bystander.messages.length

  device.unplug()
  const answer = await a.reply('process_payment', from, 'pay')
  t.match(answer, { command: 'process_payment', success: true, response: { status: 'errored', error_type: 'MPOS_ERR_LINK_CLOSED' } }, 'the payment answers an error')
  t.match(answer.response.error, /disconnected/)
  const removed = { event: 'device_removed', device: { id: 1, name: 'MOBI PIN 10 (virtual)', manufacturer: 'Gertec' } }
  t.same(await a.next((m) => m.event === 'device_removed', from), removed, 'device_removed')
  t.same(await bystander.next((m) => m.event === 'device_removed', fromBystander), removed, 'to every connection')
  await until(() => contextState(rig, 'default')?.state === 'idle', 'the context is idle')
  const status = await a.request({ command: 'status' })
  t.match(status.response, { status: 'idle', connected_device_id: null, devices_available: 1, last_error: { code: 'MPOS_ERR_DEVICE_DISCONNECTED' } })
  t.same((await a.request({ command: 'list_devices' })).response.map((d: Message) => d.id), [2])
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: false, code: 'MPOS_ERR_DEVICE_NOT_FOUND' })

  const fromPlug = a.messages.length
  device.plug()
  t.same(await a.next((m) => m.event === 'device_added', fromPlug), { event: 'device_added', device: { id: 1, name: 'MOBI PIN 10 (virtual)', manufacturer: 'Gertec' } }, 'device_added, same id')
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true }, 'initialize works again')
  rig.pinpads[0]!.cardholder.options.autoCard = 'visa-credit'
  rig.pinpads[0]!.cardholder.present('visa-credit')
  t.match((await a.request({ command: 'process_payment', amount: 1000 })).response, { status: 'accepted' })
})

t.test('graceful shutdown during a payment', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  const idleConnection = await Client.open(t, rig.wsUrl)
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  const link = recordLink(rig.pinpads[0]!)
  const from = await paymentWaiting(a, 'default', rig, 0)

  const started = Date.now()
  await rig.server.close()
  const took = Date.now() - started
  t.ok(took < 8000, `close resolved within a few seconds (${took} ms)`)
  t.same(
    await a.reply('process_payment', from, 'pay'),
    { command: 'process_payment', context: 'default', command_id: 'pay', success: true, response: { status: 'canceled', error: 'The context was closed', error_type: 'MPOS_ERR_PAYMENT_CANCELED' } },
    'the pending payment was answered',
  )
  t.ok(link.some((e) => e.type === 'eot-sent'), 'the card wait was cancelled (CAN)')
  t.ok(link.some((e) => e.type === 'command' && e.id === 'CLO'), 'the pinpad received CLO')
  t.same(screenText(rig.pinpads[0]!), ['OBRIGADO', ''])
  t.same(a.events('payment_status', from), [{ event: 'payment_status', context: 'default', status: 'canceled' }], 'its payment_status was pushed')
  t.match(await a.closed, { code: 1001 }, 'sockets closed with 1001')
  t.match(await idleConnection.closed, { code: 1001 })
})

// --- The CLI -----------------------------------------------------------------------------

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as { port: number }).port
  await new Promise((r) => srv.close(r))
  return port
}

async function serve(t: Test) {
  const dataDir = await tempDir(t)
  const port = await freePort()
  const child = spawn(process.execPath, ['bin/mpos-bridge.js', 'serve', '--port', String(port), '--data-dir', dataDir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MPOS_BRIDGE_LOG_LEVEL: '' },
  })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  child.stdout.resume()
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  await until(() => stderr.includes('mpos-bridge listening') || child.exitCode !== null, 'the bridge listens')
  t.ok(stderr.includes('mpos-bridge listening'), `serve started (${stderr.slice(0, 300)})`)
  return { child, port, dataDir, exited, stderr: () => stderr }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`serve as a child process: a payment, then ${signal}`, async (t) => {
    const cli = await serve(t)
    const ws = await Client.open(t, `ws://127.0.0.1:${cli.port}/ws`, { protocol: 'mpos-bridge' })
    const sent: string[] = []
    const ask = async (request: Message) => {
      sent.push(String(request.command))
      return ws.request(request)
    }
    t.match(await ask({ command: 'list_devices' }), { success: true, response: [{ id: 1, manufacturer: 'Gertec' }] })
    t.match(await ask({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
    const payment = await ask({ command: 'process_payment', amount: 1000 })
    t.match(payment.response, { status: 'accepted', card_holder_name: 'ANA SILVA' })
    const fields = await decryptCardHash(payment.response.card_hash, cli.dataDir)
    t.equal(fields.card_number, findCard('visa-credit').pan, 'the default card, in a card hash made with the data dir key')
    t.match(await ask({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true })
    t.match(await ask({ command: 'process_payment', amount: 1013 }), { success: true, response: { status: 'canceled', error_code: 13 } })
    t.match(await ask({ command: 'finish_payment', success: false }), { success: true })
    t.match(await ask({ command: 'display_message', context: 'other', message: 'x' }), { success: false, code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER' })
    t.match(await ask({ command: 'status' }), { success: true })

    const started = Date.now()
    cli.child.kill(signal)
    const exit = await Promise.race([cli.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), WAIT_MS).unref())])
    const took = Date.now() - started
    t.same(exit, { code: 0, signal: null }, `${signal}: exit code 0`)
    t.ok(took < 8000, `${signal}: exited within a few seconds (${took} ms)`)
    t.match(await ws.closed, { code: 1001 }, 'the client saw 1001')

    const lines = cli
      .stderr()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l) as Message
        } catch {
          return { notJson: l }
        }
      })
    t.same(lines.filter((l) => l.notJson), [], 'every stderr line is a JSON log line')
    const commands = lines.filter((l) => l.msg === 'command')
    t.same(
      commands.map((l) => l.command),
      sent.filter((c) => c !== 'status' && c !== 'list_devices'),
      'one log line per command at info (the queries log at debug)',
    )
    for (const l of commands) {
      t.type(l.success, 'boolean', `${l.command}: outcome`)
      t.type(l.duration_ms, 'number', `${l.command}: duration`)
      if (!l.success) t.type(l.code, 'string', `${l.command}: error code`)
    }
    t.same(
      commands.filter((l) => l.command === 'process_payment').map((l) => l.status),
      ['accepted', 'canceled'],
      'payment lines carry the payment status',
    )
    t.ok(lines.some((l) => l.msg === 'shutting down' && l.signal === signal), 'the signal is logged')
    t.ok(lines.some((l) => l.msg === 'stopped'), 'the stop is logged')
    const captureDir = process.env[LOG_CAPTURE_ENV]
    if (captureDir) {
      // The suite's log capture (test/zz-log-scan.test.ts) reaches `serve`: its trace lines too.
      const captured = readFileSync(path.resolve(ROOT, captureDir, `${cli.child.pid}.ndjson`), 'utf8')
      t.ok(commands.every((l) => captured.includes(`"command_id":"${l.command_id}"`)), 'the log capture has the command lines')
      t.ok(captured.includes('"level":10,') && captured.includes('"msg":"link"'), 'and the link trace lines')
    }

    const text = cli.stderr()
    const card = findCard('visa-credit')
    const hash = payment.response.card_hash as string
    t.notOk(text.includes(card.pan), 'no card number in the logs')
    t.notOk(text.includes(track2(card)), 'no track 2 in the logs')
    t.notOk(text.includes(card.pan.slice(0, 6) + card.pan.slice(-4)) && text.includes(card.pan.slice(6, 12)), 'no PAN pieces')
    t.notOk(text.includes(hash) || text.includes(hash.split('_')[1]!.slice(0, 40)), 'no card hash in the logs')
    t.notOk(text.includes(fields.card_emv_data ?? '\u0000'), 'no EMV data in the logs')
    t.notOk(text.includes(EK), 'no encryption key in the logs')
  })
}
