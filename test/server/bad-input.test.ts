/**
 * Bad input over `/ws`: every bad message gets an answer in the protocol's shape (`success:
 * false`, a clear `error`, a stable `code`), and both that connection and another open one keep
 * working. Messages above the hard limit close only the sender (1009). Context rules: commands
 * out of order, unknown or held devices, a second command while one runs, `status` at any time.
 */
import t, { type Test } from 'tap'
import { Client, EK, startBridge, type Message } from './helpers.js'

/** Both connections still answer. */
async function stillWorking(t: Test, clients: Client[], context = 'default'): Promise<void> {
  for (const [i, c] of clients.entries()) {
    t.ok(c.open, `connection ${i + 1} is open`)
    const reply = await c.request({ command: 'status', context })
    t.equal(reply.success, true, `connection ${i + 1} still answers`)
  }
}

t.test('malformed messages get a protocol answer and break nothing', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl, { protocol: 'mpos-bridge' })
  const other = await Client.open(t, rig.wsUrl)

  const cases: Array<[string, string, Message]> = [
    ['not JSON', 'hello there', { context: 'default', success: false, error: 'The message is not valid JSON', code: 'MPOS_ERR_INVALID_JSON' }],
    ['truncated JSON', '{"command": "status"', { context: 'default', success: false, error: 'The message is not valid JSON', code: 'MPOS_ERR_INVALID_JSON' }],
    ['an array', '[{"command":"status"}]', { context: 'default', success: false, error: 'The message must be a JSON object', code: 'MPOS_ERR_INVALID_MESSAGE' }],
    ['a number', '42', { context: 'default', success: false, error: 'The message must be a JSON object', code: 'MPOS_ERR_INVALID_MESSAGE' }],
    ['null', 'null', { context: 'default', success: false, error: 'The message must be a JSON object', code: 'MPOS_ERR_INVALID_MESSAGE' }],
    ['a string', '"status"', { context: 'default', success: false, error: 'The message must be a JSON object', code: 'MPOS_ERR_INVALID_MESSAGE' }],
    ['empty object', '{}', { context: 'default', success: false, error: 'command is required', code: 'MPOS_ERR_MISSING_COMMAND' }],
    [
      'missing command, context and command_id echoed',
      '{"context":"till","command_id":"c-1","amount":100}',
      { context: 'till', command_id: 'c-1', success: false, error: 'command is required', code: 'MPOS_ERR_MISSING_COMMAND' },
    ],
    [
      'unknown command',
      '{"command":"refund","command_id":7}',
      { context: 'default', command: 'refund', command_id: 7, success: false, error: 'Unknown command "refund"', code: 'MPOS_ERR_UNKNOWN_COMMAND' },
    ],
    ['command not a string', '{"command":42}', { context: 'default', success: false, error: 'command must be a string (got 42)', code: 'MPOS_ERR_INVALID_FIELD' }],
    [
      'command_id an object',
      '{"command":"status","command_id":{"a":1}}',
      { context: 'default', command: 'status', success: false, error: 'command_id must be a string (got {"a":1})', code: 'MPOS_ERR_INVALID_FIELD' },
    ],
    [
      'amount as a string',
      '{"command":"process_payment","amount":"1000"}',
      { context: 'default', command: 'process_payment', success: false, error: 'amount must be a positive integer number of cents, at most 1000000000 (got "1000")', code: 'MPOS_ERR_INVALID_FIELD' },
    ],
    [
      'amount 10.5',
      '{"command":"process_payment","amount":10.5}',
      { context: 'default', command: 'process_payment', success: false, error: 'amount must be a positive integer number of cents, at most 1000000000 (got 10.5)', code: 'MPOS_ERR_INVALID_FIELD' },
    ],
    [
      'amount 0',
      '{"command":"process_payment","amount":0}',
      { context: 'default', command: 'process_payment', success: false, error: 'amount must be a positive integer number of cents, at most 1000000000 (got 0)', code: 'MPOS_ERR_INVALID_FIELD' },
    ],
    [
      'amount negative',
      '{"command":"process_payment","amount":-500}',
      { context: 'default', command: 'process_payment', success: false, error: 'amount must be a positive integer number of cents, at most 1000000000 (got -500)', code: 'MPOS_ERR_INVALID_FIELD' },
    ],
    [
      'amount absurdly large',
      '{"command":"process_payment","amount":100000000000000000000}',
      { context: 'default', command: 'process_payment', success: false, error: 'amount must be a positive integer number of cents, at most 1000000000 (got 100000000000000000000)', code: 'MPOS_ERR_AMOUNT_TOO_LARGE' },
    ],
    ['amount missing', '{"command":"process_payment"}', { context: 'default', command: 'process_payment', success: false, error: 'amount is required', code: 'MPOS_ERR_INVALID_FIELD' }],
    [
      'encryption_key a number',
      '{"command":"initialize","encryption_key":12345,"device_id":1}',
      { context: 'default', command: 'initialize', success: false, error: 'encryption_key must be a string (got 12345)', code: 'MPOS_ERR_INVALID_FIELD' },
    ],
    [
      'device_id "1"',
      `{"command":"initialize","encryption_key":"${EK}","device_id":"1"}`,
      { context: 'default', command: 'initialize', success: false, error: 'device_id must be an integer (got "1")', code: 'MPOS_ERR_INVALID_FIELD' },
    ],
    [
      'finish_payment with a bad response code',
      '{"command":"finish_payment","success":true,"response_code":"00 00"}',
      { context: 'default', command: 'finish_payment', success: false, error: 'response_code must match pattern "^[0-9A-Za-z]{2,4}$" (got "00 00")', code: 'MPOS_ERR_INVALID_FIELD' },
    ],
  ]
  for (const [name, text, expected] of cases) {
    const answer = await ws.exchange(text)
    t.same(answer, expected, `${name}: answered in the protocol's shape`)
  }
  await stillWorking(t, [ws, other])

  // Nothing reached a context: the default one was never created by the bad messages.
  t.same(rig.server.runtime.contexts().map((c) => c.name), ['default'], 'only the status requests created a context')
})

