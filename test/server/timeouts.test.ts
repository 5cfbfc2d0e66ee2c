/**
 * No payment waits forever (real time, over /ws): nobody presents a card → the payment ends after
 * its `timeout_milliseconds` (by the pinpad's own ST_TIMEOUT on 2.x, the host's deadline on 1.x);
 * a pinpad that goes silent mid-payment → a coded error within seconds of the deadline, the
 * context usable again after a new initialize. These tests take the seconds they describe.
 */
import t from 'tap'
import { Client, EK, startBridge, until } from './helpers.js'

const SHORTEST = 5000

t.test('timeout_milliseconds is validated', async (t) => {
  const rig = await startBridge(t)
  const ws = await Client.open(t, rig.wsUrl)
  for (const bad of [4999, 600_001, 1.5, '60000']) {
    t.match(await ws.request({ command: 'process_payment', amount: 100, timeout_milliseconds: bad }), { success: false, code: 'MPOS_ERR_INVALID_FIELD', error: /timeout_milliseconds/ }, `${JSON.stringify(bad)} refused`)
  }
})

for (const spec of ['2.12', '1.08'] as const) {
  t.test(`${spec}: nobody presents a card — the payment ends after its timeout`, async (t) => {
    const rig = await startBridge(t, { runtime: { simulator: { identity: { specVersion: spec }, cardholder: { autoCard: null, presentAfterMs: 50, pinAfterMs: 50, removeAfterMs: 50 } } } })
    const ws = await Client.open(t, rig.wsUrl)
    t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
    const started = Date.now()
    const answer = await ws.request({ command: 'process_payment', amount: 1000, timeout_milliseconds: SHORTEST })
    const took = Date.now() - started
    t.match(answer.response, { status: 'errored', error_code: 12, error_type: 'MPOS_ERR_PAYMENT_TIMEOUT' }, 'errored with the ABECS timeout code')
    t.ok(took >= SHORTEST - 200, `not before its time (${took} ms)`)
    t.comment(`${spec}: answered after ${took} ms (${spec === '2.12' ? "the pinpad's SPE_TIMEOUT" : "the host's deadline"})`)
    t.match(await ws.request({ command: 'finish_payment', success: false }), { success: true })
    rig.pinpads[0]!.cardholder.options.autoCard = 'visa-credit'
    t.match((await ws.request({ command: 'process_payment', amount: 1000 })).response, { status: 'accepted' }, 'the next payment goes through')
  })
}

t.test('a pinpad that goes silent mid-payment: MPOS_ERR_DEVICE_TIMEOUT within seconds of the deadline', async (t) => {
  const rig = await startBridge(t, { runtime: { simulator: { cardholder: { autoCard: null, presentAfterMs: 50, pinAfterMs: 50, removeAfterMs: 50 } } } })
  const pad = rig.pinpads[0]!
  const ws = await Client.open(t, rig.wsUrl)
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  // Bluetooth out of range with the port still open: the pinpad hears nothing and says nothing.
  const off = pad.onLinkEvent((e) => {
    if (e.type === 'command' && e.id === 'GCX') {
      off()
      pad.faults.stalled = true
    }
  })
  const started = Date.now()
  const answer = await ws.request({ command: 'process_payment', amount: 1000, timeout_milliseconds: SHORTEST })
  const took = Date.now() - started
  t.match(answer.response, { status: 'errored', error_type: 'MPOS_ERR_DEVICE_TIMEOUT' }, 'the payment is answered with a coded error')
  t.comment(`answered after ${took} ms (deadline ${SHORTEST} ms + grace, then CAN × 3 without EOT)`)
  const status = (await ws.request({ command: 'status' })).response
  t.match(status, { status: 'idle', connected_device_id: null, last_error: { code: 'MPOS_ERR_DEVICE_TIMEOUT' } }, 'status says what happened')
  t.match(await ws.request({ command: 'process_payment', amount: 1000 }), { success: false, code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER' }, 'a new initialize is needed')

  // The pinpad is back: the same context initializes it again and pays.
  pad.faults.stalled = false
  pad.cardholder.options.autoCard = 'visa-credit'
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true }, 'initialize again')
  t.match((await ws.request({ command: 'process_payment', amount: 1000 })).response, { status: 'accepted' })
  t.match(await ws.request({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true })
  await until(() => ws.events('status').at(-1)?.device_state === 'ready', 'ready again')
})
