/**
 * The inspector's feed (`/devtools/state`, `/devtools/events`): machine actors with their machine
 * and context, an event log where each machine event says the state it led to, actors that ended
 * leave, and what it shows is sanitized — no key, no card data, no cardholder name, nothing a
 * customer typed.
 */
import t from 'tap'
import { sanitize } from '../../src/bridge/sanitize.js'
import { DevtoolsHub, LOG_LIMIT } from '../../src/server/devtools/hub.js'
import { findCard } from '../../src/simulator/cards.js'
import { TYPED_VALUES } from '../fixtures/typed-values.js'
import { Client, EK, httpGet, startBridge, type Message } from './helpers.js'

const state = async (url: string) => JSON.parse((await httpGet(`${url}/devtools/state`)).body) as { actors: Message[]; log: Message[] }

t.test('actors, their machines and contexts; the log with the state each event led to; ended actors leave', async (t) => {
  const rig = await startBridge(t, { devtools: true })
  const c = await Client.open(t, rig.wsUrl)
  rig.pinpads[0]!.cardholder.present('visa-credit')
  t.match(await c.request({ command: 'initialize', context: 'shop', encryption_key: EK, device_id: 1 }), { success: true })
  const payment = await c.request({ command: 'process_payment', context: 'shop', amount: 1000 })
  t.match(payment, { success: true, response: { status: 'accepted' } })
  t.match(await c.request({ command: 'finish_payment', context: 'shop', success: true, response_code: '0000' }), { success: true })
  const typing = c.request({ command: 'pinpad_input', context: 'shop', prompt: 'cpf' })
  await rig.until(() => rig.pinpads[0]!.display.screen.lines.join(' ').includes('CPF'), 'the prompt')
  rig.pinpads[0]!.cardholder.enter(TYPED_VALUES.cpf)
  t.match(await typing, { success: true, response: { value: TYPED_VALUES.cpf } })

  const s = await state(rig.httpUrl)
  const byName = Object.fromEntries(s.actors.map((a) => [a.actor, a]))
  t.match(byName.bridge, { machine: 'bridge' })
  t.match(byName['context:shop'], { machine: 'context', contextName: 'shop', state: { initialized: { activity: 'ready' } } })
  t.match(byName['device:1'], { machine: 'device', contextName: 'shop', state: { connected: 'ready' } })
  t.match(byName['session:1'], { machine: 'session', state: 'open' })
  t.notOk(s.actors.some((a) => a.actor === 'readCard'), 'promise actors have no diagram')
  t.ok(s.log.some((e) => e.actor === 'readCard' && e.contextName === 'shop'), 'but their events are in the log, with their context')
  t.ok(
    s.log.some((e) => e.actor === 'device:1' && e.type === 'xstate.done.actor.readCard' && JSON.stringify(e.state).includes('onChip')),
    'a device event says the state it led to',
  )
  t.ok(s.log.every((e, i) => i === 0 || e.seq > s.log[i - 1]!.seq), 'in order')

  const text = JSON.stringify(s)
  const card = findCard('visa-credit')
  for (const [what, secret] of Object.entries({ pan: card.pan, name: card.holderName, answered: payment.response.card_holder_name, hash: payment.response.card_hash, key: EK, typed: TYPED_VALUES.cpf })) {
    t.notOk(text.includes(String(secret)), `no ${what}`)
  }

  t.match(await c.request({ command: 'close', context: 'shop' }), { success: true })
  await rig.until(() => rig.server.runtime.contexts().length === 0, 'the context ended')
  const after = await state(rig.httpUrl)
  t.same(after.actors.map((a) => a.actor).sort(), ['bridge', 'session:1'], 'the context and its device left the inspector')
})

t.test('sanitize: the cardholder name and typed digits are hidden; state names are not', async (t) => {
  t.same(sanitize({ card: { holderName: 'SILVA/ANA', brand: 'visa' }, result: { card_holder_name: 'ANA SILVA', status: 'accepted' } }), {
    card: { holderName: '[hidden]', brand: 'visa' },
    result: { card_holder_name: '[hidden]', status: 'accepted' },
  })
  t.same(sanitize({ type: 'DEVICE.PROMPTED', response: { value: '52998224725' } }), { type: 'DEVICE.PROMPTED', response: { value: '[hidden]' } })
  t.same(sanitize({ value: { connected: 'ready' }, context: { n: 1 } }), { value: { connected: 'ready' }, context: { n: 1 } })
  let deep: Record<string, unknown> = { pan: 'x' }
  for (let i = 0; i < 12; i++) deep = { next: deep }
  t.notOk(JSON.stringify(sanitize(deep)).includes('"pan"'), 'nothing deeper than it looks passes unexamined')
})

t.test('the hub forgets ended actors by itself, without a page asking (a session per connection would pile up)', async (t) => {
  const live = new Set<string>()
  const hub = new DevtoolsHub(undefined, (actor) => live.has(actor))
  const gone: string[] = []
  hub.on('gone', (actor) => gone.push(actor))
  for (let i = 1; i <= 2500; i++) {
    const actor = `session:${i}`
    live.add(actor)
    hub.record({ actor, type: '@xstate.event', machine: 'session', event: { type: 'xstate.init' } })
    hub.record({ actor, type: '@xstate.snapshot', machine: 'session', snapshot: { value: 'open' } })
    live.delete(actor) // the connection closes
  }
  t.ok(gone.length >= 2500 - 128, `ended sessions were forgotten on the way (${gone.length})`)
  t.same(hub.actors(), [], 'none is shown')
  t.equal(hub.log().length, LOG_LIMIT, 'the log is bounded')
  t.ok(hub.log().every((e) => e.state === 'open'), 'each event with the state it led to')
})