t.test('binary frames are refused with an answer', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl)
  const other = await Client.open(t, rig.wsUrl)
  const expected = { context: 'default', success: false, error: 'Binary messages are not accepted: send JSON text', code: 'MPOS_ERR_INVALID_MESSAGE' }
  let from = ws.messages.length
  ws.sendRaw(Buffer.from('{"command":"status"}'), { binary: true })
  t.same(await ws.next((m) => m.event === undefined, from), expected, 'binary JSON is still refused')
  from = ws.messages.length
  ws.sendRaw(Buffer.from([0, 1, 2, 255]), { binary: true })
  t.same(await ws.next((m) => m.event === undefined, from), expected, 'arbitrary bytes too')
  await stillWorking(t, [ws, other])
})

t.test('message size: an answer above the limit, a 1009 close above maxPayload', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl)
  const other = await Client.open(t, rig.wsUrl)

  const big = JSON.stringify({ command: 'display_message', message: 'x'.repeat(65 * 1024) })
  t.same(await ws.exchange(big), { context: 'default', success: false, error: 'Messages are limited to 65536 bytes', code: 'MPOS_ERR_MESSAGE_TOO_LARGE' })
  // Under the size limit and within the shape limits (no string over 4096 characters): served.
  const padding = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`padding${i}`, 'y'.repeat(3200)]))
  const justUnder = JSON.stringify({ command: 'status', ...padding })
  t.ok(Buffer.byteLength(justUnder) <= 64 * 1024)
  t.match(await ws.exchange(justUnder), { command: 'status', success: true }, 'a message just under the limit is served')
  await stillWorking(t, [ws, other])

  // Above the hard limit (1 MiB) ws closes the sender with 1009 (message too big); others go on.
  const huge = JSON.stringify({ command: 'status', padding: 'z'.repeat(1024 * 1024 + 10) })
  ws.sendRaw(huge)
  const closed = await ws.closed
  t.equal(closed.code, 1009, 'closed with 1009')
  await stillWorking(t, [other])
  t.equal(rig.server.runtime.sessionCount, 1, 'the closed connection is gone from the runtime')
})

