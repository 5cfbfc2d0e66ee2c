/**
 * The devtools control API (`POST /devtools/pinpads/:id`, `serve --devtools`): every action it
 * offers reaches the virtual pinpad; every body or parameter outside its JSON Schema is refused
 * with 400 and MPOS_ERR_DEVTOOLS_INVALID naming the field, and nothing is stored; a foreign Origin
 * gets 403 before anything is parsed or validated, on every devtools route.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import { httpGet, httpRequest, startBridge, type Message, type Rig } from './helpers.js'
import { FAULT_LIMITS, FAULT_NAMES } from '../../src/server/devtools/schema.js'
import { TEST_CARDS } from '../../src/simulator/cards.js'
import type { CardholderEvent } from '../../src/simulator/cardholder.js'
import type { VirtualDevice } from '../../src/simulator/virtual-device.js'

const DEFAULT_FAULTS = { stalled: false, nakNext: 0, corruptNext: 0, dropNext: 0, responseDelayMs: 0, garbageNext: 0, held: false }
const INVALID = 'MPOS_ERR_DEVTOOLS_INVALID'
const FAULT_LIST = 'stalled, nakNext, corruptNext, dropNext, responseDelayMs, garbageNext, held'
const ACTION_LIST = 'present, pin, key, choose, enter, remove, unplug, plug, auto, fault'

interface Post {
  /** Sent verbatim instead of JSON.stringify(body). */
  raw?: string
  headers?: Record<string, string>
  /** /devtools/pinpads/<id>; the rig's first virtual pinpad by default. */
  id?: string
}

async function post(rig: Rig, body: unknown, options: Post = {}): Promise<{ status: number; body: Message }> {
  const id = options.id ?? String(first(rig).id)
  const res = await httpRequest('POST', `${rig.httpUrl}/devtools/pinpads/${id}`, {
    headers: { 'content-type': 'application/json', ...options.headers },
    body: options.raw ?? JSON.stringify(body),
  })
  return { status: res.status, body: res.body ? (JSON.parse(res.body) as Message) : {} }
}

function first(rig: Rig): { id: number; device: VirtualDevice } {
  return rig.server.runtime.virtualDevices()[0]!
}

/** Everything the cardholder of the first virtual pinpad is made to do. */
function recordCardholder(t: Test, rig: Rig): CardholderEvent[] {
  const events: CardholderEvent[] = []
  t.teardown(first(rig).device.pinpad.cardholder.onEvent((e) => events.push(e)))
  return events
}

