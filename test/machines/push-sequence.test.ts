/**
 * What one connection sees, message by message, through the common flows: the status pushes (one
 * per change of status, device step or running command, in the order they change), the pinpad's
 * prompts, payment_status and the replies. Clients follow this sequence, so it must not change when
 * the actors change how they tell each other (the context hears the device's steps, not every
 * snapshot of it).
 */
import t from 'tap'
import type { Outgoing } from '../../machines/session.machine.js'
import { KEY, startBridge, type Client } from './helpers/bridge-rig.js'
import { startSandbox, type Sandbox } from './helpers/sandbox.js'

let sandbox: Sandbox
t.before(async () => {
  sandbox = await startSandbox(t)
})

/** A message as a short line: "status in_use awaitingCard process_payment", "reply process_payment accepted". */
function line(m: Outgoing): string {
  if (m.kind === 'reply') {
    const response = (m as { response?: { status?: string; approved?: boolean } }).response
    const error = (m as { error?: { code: string } }).error
    return ['reply', m.command, m.success ? 'ok' : error?.code, response?.status ?? (response?.approved !== undefined ? `approved=${response.approved}` : undefined)].filter(Boolean).join(' ')
  }
  const e = m.event as { event: string; status?: string; device_state?: string; running_command?: string; lines?: string[] }
  if (e.event === 'status') return ['status', e.status, e.device_state ?? '-', e.running_command ?? '-'].join(' ')
  if (e.event === 'pinpad_message') return `pinpad_message ${e.lines!.join(' / ')}`
  return [e.event, e.status].filter(Boolean).join(' ')
}

const since = (c: Client, from: number) => c.messages.slice(from).map(line)

t.test('payments, a cancelled one, a message: every message a connection sees, in order', async (t) => {
  const b = await startBridge(t, { sandbox })
  const pad = b.pads[0]!
  const c = b.client()
  t.equal((await c.call('shop', { command: 'initialize', encryption_key: KEY })).success, true)
  for (let round = 1; round <= 2; round++) {
    const from = c.messages.length
    t.equal(line(await c.call('shop', { command: 'process_payment', amount: 1000 })), 'reply process_payment ok accepted')
    t.equal(line(await c.call('shop', { command: 'finish_payment', success: true, response_code: '0000', emv_data: '8A023030910A01020304050607083030' })), 'reply finish_payment ok approved=true')
    await b.settle('context:shop', { initialized: { activity: 'ready', obligation: 'none' } })
    t.same(since(c, from), EXPECTED_PAYMENT, `a chip payment with online PIN, finished (${round})`)
  }

  // No card comes: the payment is cancelled from the POS while the card is awaited.
  pad.cardholder.options.autoCard = null
  const from = c.messages.length
  const events = c.events().length
  const payment = c.send('shop', { command: 'process_payment', amount: 1000 })
  await c.event((e) => e.event === 'status' && e.device_state === 'awaitingCard', events)
  t.equal(line(await c.call('shop', { command: 'cancel' })), 'reply cancel ok')
  t.equal(line(await c.reply(payment)), 'reply process_payment ok canceled')
  t.equal(line(await c.call('shop', { command: 'finish_payment', success: false })), 'reply finish_payment ok')
  t.equal(line(await c.call('shop', { command: 'display_message', message: 'OLA' })), 'reply display_message ok')
  await b.settle('context:shop', { initialized: { activity: 'ready', obligation: 'none' } })
  t.same(since(c, from), EXPECTED_CANCEL, 'a payment cancelled while the card is awaited, then a message shown')
})

const EXPECTED_PAYMENT = [
  'status in_use ready process_payment',
  'status in_use awaitingCard process_payment',
  'pinpad_message APROXIME, INSIRA / OU PASSE CARTAO',
  'pinpad_message SELECIONADO: / VISA CREDITO',
  'status in_use onChip process_payment',
  'pinpad_message SOLICITE A SENHA',
  'status in_use processed process_payment',
  'payment_status accepted',
  'reply process_payment ok accepted',
  'status initialized awaitingFinish -',
  'status in_use awaitingFinish finish_payment',
  'status in_use finishing finish_payment',
  'status in_use removingCard finish_payment',
  'reply finish_payment ok approved=true',
  'status initialized ready -',
]
const EXPECTED_CANCEL = [
  'status in_use ready process_payment',
  'status in_use awaitingCard process_payment',
  'reply cancel ok',
  'payment_status canceled',
  'status in_use cancelling process_payment',
  'reply process_payment ok canceled',
  'status initialized ready -',
  'reply finish_payment ok',
  'status in_use ready display_message',
  'status in_use displaying display_message',
  'reply display_message ok',
  'status initialized ready -',
]

t.test('initialize (with the table sync, and without) and close: every message in order', async (t) => {
  for (const [extra, expected] of [
    [{}, ['status in_use - initialize', 'status in_use connecting initialize', 'status in_use syncingTables initialize', 'reply initialize ok']],
    [{ simple_initialize: true }, ['status in_use - initialize', 'status in_use connecting initialize', 'reply initialize ok']],
  ] as const) {
    const b = await startBridge(t, { sandbox })
    const c = b.client()
    t.equal(line(await c.call('shop', { command: 'status' })), 'reply status ok idle')
    const from = c.messages.length
    await c.call('shop', { command: 'initialize', encryption_key: KEY, ...extra })
    await c.call('shop', { command: 'close' })
    t.same(
      since(c, from),
      [...expected, 'status initialized ready -', 'status in_use ready close', 'status in_use closing close', 'reply close ok', 'status idle - -'],
      JSON.stringify(extra),
    )
  }
})