t.test('context rules: order, devices, one action at a time, status at any time', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl)
  const other = await Client.open(t, rig.wsUrl)

  t.same(
    await ws.request({ command: 'process_payment', amount: 1000, command_id: 'p0' }),
    {
      command: 'process_payment',
      context: 'default',
      command_id: 'p0',
      success: false,
      error: 'process_payment is not allowed now in context "default"; allowed: initialize, status, list_devices, close',
      code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER',
    },
    'process_payment before initialize says what is allowed now',
  )
  t.match(await ws.request({ command: 'finish_payment', success: true }), {
    success: false,
    code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER',
    error: 'finish_payment is not allowed now in context "default"; allowed: initialize, status, list_devices, close',
  })
  t.match(await ws.request({ command: 'display_message', message: 'hi' }), { success: false, code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER' })
  t.match(await ws.request({ command: 'cancel' }), { success: false, code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER' })

  t.same(
    await ws.request({ command: 'initialize', encryption_key: EK, device_id: 99, command_id: 'i0' }),
    { command: 'initialize', context: 'default', command_id: 'i0', success: false, error: 'There is no device with id 99', code: 'MPOS_ERR_DEVICE_NOT_FOUND' },
    'a device id that does not exist',
  )
  t.match((await ws.request({ command: 'status' })).response, { status: 'idle', connected_device_id: null })

  // Context "front" holds device 1: another context cannot have it, and is told who holds it.
  t.match(await other.request({ command: 'initialize', context: 'front', encryption_key: EK, device_id: 1 }), { success: true })
  t.same(
    await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1, command_id: 'i1' }),
    { command: 'initialize', context: 'default', command_id: 'i1', success: false, error: 'Device 1 is already in use by context "front"', code: 'MPOS_ERR_DEVICE_IN_USE' },
    'the error names the holder',
  )
  // Without device_id, the first device nobody holds.
  t.match(await ws.request({ command: 'initialize', encryption_key: EK }), { success: true })
  t.match((await ws.request({ command: 'status' })).response, { status: 'initialized', connected_device_id: 2 })
  t.match(await ws.request({ command: 'finish_payment', success: true }), {
    success: false,
    code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER',
    error: 'finish_payment is not allowed now in context "default"; allowed: process_payment, display_message, pinpad_menu, pinpad_input, status, list_devices, close',
  })

  // A payment waits for a card: every other command is refused at once, naming it.
  const pad = rig.pinpads[1]!
  pad.cardholder.options.autoCard = null
  const from = ws.messages.length
  ws.sendRaw(JSON.stringify({ command: 'process_payment', amount: 1000, command_id: 'pay' }))
  await ws.next((m) => m.event === 'status' && m.device_state === 'awaitingCard', from, 'the card wait')
  const busy = 'process_payment is running in context "default"'
  for (const [request, name] of [
    [{ command: 'display_message', message: 'hello' }, 'display_message'],
    [{ command: 'process_payment', amount: 500 }, 'process_payment'],
    [{ command: 'finish_payment', success: true }, 'finish_payment'],
    [{ command: 'initialize', encryption_key: EK }, 'initialize'],
  ] as const) {
    const refused = await ws.request(request)
    t.match(refused, { command: name, success: false, code: 'MPOS_ERR_CONTEXT_BUSY', error: `${name} refused: ${busy}` }, `${name} refused naming the running command`)
  }
  const fromOther = await other.request({ command: 'display_message', message: 'hello' })
  t.match(fromOther, { success: false, code: 'MPOS_ERR_CONTEXT_BUSY', error: `display_message refused: ${busy}` }, 'also from another connection')
  const status = await other.request({ command: 'status' })
  t.same(
    status.response,
    { status: 'in_use', connected_device_id: 2, devices_available: 2, available_devices: 2, device_state: 'awaitingCard', running_command: 'process_payment' },
    'status answers mid-payment',
  )
  t.notOk(ws.messages.some((m) => m.command === 'process_payment' && m.command_id === 'pay'), 'the payment is still waiting: the refusals came at once')

  pad.cardholder.present('visa-credit')
  const paid = await ws.reply('process_payment', from, 'pay')
  pad.cardholder.options.autoCard = 'visa-credit' // so that the cardholder takes the card back after finish_payment
  t.match(paid.response, { status: 'accepted' })
  t.match(await ws.request({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true })
  await stillWorking(t, [ws, other])
  await stillWorking(t, [other], 'front')
})

t.test('a second initialize while the first runs is refused naming it', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  const from = a.messages.length
  a.sendRaw(JSON.stringify({ command: 'initialize', encryption_key: EK, device_id: 1, command_id: 'first' }))
  a.sendRaw(JSON.stringify({ command: 'initialize', encryption_key: EK, device_id: 1, command_id: 'second' }))
  const second = await a.reply('initialize', from, 'second')
  t.same(
    second,
    { command: 'initialize', context: 'default', command_id: 'second', success: false, error: 'initialize refused: initialize is running in context "default"', code: 'MPOS_ERR_CONTEXT_BUSY' },
    'not "already initialized": it is not yet',
  )
  t.match(await a.reply('initialize', from, 'first'), { success: true })
  t.match(await a.request({ command: 'initialize', encryption_key: EK }), { success: false, code: 'MPOS_ERR_ALREADY_INITIALIZED' }, 'once ready: already initialized')
})