t.test('every action the API offers is accepted and reaches the virtual pinpad', async (t) => {
  const rig = await startBridge(t, { devtools: true })
  const { id, device } = first(rig)
  const pad = device.pinpad
  const events = recordCardholder(t, rig)
  const ok = async (body: Message, what: string) => t.same(await post(rig, body), { status: 200, body: { ok: true } }, what)

  for (const card of TEST_CARDS) await ok({ action: 'present', card: card.name }, `present ${card.name}`)
  t.same(
    events.filter((e) => e.type === 'presented'),
    TEST_CARDS.map((c) => ({ type: 'presented', card: c.name })),
    'every test card is presented, as the card is',
  )
  for (const how of ['insert', 'swipe', 'tap'] as const) await ok({ action: 'present', card: 'visa-credit', how }, `present … ${how}`)
  t.same(events.slice(-3), [
    { type: 'presented', card: 'visa-credit', how: 'insert' },
    { type: 'presented', card: 'visa-credit', how: 'swipe' },
    { type: 'presented', card: 'visa-credit', how: 'tap' },
  ])

  events.length = 0
  await ok({ action: 'pin', pin: '1234' }, 'a 4-digit PIN')
  await ok({ action: 'pin', pin: '123456789012' }, 'a 12-digit PIN')
  for (const key of ['ok', 'cancel', 'clear', 'up', 'down']) await ok({ action: 'key', key }, `key ${key}`)
  await ok({ action: 'choose', option: 2 }, 'a menu option')
  await ok({ action: 'enter', data: '123' }, 'clear data')
  t.same(events, [
    { type: 'typed-pin' },
    { type: 'typed-pin' },
    { type: 'pressed', key: 'ok' },
    { type: 'pressed', key: 'cancel' },
    { type: 'pressed', key: 'clear' },
    { type: 'pressed', key: 'up' },
    { type: 'pressed', key: 'down' },
    { type: 'chose', option: 2 },
    { type: 'typed-data' },
  ])

  pad.cardholder.inserted = 'visa-credit'
  await ok({ action: 'remove' }, 'remove')
  t.equal(pad.cardholder.inserted, undefined, 'the card left the slot')

  await ok({ action: 'unplug' }, 'unplug')
  t.equal(device.present, false, 'the cable is out')
  t.equal(rig.server.runtime.devices().some((d) => d.id === id), false, 'the device is gone from the list')
  await ok({ action: 'plug' }, 'plug, addressed by the id it had')
  t.equal(device.present, true, 'the cable is back')

  await ok({ action: 'auto', on: false }, 'auto off')
  t.match(pad.cardholder.options, { autoCard: null, autoPin: null }, 'nobody acts unless clicked')
  await ok({ action: 'auto', on: true }, 'auto on')
  t.match(pad.cardholder.options, { autoCard: 'visa-credit', autoPin: '1234' }, 'the customer acts alone again')

  t.same([...FAULT_NAMES].sort(), Object.keys(pad.faults).sort(), 'the schema knows every link fault of the pinpad')
  const set = async (fault: string, value: number | boolean) => {
    await ok({ action: 'fault', fault, value }, `${fault} = ${value}`)
    t.equal(pad.faults[fault as keyof typeof pad.faults], value, `${fault} is ${value}`)
  }
  await set('stalled', true)
  await set('stalled', false)
  for (const fault of ['nakNext', 'corruptNext', 'dropNext'] as const) {
    await set(fault, 1)
    await set(fault, FAULT_LIMITS.count)
  }
  await set('responseDelayMs', 500)
  await set('responseDelayMs', FAULT_LIMITS.delayMs)
  await set('garbageNext', 40)
  await set('garbageNext', FAULT_LIMITS.garbageBytes)
  for (const fault of FAULT_NAMES) await ok({ action: 'fault', fault, value: fault === 'stalled' || fault === 'held' ? false : 0 }, `${fault} reset`)
  t.same(pad.faults, DEFAULT_FAULTS, 'every fault back to none')

  const state = JSON.parse((await httpGet(`${rig.httpUrl}/devtools/state`)).body) as Message
  t.match(state.pinpads[0], { id, present: true, faults: DEFAULT_FAULTS }, '/devtools/state shows the pinpad as the API left it')
})

