/**
 * Customer prompts over a real WebSocket against the virtual pinpad (beyond the original
 * protocol): pinpad_menu (MNU, §3.3.13) and pinpad_input (GCD, §3.3.8) — the customer picks,
 * types, cancels on the keypad or lets the time run out; the POS cancels; the context's one-action
 * rule; a 1.x pinpad refuses them (and a secure session) with MPOS_ERR_NOT_SUPPORTED; what the
 * customer types never reaches a log line; the request is validated against what the commands allow.
 */
import t, { type Test } from 'tap'
import type { CardholderEvent } from '../../src/simulator/cardholder.js'
import type { VirtualPinpad } from '../../src/simulator/virtual-pinpad.js'
import { TYPED_VALUES } from '../fixtures/typed-values.js'
import { Client, EK, IDLE_LINES, memoryLogger, recordLink, screenText, startBridge, until, type Rig } from './helpers.js'

const MENU = { command: 'pinpad_menu', title: 'Forma de pagamento', options: ['Crédito', 'Débito', 'Voucher'] }

/** Resolves when the cardholder is next asked `type` (set up before the request is sent). */
const asked = (pad: VirtualPinpad, type: CardholderEvent['type']) =>
  new Promise<void>((resolve) => {
    const off = pad.cardholder.onEvent((e) => {
      if (e.type !== type) return
      off()
      resolve()
    })
  })

async function initialized(t: Test, options: Parameters<typeof startBridge>[1] = {}, extra: Record<string, unknown> = {}): Promise<{ rig: Rig; c: Client; pad: VirtualPinpad }> {
  const rig = await startBridge(t, options)
  const c = await Client.open(t, rig.wsUrl, { protocol: 'mpos-bridge' })
  const init = await c.request({ command: 'initialize', encryption_key: EK, device_id: 1, ...extra })
  t.equal(init.success, true, 'initialize', { init })
  return { rig, c, pad: rig.pinpads[0]! }
}

/** Sends a request without waiting; its reply comes through `c.reply(command, from, id)`. */
function send(c: Client, request: Record<string, unknown>, id: string): number {
  const from = c.messages.length
  c.sendRaw(JSON.stringify({ ...request, command_id: id }))
  return from
}

t.test('pinpad_menu: the customer moves down and presses OK', async (t) => {
  const { c, pad } = await initialized(t)
  const wire = recordLink(pad)
  const choosing = asked(pad, 'asked-to-choose')
  const from = send(c, MENU, 'menu')
  await choosing
  t.same(screenText(pad), ['Forma de pagamento', '>Crédito', 'Débito', 'Voucher'], 'the title and the options on the display, the first highlighted')
  const status = await c.request({ command: 'status' })
  t.match(status.response, { status: 'in_use', running_command: 'pinpad_menu', device_state: 'awaitingChoice' }, 'status names the running prompt')
  t.ok(c.events('status', from).some((e) => e.running_command === 'pinpad_menu'), 'a status event told the attached connections')

  // Keys reach only a pinpad that waits for one: OK once the menu is shown again.
  const again = asked(pad, 'asked-to-choose')
  pad.cardholder.press('down')
  await again
  t.same(screenText(pad), ['Forma de pagamento', 'Crédito', '>Débito', 'Voucher'], 'the second option highlighted')
  pad.cardholder.press('ok')
  const reply = await c.reply('pinpad_menu', from, 'menu')
  t.same(reply, { command: 'pinpad_menu', context: 'default', command_id: 'menu', success: true, response: { index: 1, option: 'Débito' } }, 'index (from 0) and text of the option picked')
  const mnu = wire.find((e) => e.type === 'command' && e.id === 'MNU')
  t.ok(mnu, 'MNU went to the pinpad')
  await until(() => screenText(pad).join('|') === IDLE_LINES.join('|'), 'the idle screen back')
  t.match((await c.request({ command: 'status' })).response, { status: 'initialized', device_state: 'ready' })
  t.notOk((await c.request({ command: 'status' })).response.running_command, 'nothing runs any more')
})

