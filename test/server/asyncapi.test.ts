/**
 * docs/asyncapi.json, the `/ws` protocol as an AsyncAPI 3.0 document generated from the server's own
 * schemas: it must be current (regenerated here and compared), valid against the official AsyncAPI
 * 3.0.0 JSON Schema (@asyncapi/specs), served identical at /asyncapi.json, name every command of the
 * validators, every pushed event and every code of the error catalog — and be true: real answers
 * and events of a session over a real WebSocket validate against the document's own schemas.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Ajv, type ValidateFunction } from 'ajv'
import ajvFormats from 'ajv-formats'
import specs from '@asyncapi/specs'
import { asyncApiDocument, asyncApiText, errorCodes } from '../../src/server/asyncapi/document.js'
import { COMMANDS, validators } from '../../src/server/schema.js'
import { TYPED_VALUES } from '../fixtures/typed-values.js'
import { Client, EK, httpGet, startBridge, type Message } from './helpers.js'

const FILE = fileURLToPath(new URL('../../docs/asyncapi.json', import.meta.url))
type Doc = Record<string, any>
// ajv-formats is CommonJS: its function is the default export's `default`.
const addFormats = ajvFormats.default

t.test('the committed document is current: npm run asyncapi regenerates it byte for byte', async (t) => {
  t.equal(readFileSync(FILE, 'utf8'), asyncApiText(), 'docs/asyncapi.json is stale: run npm run asyncapi')
})

t.test('it validates against the official AsyncAPI 3.0.0 JSON Schema', async (t) => {
  // The official schema is JSON Schema draft-07: ajv's default class (its 2019/2020 classes are for later drafts).
  // It embeds its own copy of the draft-07 meta-schema (same $id): ajv's built-in one is left out.
  const ajv = new Ajv({ allErrors: true, strict: false, meta: false, validateSchema: false })
  addFormats(ajv)
  const validate = ajv.compile(specs.schemas['3.0.0'] as object)
  const doc = JSON.parse(readFileSync(FILE, 'utf8')) as unknown
  t.ok(validate(doc), JSON.stringify(validate.errors?.slice(0, 5), null, 2))
  t.equal((doc as Doc).asyncapi, '3.0.0')

  // And the schema does catch a broken document (this check is not vacuous).
  const broken = JSON.parse(JSON.stringify(doc)) as Doc
  broken.operations.status.action = 'publish'
  delete broken.info.version
  t.notOk(validate(broken), 'a 2.x-style action and a missing version are refused')
})

t.test('every $ref points at something, and every operation message is one of its channel', async (t) => {
  const doc = asyncApiDocument() as Doc
  const refs: string[] = []
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) k === '$ref' && typeof x === 'string' ? refs.push(x) : walk(x)
  }
  walk(doc)
  const resolve = (ref: string) => ref.slice(2).split('/').reduce<any>((node, key) => node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc)
  for (const ref of new Set(refs)) t.ok(ref.startsWith('#/') && resolve(ref) !== undefined, `${ref} resolves`)
  for (const [name, op] of Object.entries(doc.operations as Record<string, Doc>)) {
    for (const m of [...op.messages, ...(op.reply?.messages ?? [])]) t.match(m.$ref, /^#\/channels\/ws\/messages\//, `${name}: ${m.$ref} is a message of the channel`)
  }
})

t.test('it names every command of the validators, every pushed event and every error code', async (t) => {
  const doc = asyncApiDocument() as Doc
  t.same(Object.keys(validators).sort(), [...COMMANDS].sort(), 'the validators are the commands')
  for (const command of Object.keys(validators)) {
    const op = doc.operations[command]
    t.match(op, { action: 'receive', messages: [{ $ref: `#/channels/ws/messages/${command}.request` }] }, `${command}: an operation`)
    t.same(op.reply.messages, [{ $ref: `#/channels/ws/messages/${command}.answer` }, { $ref: '#/channels/ws/messages/error.answer' }], `${command}: its answers`)
    t.same(doc.components.schemas[`${command}_fields`], (validators as Record<string, ValidateFunction>)[command]!.schema, `${command}: the very schema the server validates with`)
  }
  for (const required of ['get_result', 'pinpad_menu', 'pinpad_input', 'cancel']) t.ok(doc.operations[required], `${required} is there`)
  for (const event of ['status', 'pinpad_message', 'payment_status', 'device_added', 'device_removed']) t.match(doc.operations[`${event}.event`], { action: 'send' }, `the ${event} event`)
  const codes = doc.components.schemas.ErrorCode.oneOf.map((c: Doc) => c.const).sort()
  const catalog = [...new Set(readFileSync(fileURLToPath(new URL('../../src/errors.ts', import.meta.url)), 'utf8').match(/'MPOS_ERR_[A-Z0-9_]+'/g)!.map((c) => c.slice(1, -1)))].sort()
  t.same(codes, catalog, 'every code of src/errors.ts, each once')
  t.ok(errorCodes().every((c) => !c.message.includes('%')), 'messages as templates')
})

t.test('/asyncapi.json serves the same document', async (t) => {
  const rig = await startBridge(t)
  const res = await httpGet(`${rig.httpUrl}/asyncapi.json`)
  t.equal(res.status, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.body, readFileSync(FILE, 'utf8'), 'identical to docs/asyncapi.json')
})

t.test('real answers and events validate against the document (and name no undocumented field)', async (t) => {
  const doc = asyncApiDocument() as Doc
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats(ajv)
  ajv.addSchema(doc, 'doc')
  const compiled = new Map<string, ValidateFunction>()
  const check = (name: string, m: Message, valid = true) => {
    const validate = compiled.get(name) ?? ajv.compile({ $ref: `doc#/components/messages/${name}/payload` })
    compiled.set(name, validate)
    if (!valid) return void t.notOk(validate(m), `${name}: the document refuses ${JSON.stringify(m).slice(0, 100)} as the server does`)
    t.ok(validate(m), `${name}: ${JSON.stringify(m).slice(0, 160)} ${JSON.stringify(validate.errors?.slice(0, 3))}`)
    if (name.endsWith('.request')) return
    const payload = doc.components.messages[name].payload
    const documented = Object.keys(payload.properties ?? {})
    t.same(Object.keys(m).filter((k) => !documented.includes(k)), [], `${name}: every field is documented`)
    const response = payload.properties?.response
    if (m.success === true && response?.properties && m.response && typeof m.response === 'object' && !Array.isArray(m.response)) {
      t.same(Object.keys(m.response).filter((k) => !(k in response.properties)), [], `${name}: every response field is documented`)
    }
  }

  const rig = await startBridge(t)
  const c = await Client.open(t, rig.wsUrl)
  const requests: Message[] = [
    { command: 'list_devices' },
    { command: 'initialize', encryption_key: EK, device_id: 1, command_id: 'init-1' },
    { command: 'status' },
    { command: 'display_message', message: 'OLA' },
    { command: 'process_payment', amount: 1000, command_id: 'pay-1' },
    { command: 'process_payment', amount: 1000 },
    { command: 'finish_payment', success: true, response_code: '0000', command_id: 'fin-1' },
    { command: 'finish_payment', success: true, response_code: '0000', command_id: 'fin-1' },
    { command: 'get_result', target_command_id: 'pay-1' },
    { command: 'get_result', target_command_id: 'never-sent' },
    { command: 'pinpad_menu', title: 'Forma', options: ['Crédito', 'Débito'] },
    { command: 'pinpad_input', prompt: 'cpf', min_digits: 11, max_digits: 11 },
    { command: 'cancel' },
    // Refused by the server's schemas: the document's request schemas refuse them too.
    { command: 'status', context: 'x'.repeat(65), invalid: true },
    { command: 'process_payment', amount: 0, invalid: true },
    { command: 'close', command_id: 'close-1' },
  ]
  for (const { invalid, ...request } of requests) {
    if (request.command === 'pinpad_menu') rig.pinpads[0]!.cardholder.choose(2)
    if (request.command === 'pinpad_input') rig.pinpads[0]!.cardholder.enter(TYPED_VALUES.cpf)
    check(`${request.command}.request`, request, !invalid)
    const answer = await c.request(request)
    if (invalid) t.match(answer, { success: false, code: /^MPOS_ERR_(REQUEST_FIELD|INVALID|AMOUNT)/ })
    check(answer.success ? `${answer.command}.answer` : 'error.answer', answer)
  }
  const unknown = await c.exchange(JSON.stringify({ command: 'teleport' }))
  check('error.answer', unknown)
  t.match(unknown, { code: 'MPOS_ERR_UNKNOWN_COMMAND' })

  const second = rig.server.runtime.virtualDevices()[1]!.device
  second.unplug()
  await c.next((m) => m.event === 'device_removed', 0, 'device_removed')
  second.plug()
  await c.next((m) => m.event === 'device_added', 0, 'device_added')
  const events = c.events()
  t.ok(['status', 'pinpad_message', 'payment_status', 'device_added', 'device_removed'].every((e) => events.some((m) => m.event === e)), 'every kind of event was seen')
  for (const e of events) check(`${e.event}.event`, e)
  t.ok(c.messages.some((m) => m.replayed === true), 'a replayed answer was checked too')
})
