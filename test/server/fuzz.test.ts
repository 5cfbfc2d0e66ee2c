/**
 * Property test over the whole `/ws` surface (fast-check): at least 10,000 generated messages per
 * run — valid commands with random fields (customer prompts included), every field with a wrong type, random JSON, deep
 * nesting, huge strings, `__proto__`/`constructor` keys, text that is not JSON, binary frames —
 * sent in batches over real WebSockets to a bridge with two virtual pinpads. Every message gets
 * exactly one answer in the protocol's shape (a coded error or a success), and the bridge stays
 * healthy: /health answers, a plain status round trip works, contexts stay bounded.
 *
 * MPOS_FUZZ_RUNS raises the number of messages for a long local run (e.g. MPOS_FUZZ_RUNS=200000);
 * MPOS_FUZZ_SEED replays the run of a seed that a failure printed.
 */
import t from 'tap'
import fc from 'fast-check'
import { MAX_CONTEXTS } from '../../machines/bridge.machine.js'
import { Client, EK, httpGet, startBridge, type Message } from './helpers.js'

const MESSAGES = Math.max(10_000, Number(process.env.MPOS_FUZZ_RUNS ?? 0))
const BATCH = 100
const COMMANDS = ['list_devices', 'initialize', 'status', 'display_message', 'process_payment', 'finish_payment', 'close', 'cancel', 'pinpad_menu', 'pinpad_input']

/** A message as sent: text (JSON or not) or a binary frame, and the command_id it carries if valid. */
interface Sent {
  data: string | Uint8Array
  id?: string
}

const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 80 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(null, true, false, -1, 0, 1e308, '', '0', 'NaN', '__proto__'),
)

/** A field value: mostly plausible for that field, sometimes anything. */
const fieldValue = (field: string) => {
  const plausible: Record<string, fc.Arbitrary<unknown>> = {
    encryption_key: fc.constantFrom(EK, 'ek_live_refused', 'x'),
    device_id: fc.constantFrom(1, 2, 3, 0, -1),
    baud_rate: fc.constantFrom(19200, 115200, 7),
    simple_initialize: fc.boolean(),
    timeout_milliseconds: fc.constantFrom(5000, 60_000, 100, 600_001),
    message: fc.string({ maxLength: 200 }),
    amount: fc.oneof(fc.integer({ min: 1, max: 5000 }), fc.constantFrom(0, -5, 1.5, 10 ** 12)),
    applications: fc.array(fc.record({ brand: fc.constantFrom('visa', 'mastercard', 'elo', ''), payment_method: fc.constantFrom('credit_card', 'debit_card', 'pix') }), { maxLength: 3 }),
    magstripe_payment_method: fc.constantFrom('credit_card', 'debit_card', 'cash'),
    success: fc.boolean(),
    response_code: fc.constantFrom('0000', '0051', '00 00', ''),
    emv_data: fc.constantFrom('910A0102030405060708090A', 'zz', ''),
    secure_session: fc.boolean(),
    title: fc.constantFrom('Forma de pagamento', 'Parcelas\nem quantas vezes?', '', 'x'.repeat(129)),
    options: fc.oneof(fc.array(fc.constantFrom('Crédito', 'Débito', 'Voucher', 'Pix ✓', '', 'x'.repeat(25)), { maxLength: 22 }), fc.constant(['Crédito', 'Débito'])),
    prompt: fc.constantFrom('cpf', 'phone', 'installments', 'card_number', 'DIGITE O CPF', ''),
  }
  return fc.oneof({ weight: 4, arbitrary: plausible[field] ?? anyValue }, { weight: 1, arbitrary: anyValue })
}

// min_digits/max_digits are left out: the automatic cardholder's data (autoData) would not fit
// every random bound, and a prompt nobody can answer waits for its whole timeout.
const FIELDS = [
  'encryption_key',
  'device_id',
  'baud_rate',
  'simple_initialize',
  'timeout_milliseconds',
  'message',
  'amount',
  'applications',
  'magstripe_payment_method',
  'success',
  'response_code',
  'emv_data',
  'secure_session',
  'title',
  'options',
  'prompt',
]

