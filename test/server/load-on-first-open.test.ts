/**
 * `serve` loads the ABECS stack and makes the virtual pinpads on the first open (runtime
 * `loadOnFirstOpen`): until then they are listed exactly as when made at start, the bridge is
 * ready, and the first initialize (or the demo's controls) loads and makes them.
 */
import t from 'tap'
import { startBridge, Client, handshakeStatus, httpGet, httpRequest, type Message } from './helpers.js'

const EK = 'ek_test_firstopenfirstopenfirst12'
const bytes = (m: Message) => {
  const { command_id: _, ...rest } = m
  return JSON.stringify(rest)
}

t.test('listed and ready before anything is loaded; the first initialize loads the stack and makes the pinpad it opens', async (t) => {
  // The lazy bridge first: in this process, nothing has loaded the ABECS stack nor the simulator yet.
  const lazy = await startBridge(t, { runtime: { loadOnFirstOpen: true } })
  t.equal(lazy.server.runtime.virtualPinpads.length, 0, 'none made at start')
  t.equal((await httpGet(`${lazy.httpUrl}/ready`)).status, 200, 'ready')
  const answers = async (rig: typeof lazy) => {
    const c = await Client.open(t, rig.wsUrl)
    return [
      await c.request({ command: 'list_devices' }),
      await c.request({ command: 'status', context: 'shop' }),
      await c.request({ command: 'initialize', context: 'shop', encryption_key: EK }),
      await c.request({ command: 'process_payment', context: 'shop', amount: 1000 }),
    ].map(bytes)
  }
  const fromLazy = await answers(lazy)
  t.equal(lazy.server.runtime.virtualPinpads.length, 1, 'the opened one is made')
  const eager = await startBridge(t)
  const fromEager = await answers(eager)
  t.equal(fromLazy[0], fromEager[0], 'list_devices byte-identical')
  t.equal(fromLazy[1], fromEager[1], 'status byte-identical')
  t.equal(fromLazy[2], fromEager[2], 'initialize byte-identical')
  t.match(JSON.parse(fromLazy[3]!), { success: true, response: { status: 'accepted' } }, 'a payment')
  t.equal(lazy.server.runtime.virtualDevices()[0]!.device.pinpad.identity.serialNumber, eager.pinpads[0]!.identity.serialNumber, 'the same pinpad')
})

t.test('an unplugged virtual pinpad not made yet is refused as before', async (t) => {
  const eager = await startBridge(t)
  const lazy = await startBridge(t, { runtime: { loadOnFirstOpen: true } })
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
  const lazy = await startBridge(t, { demo: true, runtime: { loadOnFirstOpen: true } })
  const [a, b] = await Promise.all([eager, lazy].map((rig) => httpGet(`${rig.httpUrl}/devtools/pinpads`)))
  t.equal(b!.status, 200)
  t.equal(b!.body, a!.body, 'GET /devtools/pinpads byte-identical')
  t.equal(lazy.server.runtime.virtualPinpads.length, 2)
  const lazier = await startBridge(t, { demo: true, runtime: { loadOnFirstOpen: true } })
  const auto = await httpRequest('POST', `${lazier.httpUrl}/devtools/pinpads/2`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'auto', on: false }) })
  t.equal(auto.status, 200)
  t.equal(lazier.server.runtime.virtualDeviceById(2)!.pinpad.cardholder.options.autoCard, null, 'a control made its pinpad and acted on it')
})

t.test('a second after start the machine side has loaded by itself: the first connection does not wait for it', async (t) => {
  const lazy = await startBridge(t, { runtime: { loadOnFirstOpen: true } })
  t.throws(() => lazy.server.runtime.root, /has not loaded its machines/, 'not at start')
  await new Promise((r) => setTimeout(r, 2500))
  t.ok(lazy.server.runtime.root, 'loaded in the background')
  t.equal(lazy.server.runtime.virtualPinpads.length, 0, 'the pinpads are still made by their first open')
  const c = await Client.open(t, lazy.wsUrl)
  t.match(await c.request({ command: 'status', context: 'shop' }), { success: true, response: { status: 'idle' } })
})

t.test('a shutdown that begins while the first connection loads the machine side refuses it and ends', async (t) => {
  const lazy = await startBridge(t, { runtime: { loadOnFirstOpen: true } })
  const runtime = lazy.server.runtime
  const load = runtime.loadCore.bind(runtime)
  let closed: Promise<void> | undefined
  // SIGTERM's moment: the upgrade has passed its checks and waits for the load.
  runtime.loadCore = () => {
    closed ??= lazy.server.close()
    return load()
  }
  const handshake = await handshakeStatus(lazy.wsUrl)
  t.equal(handshake.status, 503, 'refused: the bridge is shutting down')
  t.match(handshake.body, /MPOS_ERR_SHUTTING_DOWN|shutting down/i)
  t.ok(closed, 'the shutdown began during the load')
  // Without the refusal the upgraded socket, missed by the shutdown's preClose, held the server open.
  await closed
  t.pass('the shutdown ended')
})
