/**
 * `status` and `list_devices` are answered from the actors' published state when that changes
 * nothing (src/bridge/queries.ts): the answer a connection already attached to the context gets
 * is the very one the actors give a connection asking for the first time, at every step of a
 * payment; list_devices follows unplugging; a connection that has sent nothing still gets device
 * events.
 */
import t from 'tap'
import { startBridge, Client, type Message } from './helpers.js'

const EK = 'ek_test_queriesqueriesqueries123'

/** The answer's bytes without its command_id. */
const bytes = (m: Message) => {
  const { command_id: _, ...rest } = m
  return JSON.stringify(rest)
}

t.test('status from an attached connection is byte-identical to a first status through the actors', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  const compare = async (step: string) => {
    // `a` has used the context before (answered from published state); a fresh connection's first
    // status creates its attachment (the actors' path).
    const polled = await a.request({ command: 'status', context: 'shop' })
    const fresh = await Client.open(t, rig.wsUrl)
    const first = await fresh.request({ command: 'status', context: 'shop' })
    t.equal(bytes(polled), bytes(first), `${step}: ${bytes(polled)}`)
    fresh.terminate()
    return polled
  }
  await a.request({ command: 'status', context: 'shop' })
  t.match((await compare('idle')).response, { status: 'idle' })
  t.match(await a.request({ command: 'initialize', context: 'shop', encryption_key: EK }), { success: true })
  t.match((await compare('initialized')).response, { status: 'initialized', device_state: 'ready' })
  rig.pinpads[0]!.cardholder.options.autoCard = null
  const from = a.messages.length
  a.sendRaw(JSON.stringify({ command: 'process_payment', context: 'shop', amount: 1000, command_id: 'pay' }))
  await a.next((m) => m.event === 'pinpad_message' && m.context === 'shop', from, 'the card prompt')
  t.match((await compare('paying')).response, { status: 'in_use', running_command: 'process_payment', device_state: 'awaitingCard' })
  rig.pinpads[0]!.cardholder.options.autoCard = 'visa-credit'
  rig.pinpads[0]!.cardholder.present('visa-credit')
  t.match((await a.reply('process_payment', from, 'pay')).response, { status: 'accepted' })
  const owed = await compare('awaiting finish')
  t.match(owed.response, { device_state: 'awaitingFinish', awaiting_finish: [{ context: 'shop', command_id: 'pay', amount: 1000 }] }, 'the journal gate still adds awaiting_finish')
  t.match(await a.request({ command: 'finish_payment', context: 'shop', success: true, response_code: '0000' }), { success: true })
  t.notOk('awaiting_finish' in (await compare('finished')).response)
})

t.test('list_devices follows the devices; a silent connection gets device events', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  const silent = await Client.open(t, rig.wsUrl)
  const ids = async () => ((await a.request({ command: 'list_devices' })).response as Message[]).map((d) => d.id as number).sort()
  const all = await ids()
  t.ok(all.includes(1), `device 1 listed (${all.join(', ')})`)
  const device = rig.server.runtime.registry.virtualDevice(1)!
  device.unplug()
  const removed = { event: 'device_removed', device: { id: 1, name: 'MOBI PIN 10 (virtual)', manufacturer: 'Gertec' } }
  t.same(await silent.next((m) => m.event === 'device_removed'), removed, 'to a connection that never sent anything')
  t.same(await ids(), all.filter((id) => id !== 1), 'gone from list_devices')
  device.plug()
  t.same(await silent.next((m) => m.event === 'device_added'), { ...removed, event: 'device_added' })
  t.same(await ids(), all, 'back in list_devices')
})