t.test('pinpad_menu: a direct choice, with no title; then a payment works as before', async (t) => {
  const { c, pad } = await initialized(t)
  pad.cardholder.choose(3)
  const reply = await c.request({ command: 'pinpad_menu', options: ['1 parcela', '2 parcelas', '3 parcelas'], timeout_milliseconds: 30_000 })
  t.same(reply.response, { index: 2, option: '3 parcelas' })
  const paid = await c.request({ command: 'process_payment', amount: 1000 })
  t.equal(paid.response.status, 'accepted', 'the next payment goes through')
  t.equal((await c.request({ command: 'finish_payment', success: true, response_code: '0000' })).success, true)
})

t.test('pinpad_menu: the customer presses CANCELA', async (t) => {
  const { c, pad } = await initialized(t)
  const choosing = asked(pad, 'asked-to-choose')
  const from = send(c, MENU, 'menu')
  await choosing
  pad.cardholder.press('cancel')
  const reply = await c.reply('pinpad_menu', from, 'menu')
  t.match(reply, { success: false, code: 'MPOS_ERR_PROMPT_CANCELED', error: /customer pressed CANCELA.*013/ })
  t.match((await c.request({ command: 'status' })).response, { status: 'initialized', device_state: 'ready' }, 'the context is ready again')
})

t.test('pinpad_menu: the time runs out on the pinpad (SPE_TIMEOUT → ST_TIMEOUT)', async (t) => {
  const { c, pad } = await initialized(t)
  const wire = recordLink(pad)
  const started = Date.now()
  const reply = await c.request({ ...MENU, timeout_milliseconds: 1000 })
  t.match(reply, { success: false, code: 'MPOS_ERR_PROMPT_TIMEOUT', error: 'The customer did not answer the menu within 1000 ms (012 ST_TIMEOUT)' })
  t.ok(Date.now() - started >= 900, 'not before the time')
  t.ok(wire.some((e) => e.type === 'response' && e.id === 'MNU' && e.status === '012'), 'the pinpad itself answered 012')
  t.match((await c.request({ command: 'status' })).response, { status: 'initialized', device_state: 'ready' })
})

t.test("pinpad_menu: a pinpad that keeps its answer meets the bridge's deadline (the timeout + 2 s), then CAN", async (t) => {
  const { c, pad } = await initialized(t)
  const wire = recordLink(pad)
  // Its 012 never leaves the pinpad: the host's own deadline ends the wait.
  const off = pad.onLinkEvent((e) => {
    if (e.type === 'command' && e.id === 'MNU') pad.faults.held = true
  })
  const started = Date.now()
  const reply = await c.request({ ...MENU, timeout_milliseconds: 1000 })
  off()
  pad.faults.held = false
  t.match(reply, { success: false, code: 'MPOS_ERR_PROMPT_TIMEOUT' })
  t.ok(Date.now() - started >= 2900, `after the timeout and the 2 s grace (${Date.now() - started} ms)`)
  t.ok(wire.some((e) => e.type === 'eot-sent'), 'the command was cancelled on the wire (CAN/EOT)')
  t.match((await c.request({ command: 'status' })).response, { status: 'initialized', device_state: 'ready' })
})

t.test('pinpad_menu: cancel from /ws sends CAN; the menu is answered once the pinpad confirmed', async (t) => {
  const { c, pad } = await initialized(t)
  const wire = recordLink(pad)
  const choosing = asked(pad, 'asked-to-choose')
  const from = send(c, MENU, 'menu')
  await choosing
  t.match(await c.request({ command: 'cancel' }), { success: true }, 'cancel is answered')
  const reply = await c.reply('pinpad_menu', from, 'menu')
  t.match(reply, { success: false, code: 'MPOS_ERR_PROMPT_CANCELED', error: /cancel request/ })
  t.ok(wire.some((e) => e.type === 'eot-sent'), 'the pinpad answered the CAN with EOT')
  t.notOk(wire.some((e) => e.type === 'response' && e.id === 'MNU'), 'MNU never answered: it was aborted')
  t.match((await c.request({ command: 'status' })).response, { status: 'initialized', device_state: 'ready' })
  t.match(await c.request({ command: 'cancel' }), { success: false, code: 'MPOS_ERR_NOTHING_TO_CANCEL' }, 'nothing left to cancel')
})

