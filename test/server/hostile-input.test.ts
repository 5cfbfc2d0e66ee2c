/**
 * Input that cannot hurt: values nested thousands of levels deep, huge strings and arrays,
 * `__proto__` keys — each gets one small coded answer and the bridge keeps serving everyone.
 */
import t from 'tap'
import fc from 'fast-check'
import { preview, shapeViolation, DEFAULT_SHAPE_LIMITS } from '../../src/server/limits.js'
import { parseMessage } from '../../src/server/validate.js'
import { Client, EK, startBridge } from './helpers.js'

const deep = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`
const deepObject = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`

t.test('preview is bounded whatever the value', async (t) => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 1, max: 80 }), (value, max) => preview(value, max).length <= max + 1),
    { numRuns: 2000 },
  )
  const nested = JSON.parse(deep(100_000))
  t.equal(preview(nested), `${'['.repeat(40)}…`, '100,000 levels: 40 characters and an ellipsis, no stack overflow')
  t.equal(preview({ a: 1 }), '{"a":1}', 'small values in full')
  t.equal(preview('x'.repeat(1_000_000)).length, 41, 'a megabyte string: 40 characters')
  t.equal(preview(Array.from({ length: 1_000_000 }, (_, i) => i), 10), '[0,1,2,3,4…')
  t.equal(preview(10.5), '10.5')
})

t.test('shapeViolation measures without recursion', async (t) => {
  t.match(shapeViolation(JSON.parse(deep(200_000))), /nested deeper than 8/)
  t.match(shapeViolation(JSON.parse(deepObject(50_000))), /nested deeper than 8/)
  t.match(shapeViolation({ s: 'x'.repeat(DEFAULT_SHAPE_LIMITS.maxString + 1) }), /longer than 4096/)
  t.match(shapeViolation({ a: Array.from({ length: 65 }, () => 0) }), /more than 64 items/)
  t.match(shapeViolation(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]))), /more than 64 keys/)
  t.equal(shapeViolation({ command: 'process_payment', amount: 100, applications: [{ brand: 'visa', payment_method: 'credit_card' }] }), undefined)
  // Flat objects take a shortcut: the same verdicts.
  t.equal(shapeViolation({ command: 'status', command_id: 1, context: 'x' }), undefined)
  t.match(shapeViolation({ ['k'.repeat(DEFAULT_SHAPE_LIMITS.maxString + 1)]: 1 }), /key is longer than 4096/)
  t.match(shapeViolation({ s: 'x'.repeat(DEFAULT_SHAPE_LIMITS.maxString + 1), ['k'.repeat(DEFAULT_SHAPE_LIMITS.maxString + 1)]: 1 }), /key is longer than 4096/, 'a long key is named before a long value')
  t.match(shapeViolation({ a: 1 }, { ...DEFAULT_SHAPE_LIMITS, maxDepth: 0 }), /nested deeper than 0/)
  t.match(shapeViolation(JSON.parse('{"__proto__":{"a":[[[[[[[[[1]]]]]]]]]}}')), /nested deeper than 8/)
})

t.test('parseMessage: unknown keys never travel on, __proto__ included', async (t) => {
  const parsed = parseMessage('{"command":"process_payment","amount":100,"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"extra":1}', 65536)
  t.ok(parsed.ok)
  if (!parsed.ok) return
  t.same(Object.keys(parsed.request), ['command', 'amount'], 'only the fields of process_payment')
  t.equal(Object.getPrototypeOf(parsed.request), Object.prototype)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution')
})

t.test('a value nested 5,000 levels deep in any field gets a coded answer; the bridge lives', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl)
  const other = await Client.open(t, rig.wsUrl)
  const fields = ['context', 'amount', 'command_id', 'message', 'command', 'encryption_key', 'applications', 'device_id', 'emv_data']
  for (const field of fields) {
    for (const nested of [deep(5000), deepObject(5000)]) {
      const text = `{"command":"process_payment","amount":100,${JSON.stringify(field)}:${nested}}`.replace(`"command":"process_payment",`, field === 'command' ? '' : '"command":"process_payment",')
      const answer = await ws.exchange(text)
      t.match(answer, { success: false, code: 'MPOS_ERR_MESSAGE_TOO_COMPLEX', context: 'default' }, `${field}: coded answer`)
      t.ok(JSON.stringify(answer).length < 300, `${field}: the answer is small`)
    }
  }
  t.match(await other.request({ command: 'status' }), { success: true }, 'another connection is served')
  t.match(await ws.request({ command: 'status' }), { success: true }, 'and this one too')
})

t.test('an invalid 60 KB context is not echoed: the answer names "default" and stays small', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl)
  const huge = await ws.exchange(JSON.stringify({ command: 'status', context: 'c'.repeat(60_000) }))
  t.match(huge, { command: 'status', context: 'default', success: false, code: 'MPOS_ERR_MESSAGE_TOO_COMPLEX' })
  t.ok(ws.raw.at(-1)!.length < 300, `answer of ${ws.raw.at(-1)!.length} bytes`)
  const answer = await ws.exchange(JSON.stringify({ command: 'status', context: 'c'.repeat(4000), command_id: 'x'.repeat(3000) }))
  t.match(answer, { command: 'status', context: 'default', success: false, code: 'MPOS_ERR_INVALID_FIELD' })
  t.notOk('command_id' in answer, 'an invalid command_id is not echoed either')
  t.ok(ws.raw.at(-1)!.length < 300, `answer of ${ws.raw.at(-1)!.length} bytes`)
  const ctl = await ws.exchange(JSON.stringify({ command: 'status', context: 'till\u0000one' }))
  t.match(ctl, { context: 'default', code: 'MPOS_ERR_INVALID_FIELD' }, 'control characters in a context name are refused')
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, context: 'till 1' }), { success: true, context: 'till 1' }, 'a valid name works')
})
