/**
 * Contexts have a lifecycle: one that holds no pinpad and has no connection attached ends, `close`
 * ends one, the limit counts live contexts only, and one connection cannot hold more than
 * MAX_CONTEXTS_PER_CONNECTION of them — so names wasted by one client never lock out the next till.
 */
import t from 'tap'
import { MAX_CONTEXTS, MAX_CONTEXTS_PER_CONNECTION } from '../../machines/bridge.machine.js'
import { Client, EK, startBridge, until } from './helpers.js'

t.test('80 throwaway names from one client do not lock out the next till', async (t) => {
  const rig = await startBridge(t)
  const waster = await Client.open(t, rig.wsUrl)
  const answers = []
  for (let i = 1; i <= 80; i++) answers.push(await waster.request({ command: 'status', context: `junk-${i}` }))
  const served = answers.filter((a) => a.success)
  t.equal(served.length, MAX_CONTEXTS_PER_CONNECTION, `${MAX_CONTEXTS_PER_CONNECTION} names served`)
  t.match(answers.at(-1), { success: false, code: 'MPOS_ERR_TOO_MANY_CONTEXTS', context: 'junk-80', error: /One connection may use at most 8 contexts/ })
  t.match(await waster.request({ command: 'status', context: 'junk-3' }), { success: true }, 'its own contexts still answer')

  const till = await Client.open(t, rig.wsUrl)
  t.match(await till.request({ command: 'initialize', context: 'till-2', encryption_key: EK }), { success: true }, 'the next till gets a context')

  waster.terminate()
  await until(() => !rig.server.runtime.contexts().some((c) => c.name.startsWith('junk-')), 'the wasted contexts to end')
  t.same(rig.server.runtime.contexts().map((c) => c.name), ['till-2'], 'only the till with a pinpad is left')
})

t.test('the limit counts live contexts; they come back as their connections go', async (t) => {
  const rig = await startBridge(t)
  const clients: Client[] = []
  for (let c = 0; c < MAX_CONTEXTS / MAX_CONTEXTS_PER_CONNECTION; c++) {
    const client = await Client.open(t, rig.wsUrl)
    clients.push(client)
    for (let i = 0; i < MAX_CONTEXTS_PER_CONNECTION; i++) t.equal((await client.request({ command: 'status', context: `c${c}-${i}` })).success, true)
  }
  t.equal(rig.server.runtime.contexts().length, MAX_CONTEXTS)
  const late = await Client.open(t, rig.wsUrl)
  t.match(await late.request({ command: 'status', context: 'late' }), { success: false, code: 'MPOS_ERR_TOO_MANY_CONTEXTS', error: /At most 64 contexts/ })
  t.match(await clients[0]!.request({ command: 'status', context: 'c0-1' }), { success: true }, 'existing contexts still answer')
  clients[3]!.terminate()
  await until(() => rig.server.runtime.contexts().length === MAX_CONTEXTS - MAX_CONTEXTS_PER_CONNECTION, 'one client’s contexts to end')
  t.match(await late.request({ command: 'status', context: 'late' }), { success: true }, 'a new till gets one')
})

t.test('close ends a context; one holding a pinpad outlives its connection', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  t.match(await a.request({ command: 'initialize', context: 'shop', encryption_key: EK }), { success: true })
  t.match(await a.request({ command: 'close', context: 'shop' }), { success: true })
  t.notOk(rig.server.runtime.contexts().some((c) => c.name === 'shop'), 'close ended it')
  t.match((await a.request({ command: 'status', context: 'shop' })).response, { status: 'idle', connected_device_id: null }, 'the name starts afresh')

  t.match(await a.request({ command: 'initialize', context: 'shop', encryption_key: EK }), { success: true })
  a.terminate()
  const b = await Client.open(t, rig.wsUrl)
  t.match((await b.request({ command: 'status', context: 'shop' })).response, { status: 'initialized' }, 'a reload finds its initialized context')
  t.match(await b.request({ command: 'close', context: 'shop' }), { success: true })
  b.terminate()
  await until(() => rig.server.runtime.contexts().length === 0, 'no context left')
})

t.test('a context may be named like a property of every object: toString, __proto__, constructor…', async (t) => {
  // Found by the /ws fuzz test: `close` on a context named "toString" met Object.prototype's
  // function where a context actor was expected, and the bridge stopped answering anyone.
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl)
  const names = ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf', '__defineGetter__']
  for (const name of names) {
    t.match(await ws.request({ command: 'close', context: name }), { success: true, context: name }, `close on ${name}`)
    t.match(await ws.request({ command: 'status', context: name }), { success: true, context: name, response: { status: 'idle' } }, `status on ${name}`)
  }
  t.match(await ws.request({ command: 'initialize', context: '__proto__', encryption_key: EK }), { success: true, context: '__proto__' }, 'a pinpad for "__proto__"')
  t.match(await ws.request({ command: 'status', context: '__proto__' }), { success: true, response: { status: 'initialized' } }, 'its status')
  t.match(await ws.request({ command: 'close', context: '__proto__' }), { success: true })
  const other = await Client.open(t, rig.wsUrl)
  t.match(await other.request({ command: 'status', context: 'till-1' }), { success: true }, 'the bridge still serves everyone')
})