t.test('bodies and parameters outside the schema: 400 naming the field, nothing stored', async (t) => {
  const rig = await startBridge(t, { devtools: true })
  const pad = first(rig).device.pinpad
  const events = recordCardholder(t, rig)
  const refused = async (body: unknown, error: string | RegExp, options: Post & { status?: number } = {}) => {
    const res = await post(rig, body, options)
    const what = (options.raw ?? (options.id ? `/devtools/pinpads/${options.id}` : JSON.stringify(body))).slice(0, 100)
    t.equal(res.status, options.status ?? 400, `${what}: ${options.status ?? 400}`)
    t.match(res.body, { success: false, code: INVALID }, `${what}: the stable code`)
    t.same(Object.keys(res.body).sort(), ['code', 'error', 'success'], `${what}: the bridge's error shape`)
    if (typeof error === 'string') t.equal(res.body.error, error, `${what}: ${error}`)
    else t.match(res.body.error, error, `${what}: ${error}`)
  }

  // The action
  await refused({}, 'action is required')
  await refused({ action: 'explode' }, `action must be one of ${ACTION_LIST} (got "explode")`)
  await refused({ action: '__proto__' }, `action must be one of ${ACTION_LIST} (got "__proto__")`)
  await refused({ action: 'Present', card: 'visa-credit' }, `action must be one of ${ACTION_LIST} (got "Present")`)
  await refused({ action: 1 }, `action must be one of ${ACTION_LIST} (got 1)`)
  await refused([], 'the body must be a JSON object')
  await refused(null, 'the body must be a JSON object')
  await refused('remove', 'the body must be a JSON object')
  await refused(undefined, 'the body must be a JSON object', { raw: 'remove', headers: { 'content-type': 'text/plain' } })

  // present
  await refused({ action: 'present' }, 'card is required')
  await refused({ action: 'present', card: 'platinum-card' }, /^card must be one of visa-credit, mastercard-credit, .*swiped-chip-card \(got "platinum-card"\)$/)
  await refused({ action: 'present', card: 42 }, 'card must be a string (got 42)')
  await refused({ action: 'present', card: 'visa-credit', how: 'wave' }, 'how must be one of insert, swipe, tap (got "wave")')
  await refused({ action: 'present', card: 'visa-credit', how: '' }, 'how must be one of insert, swipe, tap (got "")')
  await refused({ action: 'present', card: 'visa-credit', pan: '4111111111111111' }, 'pan is not allowed')

  // pin: never echoed
  for (const pin of ['123', '1234567890123', '12a4', '１２３４', ' 1234', '']) await refused({ action: 'pin', pin }, 'pin must be 4 to 12 digits')
  await refused({ action: 'pin', pin: 1234 }, 'pin must be a string')
  await refused({ action: 'pin' }, 'pin is required')

  // key
  for (const key of ['x', 'f1', 'OK', 'enter']) await refused({ action: 'key', key }, `key must be one of ok, cancel, clear, up, down (got "${key}")`)
  await refused({ action: 'key' }, 'key is required')

  // choose, enter (the customer's data: never echoed)
  for (const option of [0, 21, -1]) await refused({ action: 'choose', option }, new RegExp(`^option must be [≥≤] (1|20) \\(got ${option}\\)$`))
  await refused({ action: 'choose', option: 1.5 }, 'option must be an integer (got 1.5)')
  await refused({ action: 'choose' }, 'option is required')
  for (const data of ['12a', '1'.repeat(33), ' 1']) await refused({ action: 'enter', data }, 'data must be at most 32 digits')
  await refused({ action: 'enter', data: 5299 }, 'data must be a string')
  await refused({ action: 'enter' }, 'data is required')

  // actions without fields
  await refused({ action: 'remove', card: 'visa-credit' }, 'card is not allowed')
  await refused({ action: 'unplug', id: 2 }, 'id is not allowed')
  await refused({ action: 'plug', force: true }, 'force is not allowed')
  await refused({ action: 'auto' }, 'on is required')
  await refused({ action: 'auto', on: 'yes' }, 'on must be a boolean (got "yes")')

  // fault: the name
  for (const fault of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'Stalled', 'nakNext ', 'baudRate']) {
    await refused({ action: 'fault', fault, value: 1 }, `fault must be one of ${FAULT_LIST} (got ${JSON.stringify(fault)})`)
  }
  await refused({ action: 'fault', fault: 5, value: 1 }, `fault must be one of ${FAULT_LIST} (got 5)`)
  await refused({ action: 'fault', value: 1 }, 'fault is required')
  // fault: the value's type and range, per fault
  await refused({ action: 'fault', fault: 'stalled' }, 'value is required')
  await refused({ action: 'fault', fault: 'stalled', value: 1 }, 'value must be a boolean (got 1)')
  await refused({ action: 'fault', fault: 'stalled', value: 'true' }, 'value must be a boolean (got "true")')
  await refused({ action: 'fault', fault: 'stalled', value: null }, 'value must be a boolean (got null)')
  for (const fault of ['nakNext', 'corruptNext', 'dropNext', 'responseDelayMs', 'garbageNext']) {
    await refused({ action: 'fault', fault, value: true }, 'value must be an integer (got true)')
    await refused({ action: 'fault', fault, value: '1' }, 'value must be an integer (got "1")')
    await refused({ action: 'fault', fault, value: 1.5 }, 'value must be an integer (got 1.5)')
    await refused({ action: 'fault', fault, value: -1 }, 'value must be ≥ 0 (got -1)')
  }
  for (const fault of ['nakNext', 'corruptNext', 'dropNext'] as const) {
    await refused({ action: 'fault', fault, value: FAULT_LIMITS.count + 1 }, `value must be ≤ ${FAULT_LIMITS.count} (got ${FAULT_LIMITS.count + 1})`)
  }
  await refused({ action: 'fault', fault: 'responseDelayMs', value: 2 ** 31 }, `value must be ≤ ${FAULT_LIMITS.delayMs} (got ${2 ** 31})`)
  await refused({ action: 'fault', fault: 'garbageNext', value: 1e9 }, `value must be ≤ ${FAULT_LIMITS.garbageBytes} (got 1000000000)`)
  await refused({ action: 'fault', fault: 'nakNext', value: 1, also: 2 }, 'also is not allowed')

  // What Fastify refuses before the schema: same status, same shape and code.
  await refused(undefined, /JSON/, { raw: '{"action":"remove"' })
  await refused(undefined, /empty/i, { raw: '' })
  // Keys that could reach a prototype are refused by Fastify's parser (secure-json-parse) as not JSON.
  await refused(undefined, /not valid JSON/, { raw: '{"action":"fault","fault":"nakNext","value":1,"__proto__":{"nakNext":5}}' })
  await refused(undefined, /not valid JSON/, { raw: '{"action":"remove","constructor":{"prototype":{"polluted":1}}}' })
  await refused(undefined, /content-type|media type/i, { raw: 'action=remove', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415 })
  await refused({ action: 'remove', pad: 'x'.repeat(5000) }, /too large/i, { status: 413 })

  // The pinpad id in the URL
  for (const id of ['abc', '0', '-1', '1.0', '01', '1e0', '0x1', '%20']) {
    await refused({ action: 'remove' }, `id (in the URL) must be a virtual pinpad id (a positive integer) (got ${JSON.stringify(decodeURIComponent(id))})`, { id })
  }
  t.same(await post(rig, { action: 'remove' }, { id: '99' }), { status: 404, body: { success: false, error: 'No virtual pinpad 99', code: 'MPOS_ERR_DEVICE_NOT_FOUND' } }, 'a well-formed id without a pinpad: 404')

  t.same(pad.faults, DEFAULT_FAULTS, 'no fault was set')
  t.same(Object.keys(pad.faults), Object.keys(DEFAULT_FAULTS), 'no field was added to the faults')
  t.equal(Object.getPrototypeOf(pad.faults), Object.prototype, "the faults' prototype is untouched")
  t.equal((({}) as Record<string, unknown>).nakNext, undefined, 'Object.prototype was not polluted')
  t.equal((({}) as Record<string, unknown>).polluted, undefined)
  t.same(events, [], 'the cardholder did nothing')
  t.equal(first(rig).device.present, true, 'the pinpad is still plugged in')
})

