/**
 * `serve` makes the virtual pinpads on their first open (runtime `simulatorOnFirstOpen`): until
 * then they are listed exactly as when made at start, the bridge is ready, and the first
 * initialize (or the demo's controls) makes them.
 */
import t from 'tap'
import { startBridge, Client, httpGet, httpRequest, type Message } from './helpers.js'

const EK = 'ek_test_firstopenfirstopenfirst12'
const bytes = (m: Message) => {
  const { command_id: _, ...rest } = m
  return JSON.stringify(rest)
}

t.test('listed and ready before they are made; the first initialize makes the one it opens', async (t) => {
  const eager = await startBridge(t)
  const lazy = await startBridge(t, { runtime: { simulatorOnFirstOpen: true } })
  t.equal(lazy.server.runtime.virtualPinpads.length, 0, 'none made at start')
  const a = await Client.open(t, eager.wsUrl)
  const b = await Client.open(t, lazy.wsUrl)
  t.equal(bytes(await b.request({ command: 'list_devices' })), bytes(await a.request({ command: 'list_devices' })), 'list_devices byte-identical')
  t.equal(bytes(await b.request({ command: 'status', context: 'shop' })), bytes(await a.request({ command: 'status', context: 'shop' })), 'status byte-identical')
  t.equal((await httpGet(`${lazy.httpUrl}/ready`)).status, 200, 'ready')
  const ia = await a.request({ command: 'initialize', context: 'shop', encryption_key: EK })
  const ib = await b.request({ command: 'initialize', context: 'shop', encryption_key: EK })
  t.match(ib, { success: true })
  t.equal(bytes(ib), bytes(ia), 'initialize byte-identical')
  t.equal(lazy.server.runtime.virtualPinpads.length, 1, 'the opened one is made')
  t.equal(lazy.server.runtime.virtualDevices()[0]!.device.pinpad.identity.serialNumber, eager.pinpads[0]!.identity.serialNumber, 'the same pinpad')
  const pb = await b.request({ command: 'process_payment', context: 'shop', amount: 1000, command_id: 'pay-lazy' })
  t.match(pb, { success: true, response: { status: 'accepted' } }, 'a payment')
})

t.test('an unplugged virtual pinpad not made yet fails to open as before', async (t) => {
  const eager = await startBridge(t)
  const lazy = await startBridge(t, { runtime: { simulatorOnFirstOpen: true } })
  const answers: string[] = []
  for (const rig of [eager, lazy]) {
    rig.server.runtime.virtualDevices()[0]!.device.unplug()
    rig.server.runtime.virtualDevices()[0]!.device.plug()
    const c = await Client.open(t, rig.wsUrl)
    rig.server.runtime.virtualDevices()[1]!.device.unplug()
    answers.push(bytes(await c.request({ command: 'initialize', context: 'x', encryption_key: EK, device_id: 2 })))
  }
  t.equal(answers[1], answers[0], `byte-identical: ${answers[0]}`)
  t.equal(lazy.server.runtime.virtualPinpads.length, 0, 'nothing made')
})

t.test("the demo's controls make the pinpads they show", async (t) => {
  const eager = await startBridge(t, { demo: true })
  const lazy = await startBridge(t, { demo: true, runtime: { simulatorOnFirstOpen: true } })
  const [a, b] = await Promise.all([eager, lazy].map((rig) => httpGet(`${rig.httpUrl}/devtools/pinpads`)))
  t.equal(b!.status, 200)
  t.equal(b!.body, a!.body, 'GET /devtools/pinpads byte-identical')
  t.equal(lazy.server.runtime.virtualPinpads.length, 2)
  const lazier = await startBridge(t, { demo: true, runtime: { simulatorOnFirstOpen: true } })
  const auto = await httpRequest('POST', `${lazier.httpUrl}/devtools/pinpads/2`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'auto', on: false }) })
  t.equal(auto.status, 200)
  t.equal(lazier.server.runtime.virtualDeviceById(2)!.pinpad.cardholder.options.autoCard, null, 'a control made its pinpad and acted on it')
})