/** A command-shaped object: a known or odd command, a context from a small pool or odd, fields. */
const commandObject = fc
  .record({
    command: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...COMMANDS) }, { weight: 1, arbitrary: anyValue }),
    context: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('default', 'till-a', 'till-b') }, { weight: 1, arbitrary: anyValue }, { weight: 1, arbitrary: fc.constant(undefined) }),
    badId: fc.option(anyValue, { freq: 5 }),
    fields: fc.uniqueArray(fc.constantFrom(...FIELDS), { maxLength: 5 }).chain((names) => fc.tuple(...names.map((n) => fieldValue(n).map((v) => [n, v] as const)))),
    extra: fc.option(fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'x'), anyValue, { maxKeys: 3 }), { freq: 4 }),
  })
  .map(({ command, context, badId, fields, extra }) => ({ command, context, badId, body: Object.fromEntries(fields), extra }))

/** Well-formed steps of a real flow on the two tills, so that payments really run among the noise. */
const flowStep = fc.oneof(
  fc.constantFrom('till-a', 'till-b').map((context) => ({ command: 'initialize', context, encryption_key: EK, device_id: context === 'till-a' ? 1 : 2 })),
  fc.record({
    command: fc.constant('process_payment'),
    context: fc.constantFrom('till-a', 'till-b'),
    amount: fc.constantFrom(1000, 1502, 1503, 1512, 1513, 1570, 1571, 2099),
    magstripe_payment_method: fc.constantFrom('credit_card', 'debit_card'),
  }),
  fc.record({ command: fc.constant('finish_payment'), context: fc.constantFrom('till-a', 'till-b'), success: fc.boolean(), response_code: fc.constantFrom('0000', '0051') }),
  fc.record({ command: fc.constantFrom('status', 'cancel', 'display_message', 'close'), context: fc.constantFrom('till-a', 'till-b'), message: fc.constant('OLA') }),
  fc.record({ command: fc.constant('pinpad_menu'), context: fc.constantFrom('till-a', 'till-b'), title: fc.constant('Forma de pagamento'), options: fc.constant(['Crédito', 'Débito', 'Voucher']) }),
  fc.record({ command: fc.constant('pinpad_input'), context: fc.constantFrom('till-a', 'till-b'), prompt: fc.constantFrom('cpf', 'phone', 'table_number') }),
)

const nested = (depth: number, open: string, close: string, inner = '1') => `${open.repeat(depth)}${inner}${close.repeat(depth)}`

const hostile = fc.oneof(
  fc.integer({ min: 10, max: 20_000 }).map((d) => `{"command":"status","context":${nested(d, '[', ']')}}`),
  fc.integer({ min: 10, max: 20_000 }).map((d) => `{"command":"process_payment","amount":${nested(d, '{"a":', '}')}}`),
  fc.integer({ min: 5_000, max: 70_000 }).map((n) => JSON.stringify({ command: 'display_message', message: 'x'.repeat(n) })),
  fc.integer({ min: 65, max: 3_000 }).map((n) => JSON.stringify({ command: 'status', list: Array.from({ length: n }, (_, i) => i) })),
  fc.integer({ min: 65, max: 1_000 }).map((n) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])))),
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{"command":"status"', '{"__proto__":{"command":"status"}}', '{"constructor":{"prototype":{"polluted":1}},"command":"status"}', '[]', 'null', '"status"', '{}', '\u0000', '{"command":"status","command_id":1e400}'),
)