t.test('a foreign Origin gets 403 before the body is parsed or validated', async (t) => {
  const rig = await startBridge(t, { devtools: true })
  const pad = first(rig).device.pinpad
  const events = recordCardholder(t, rig)
  const attempts: Array<[string, unknown, Post]> = [
    ['a valid body', { action: 'fault', fault: 'stalled', value: true }, {}],
    ['a valid PIN', { action: 'pin', pin: '1234' }, {}],
    ['an unknown fault', { action: 'fault', fault: '__proto__', value: 1 }, {}],
    ['an unknown key', { action: 'key', key: 'x' }, {}],
    ['an unknown action', { action: 'explode' }, {}],
    ['broken JSON', undefined, { raw: '{"action":' }],
    ['a __proto__ key', undefined, { raw: '{"__proto__":{"x":1}}' }],
    ['a form post', undefined, { raw: 'action=unplug', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
    ['a body too large', { action: 'remove', pad: 'x'.repeat(5000) }, {}],
    ['a bad pinpad id', { action: 'remove' }, { id: 'abc' }],
    ['an unknown pinpad', { action: 'remove' }, { id: '99' }],
  ]
  for (const origin of ['https://evil.example', 'null', 'http://localhost.evil.example:5173']) {
    for (const [what, body, options] of attempts) {
      const res = await post(rig, body, { ...options, headers: { ...options.headers, origin } })
      t.same(
        res,
        { status: 403, body: { success: false, error: `Forbidden: origin ${JSON.stringify(origin)} is not allowed`, code: 'MPOS_ERR_FORBIDDEN_ORIGIN' } },
        `${origin}, ${what}: 403, as on /ws`,
      )
    }
  }
  t.same(pad.faults, DEFAULT_FAULTS, 'nothing reached the pinpad')
  t.same(events, [])

  for (const origin of ['http://localhost:5173', `http://127.0.0.1:${rig.port}`, `http://[::1]:${rig.port}`]) {
    t.same(await post(rig, { action: 'key', key: 'cancel' }, { headers: { origin } }), { status: 200, body: { ok: true } }, `${origin}: allowed`)
    t.same((await post(rig, { action: 'key', key: 'x' }, { headers: { origin } })).status, 400, `${origin}: then validated`)
  }
  t.equal(
    (await post(rig, { action: 'remove' }, { headers: { origin: 'https://evil.example', host: 'evil.example' } })).body.code,
    'MPOS_ERR_FORBIDDEN_HOST',
    'the Host check comes first of all',
  )
})

/** The first server-sent event of /devtools/events, then the stream is closed. */
function firstEvent(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        body += c
        if (res.statusCode === 200 && body.includes('\n\n')) {
          resolve({ status: 200, type: res.headers['content-type'], body: body.slice(0, body.indexOf('\n\n')) })
          req.destroy()
        }
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
  })
}