t.test('one action at a time: a prompt makes the context busy, and waits its turn itself', async (t) => {
  const { rig, c, pad } = await initialized(t)
  const other = await Client.open(t, rig.wsUrl)
  const choosing = asked(pad, 'asked-to-choose')
  const from = send(c, MENU, 'menu')
  await choosing
  for (const request of [
    { command: 'process_payment', amount: 1000 },
    { command: 'display_message', message: 'OLA' },
    { command: 'pinpad_input', prompt: 'cpf' },
    { command: 'pinpad_menu', options: ['A'] },
  ]) {
    const r = await other.request(request)
    t.match(r, { success: false, code: 'MPOS_ERR_CONTEXT_BUSY', error: `${request.command} refused: pinpad_menu is running in context "default"` }, `${request.command} refused`)
  }
  pad.cardholder.choose(1)
  t.match((await c.reply('pinpad_menu', from, 'menu')).response, { index: 0, option: 'Crédito' })

  // A payment running refuses a prompt the same way; a payment owing its finish_payment, by order.
  pad.cardholder.options.autoCard = null
  const payFrom = send(c, { command: 'process_payment', amount: 1000 }, 'pay')
  await until(() => c.events('pinpad_message', payFrom).length > 0, 'the card prompt')
  t.match(await other.request({ command: 'pinpad_input', prompt: 'cpf' }), { code: 'MPOS_ERR_CONTEXT_BUSY', error: /process_payment is running/ })
  pad.cardholder.options.autoCard = 'visa-credit'
  pad.cardholder.present('visa-credit')
  t.equal((await c.reply('process_payment', payFrom, 'pay')).response.status, 'accepted')
  t.match(await other.request(MENU), { code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER', error: /allowed: finish_payment, cancel/ }, 'finish_payment first')
  t.equal((await c.request({ command: 'finish_payment', success: true, response_code: '0000' })).success, true)
  pad.cardholder.choose(2)
  t.match((await c.request(MENU)).response, { index: 1, option: 'Débito' }, 'then the menu')
})

t.test('prompts before initialize are out of order', async (t) => {
  const rig = await startBridge(t)
  const c = await Client.open(t, rig.wsUrl)
  for (const request of [MENU, { command: 'pinpad_input', prompt: 'cpf' }]) {
    t.match(await c.request(request), { success: false, code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER', error: `${request.command} is not allowed now in context "default"; allowed: initialize, status, list_devices, close` })
  }
})

t.test('pinpad_input: the customer types a CPF; the value is in the answer and in no log line', async (t) => {
  const memory = memoryLogger('trace')
  const { c, pad } = await initialized(t, { logger: memory.logger })
  const value = TYPED_VALUES.cpf
  const typing = asked(pad, 'asked-for-data')
  const from = send(c, { command: 'pinpad_input', prompt: 'cpf', min_digits: 11, max_digits: 11, timeout_milliseconds: 60_000 }, 'cpf')
  await typing
  t.same(screenText(pad), ['DIGITE O CPF'], "the table's message on the display (§3.3.8)")
  t.match((await c.request({ command: 'status' })).response, { running_command: 'pinpad_input', device_state: 'awaitingInput' })
  pad.cardholder.enter('123') // too short for min_digits 11: the keypad does not confirm it
  pad.cardholder.enter(value)
  const reply = await c.reply('pinpad_input', from, 'cpf')
  t.same(reply, { command: 'pinpad_input', context: 'default', command_id: 'cpf', success: true, response: { value } })
  const lines = memory.lines()
  t.ok(lines.some((l) => l.command === 'pinpad_input' && l.success === true), 'the command is logged (outcome, duration)')
  t.ok(lines.some((l) => l.msg === 'link' && l.command === 'GCD'), 'the link traced GCD at trace level')
  t.same(lines.filter((l) => JSON.stringify(l).includes(value)), [], 'the value is in no log line')
  // A second line of defence: GCD's answer field is redacted should anyone log a raw answer.
  memory.logger.child({ component: 'test' }).info({ answer: { PP_VALUE: 'REDACT-ME' } }, 'raw GCD answer')
  t.match(memory.lines().find((l) => l.msg === 'raw GCD answer'), { answer: { PP_VALUE: '[redacted]' } }, 'PP_VALUE is redacted')
})

t.test('pinpad_input: the customer presses CANCELA; the time runs out', async (t) => {
  const { c, pad } = await initialized(t)
  const typing = asked(pad, 'asked-for-data')
  const from = send(c, { command: 'pinpad_input', prompt: 'phone' }, 'phone')
  await typing
  t.same(screenText(pad), ['DIGITE O TELEFONE'])
  pad.cardholder.press('cancel')
  t.match(await c.reply('pinpad_input', from, 'phone'), { success: false, code: 'MPOS_ERR_PROMPT_CANCELED', error: /GCD answered 013/ })
  t.match(await c.request({ command: 'pinpad_input', prompt: 'installments', timeout_milliseconds: 1000 }), {
    success: false,
    code: 'MPOS_ERR_PROMPT_TIMEOUT',
    error: 'The customer did not answer the prompt within 1000 ms (012 ST_TIMEOUT)',
  })
})

t.test('the last connection going away cancels a prompt on the pinpad', async (t) => {
  const { rig, c, pad } = await initialized(t)
  const wire = recordLink(pad)
  const typing = asked(pad, 'asked-for-data')
  send(c, { command: 'pinpad_input', prompt: 'table_number' }, 'table')
  await typing
  c.terminate()
  await until(() => wire.some((e) => e.type === 'eot-sent'), 'the CAN confirmed')
  const c2 = await Client.open(t, rig.wsUrl)
  await until(() => rig.server.runtime.contexts().find((x) => x.name === 'default')?.device_state === 'ready', 'the pinpad ready again')
  t.match((await c2.request({ command: 'status' })).response, { status: 'initialized', device_state: 'ready' })
})

t.test('a 1.x pinpad: MPOS_ERR_NOT_SUPPORTED naming its version, nothing sent to it', async (t) => {
  const { c, pad } = await initialized(t, { runtime: { simulator: { identity: { specVersion: '1.08' } } } })
  const wire = recordLink(pad)
  for (const [request, abecs] of [
    [MENU, 'MNU'],
    [{ command: 'pinpad_input', prompt: 'cpf' }, 'GCD'],
  ] as const) {
    const r = await c.request(request)
    t.match(r, { success: false, code: 'MPOS_ERR_NOT_SUPPORTED', error: new RegExp(`^${request.command} is not supported by this pinpad \\(ABECS 1\\.08\\): ${abecs} `) })
  }
  t.notOk(wire.some((e) => e.type === 'command' && (e.id === 'MNU' || e.id === 'GCD')), 'no MNU or GCD on the wire')
  t.match((await c.request({ command: 'status' })).response, { status: 'initialized', device_state: 'ready' }, 'the context goes on')
  t.equal((await c.request({ command: 'process_payment', amount: 1000 })).response.status, 'accepted', 'a payment still works')
})

t.test('initialize secure_session: a sealed session on a 2.x pinpad, refused on a 1.x one', async (t) => {
  const { c, pad } = await initialized(t, {}, { secure_session: true })
  t.ok(pad.secure.active, 'the pinpad holds a secure session (§5.2)')
  pad.cardholder.choose(2)
  t.match((await c.request(MENU)).response, { index: 1, option: 'Débito' }, 'a menu through the sealed link')
  t.equal((await c.request({ command: 'process_payment', amount: 1000 })).response.status, 'accepted', 'a payment through the sealed link')
  t.equal((await c.request({ command: 'finish_payment', success: true, response_code: '0000' })).success, true)
  t.equal((await c.request({ command: 'close' })).success, true, 'close (CLO ends the session)')
  t.notOk(pad.secure.active, 'the session is over')

  const rig108 = await startBridge(t, { runtime: { simulator: { identity: { specVersion: '1.08' } } } })
  const c108 = await Client.open(t, rig108.wsUrl)
  const r = await c108.request({ command: 'initialize', encryption_key: EK, device_id: 1, secure_session: true })
  t.match(r, { success: false, code: 'MPOS_ERR_NOT_SUPPORTED', error: /^secure_session is not supported by this pinpad \(ABECS 1\.08\)/ })
  t.match((await c108.request({ command: 'status' })).response, { status: 'idle', last_error: { code: 'MPOS_ERR_NOT_SUPPORTED' } })
  t.equal((await c108.request({ command: 'initialize', encryption_key: EK, device_id: 1 })).success, true, 'initialize without it works')
})

t.test('what MNU and GCD allow: MPOS_ERR_INVALID_FIELD, nothing sent', async (t) => {
  const { c, pad } = await initialized(t)
  const wire = recordLink(pad)
  const invalid: Array<[Record<string, unknown>, RegExp]> = [
    [{ command: 'pinpad_menu' }, /^options is required$/],
    [{ command: 'pinpad_menu', options: [] }, /^options must NOT have fewer than 1 items/],
    [{ command: 'pinpad_menu', options: Array.from({ length: 21 }, (_, i) => `Opcao ${i + 1}`) }, /^options must NOT have more than 20 items/],
    [{ command: 'pinpad_menu', options: ['x'.repeat(25)] }, /^options\.0 must NOT have more than 24 characters/],
    [{ command: 'pinpad_menu', options: [''] }, /^options\.0 must NOT have fewer than 1 characters/],
    [{ command: 'pinpad_menu', options: ['Crédito', 'Linha\nnova'] }, /^options\.1 must match pattern/],
    [{ command: 'pinpad_menu', options: ['Pix ✓'] }, /^options\.0 must match pattern/],
    [{ command: 'pinpad_menu', options: [3] }, /^options\.0 must be a string/],
    [{ command: 'pinpad_menu', title: 't'.repeat(129), options: ['A'] }, /^title must NOT have more than 128 characters/],
    [{ command: 'pinpad_menu', options: ['A'], timeout_milliseconds: 999 }, /^timeout_milliseconds must be ≥ 1000/],
    [{ command: 'pinpad_menu', options: ['A'], timeout_milliseconds: 600_001 }, /^timeout_milliseconds must be ≤ 600000/],
    [{ command: 'pinpad_input' }, /^prompt is required$/],
    [{ command: 'pinpad_input', prompt: 'DIGITE O CPF' }, /^prompt must be one of ddd, ddd_again, .*… \(51 names, see the README\) \(got "DIGITE O CPF"\)$/],
    [{ command: 'pinpad_input', prompt: 'card_number' }, /^prompt must be one of .*\(got "card_number"\)$/],
    [{ command: 'pinpad_input', prompt: 'security_code' }, /^prompt must be one of .*\(got "security_code"\)$/],
    [{ command: 'pinpad_input', prompt: 7 }, /^prompt must be a string/],
    [{ command: 'pinpad_input', prompt: 'cpf', max_digits: 33 }, /^max_digits must be ≤ 32/],
    [{ command: 'pinpad_input', prompt: 'cpf', max_digits: 0 }, /^max_digits must be ≥ 1/],
    [{ command: 'pinpad_input', prompt: 'cpf', min_digits: 12, max_digits: 11 }, /^min_digits \(12\) must not exceed max_digits \(11\)$/],
    [{ command: 'initialize', encryption_key: EK, secure_session: 'yes' }, /^secure_session must be a boolean/],
  ]
  for (const [request, error] of invalid) {
    const r = await c.request(request)
    t.match(r, { success: false, code: 'MPOS_ERR_INVALID_FIELD', error }, JSON.stringify(request).slice(0, 80))
    t.ok(JSON.stringify(r).length < 600, 'a small answer')
  }
  t.notOk(wire.some((e) => e.type === 'command' && (e.id === 'MNU' || e.id === 'GCD')), 'nothing reached the pinpad')
  // The limits themselves pass: 20 options of 24 characters, a title of 128 with a line break.
  pad.cardholder.choose(20)
  const options = Array.from({ length: 20 }, (_, i) => `${String(i + 1).padStart(2, '0')} ${'ç'.repeat(21)}`)
  const r = await c.request({ command: 'pinpad_menu', title: `${'T'.repeat(60)}\n${'t'.repeat(67)}`, options })
  t.same(r.response, { index: 19, option: options[19] }, 'the largest menu MNU allows')
})