let seq = 0
const message: fc.Arbitrary<Sent> = fc.oneof(
  { weight: 4, arbitrary: flowStep.map((step) => {
    const id = `f${++seq}`
    return { data: JSON.stringify({ ...step, command_id: id }), id }
  }) },
  { weight: 6, arbitrary: commandObject.map((o) => {
    const id = `f${++seq}`
    const msg: Record<string, unknown> = { ...o.body, command: o.command, ...(o.context !== undefined ? { context: o.context } : {}), command_id: o.badId ?? id }
    // Extra keys spliced in as text, so that `__proto__` is an own key of the message as sent.
    const extra = o.extra ? JSON.stringify(o.extra) : '{}'
    const text = extra === '{}' ? JSON.stringify(msg) : `${JSON.stringify(msg).slice(0, -1)},${extra.slice(1)}`
    return { data: text, ...(o.badId === null ? { id } : {}) }
  }) },
  { weight: 2, arbitrary: hostile.map((data) => ({ data })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((data) => ({ data })) },
)

const isReply = (m: Message) => m.event === undefined

t.test(`${MESSAGES} generated messages: one coded answer each, and the bridge lives`, async (t) => {
  // The cardholder answers menus and data prompts by themself, as they present cards and PINs.
  const rig = await startBridge(t, {
    limits: { messagesPerSecond: 1e9, burst: 1e9 },
    runtime: { simulator: { cardholder: { presentAfterMs: 50, pinAfterMs: 50, removeAfterMs: 50, autoMenuChoice: 1, autoData: '12345' }, timings: { noCardTimeoutMs: 300 } } },
  })
  let sent = 0
  let checked = 0
  const outcomes = new Map<string, number>()
  await fc.assert(
    fc.asyncProperty(fc.array(message, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      const ws = await Client.open(t, rig.wsUrl)
      for (const m of batch) ws.sendRaw(typeof m.data === 'string' ? m.data : Buffer.from(m.data), { binary: typeof m.data !== 'string' })
      sent += batch.length
      // Every message is answered (payments included: the virtual pinpad's cardholder acts by itself).
      await ws.next(() => ws.messages.filter(isReply).length >= batch.length, 0, `${batch.length} answers`).catch((e: Error) => {
        // Name what went unanswered, not only the count: the batch is long and shrinking is off.
        const got = new Set(ws.messages.filter(isReply).map((r) => r.command_id))
        const missing = batch.filter((m) => m.id !== undefined && !got.has(m.id)).map((m) => String(m.data).slice(0, 200))
        const last = ws.messages.slice(-8).map((m) => JSON.stringify(m).slice(0, 200))
        throw new Error(`${ws.messages.filter(isReply).length} of ${batch.length} answers; unanswered with an id: ${JSON.stringify(missing)}; last messages: ${last.join(' | ')}`, { cause: e })
      })
      // A moment for a stray second answer to show itself.
      await new Promise((r) => setTimeout(r, 20))
      const replies = ws.messages.filter(isReply)
      if (replies.length !== batch.length) throw new Error(`${batch.length} messages got ${replies.length} answers`)
      for (const r of replies) {
        if (typeof r.context !== 'string' || typeof r.success !== 'boolean') throw new Error(`not in the protocol's shape: ${JSON.stringify(r).slice(0, 300)}`)
        if (!r.success && !(typeof r.code === 'string' && /^MPOS_ERR_[A-Z_]+$/.test(r.code) && typeof r.error === 'string' && r.error.length < 600)) {
          throw new Error(`an error without a code: ${JSON.stringify(r).slice(0, 300)}`)
        }
        if (r.code === 'MPOS_ERR_INTERNAL') throw new Error(`an internal error: ${JSON.stringify(r).slice(0, 300)}`)
      }
      for (const m of batch) {
        if (m.id === undefined) continue
        const mine = replies.filter((r) => r.command_id === m.id)
        if (mine.length !== 1) throw new Error(`command_id ${m.id} got ${mine.length} answers`)
      }
      checked += replies.length
      for (const r of replies) {
        const key = `${typeof r.command === 'string' && COMMANDS.includes(r.command) ? r.command : '?'} ${r.success ? (r.response?.status ?? 'ok') : r.code}`
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
      }
      ws.terminate()
      return true
    }),
    // MPOS_FUZZ_SEED (and MPOS_FUZZ_PATH) replay a failure that CI printed.
    {
      numRuns: Math.ceil(MESSAGES / BATCH),
      endOnFailure: true,
      ...(process.env.MPOS_FUZZ_SEED ? { seed: Number(process.env.MPOS_FUZZ_SEED) } : {}),
      ...(process.env.MPOS_FUZZ_PATH ? { path: process.env.MPOS_FUZZ_PATH } : {}),
    },
  )
  t.equal(sent, checked, `${sent} messages sent, ${checked} answers checked`)
  t.comment([...outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} × ${k}`).join('\n'))
  // The generated messages reached deep, not only the validator.
  t.ok((outcomes.get('initialize ok') ?? 0) > 0, 'pinpads were initialized')
  t.ok([...outcomes.keys()].some((k) => /^process_payment (accepted|errored|canceled|rejected)$/.test(k)), 'payments ran on the pinpads')
  t.ok([...outcomes.keys()].some((k) => /^pinpad_(menu|input) (ok|MPOS_ERR_PROMPT_CANCELED|MPOS_ERR_PROMPT_TIMEOUT|MPOS_ERR_CONTEXT_CLOSED)$/.test(k)), 'prompts ran on the pinpads')
  t.ok(sent >= MESSAGES)

  t.equal((await httpGet(`${rig.httpUrl}/health`)).status, 200, '/health answers')
  const ws = await Client.open(t, rig.wsUrl)
  t.match(await ws.request({ command: 'status', context: 'after-the-storm' }), { success: true }, 'a plain status round trip works')
  t.ok(rig.server.runtime.contexts().length <= MAX_CONTEXTS, `${rig.server.runtime.contexts().length} contexts live`)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted')
})