t.test('the other devtools routes: the same Origin check, nothing taken from the request', async (t) => {
  const rig = await startBridge(t, { devtools: true })
  const evil = { origin: 'https://evil.example' }
  for (const route of ['/devtools', '/devtools/state', '/devtools/events', '/devtools/diagrams/device.svg', '/devtools/assets/main.js']) {
    const res = await httpGet(`${rig.httpUrl}${route}`, evil)
    t.equal(res.status, 403, `${route}: a foreign page is refused`)
    t.match(JSON.parse(res.body), { success: false, code: 'MPOS_ERR_FORBIDDEN_ORIGIN' })
  }

  const page = await httpGet(`${rig.httpUrl}/devtools`)
  t.equal(page.status, 200, 'the page')
  t.match(page.headers['content-security-policy'], /(^|; )frame-ancestors 'none'(;|$)/, 'no other site may frame its buttons')
  t.match(page.headers['content-security-policy'], /(^|; )default-src 'self'(;|$)/, 'the page loads only its own files (it works offline)')
  t.match(page.headers['content-security-policy'], /(^|; )script-src 'self'(;|$)/, 'no inline script')
  for (const asset of ['main.js', 'inspector.js', 'pinpads.js', 'devtools.css']) {
    const res = await httpGet(`${rig.httpUrl}/devtools/assets/${asset}`)
    t.equal(res.status, 200, `${asset} is served by the bridge`)
    t.match(res.headers['content-type'], asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/)
    t.notMatch(res.body, /https?:\/\//, `${asset} loads nothing from another origin`)
  }
  for (const name of ['..%2Fdevtools.css', 'index.html', 'x.js', 'MAIN.js']) {
    t.equal((await httpGet(`${rig.httpUrl}/devtools/assets/${name}`)).status, 404, `asset ${name}: 404`)
  }
  t.equal(page.headers['x-frame-options'], 'DENY')

  const state = await httpGet(`${rig.httpUrl}/devtools/state`, { origin: `http://127.0.0.1:${rig.port}` })
  t.equal(state.status, 200, 'the state, from the page itself')
  t.same(JSON.parse(state.body).cards.length, TEST_CARDS.length)

  const sse = await firstEvent(`${rig.httpUrl}/devtools/events`)
  t.equal(sse.status, 200, 'the event stream')
  t.equal(sse.type, 'text/event-stream')
  t.match(sse.body, /^data: \{"type":"init","actors":\[/, 'it starts with everything known')

  for (const name of ['..%2F..%2Fpackage.json', '%2E%2E', 'device.SVG', 'x.svg']) {
    t.equal((await httpGet(`${rig.httpUrl}/devtools/diagrams/${name}`)).status, 404, `diagram ${name}: 404`)
  }
})

t.test('without --devtools there is no control API', async (t) => {
  const rig = await startBridge(t)
  t.equal((await post(rig, { action: 'unplug' })).status, 404)
  t.equal(first(rig).device.present, true)
})
