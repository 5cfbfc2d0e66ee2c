/**
 * No payment waits forever (over /ws): nobody presents a card → the payment ends after its
 * `timeout_milliseconds` (by the pinpad's own ST_TIMEOUT on 2.x, the host's deadline on 1.x);
 * a pinpad that goes silent mid-payment → a coded error within seconds of the deadline, the
 * context usable again after a new initialize. The bridge runs on a ManualClock (helpers.ts):
 * the seconds these tests describe pass on the clock, which they read exactly, not in real time.
 */
import t from 'tap'
import { Client, EK, startBridge } from './helpers.js'
import { ManualClock } from '../helpers/manual-clock.js'
import { DEADLINE_GRACE_MS } from '../../machines/device.machine.js'
import { DEFAULT_TIMINGS } from '../../src/abecs/link.js'

const SHORTEST = 5000

t.test('timeout_milliseconds is validated', async (t) => {
  const clock = new ManualClock()
  const rig = await startBridge(t, { clock })
  const ws = await Client.open(t, rig.wsUrl, { clock })
  for (const bad of [4999, 600_001, 1.5, '60000']) {
    t.match(await ws.request({ command: 'process_payment', amount: 100, timeout_milliseconds: bad }), { success: false, code: 'MPOS_ERR_INVALID_FIELD', error: /timeout_milliseconds/ }, `${JSON.stringify(bad)} refused`)
  }
})

for (const spec of ['2.12', '1.08'] as const) {
  t.test(`${spec}: nobody presents a card — the payment ends after its timeout`, async (t) => {
    const clock = new ManualClock()
    const rig = await startBridge(t, { clock, runtime: { simulator: { identity: { specVersion: spec }, cardholder: { autoCard: null, presentAfterMs: 50, pinAfterMs: 50, removeAfterMs: 50 } } } })
    const ws = await Client.open(t, rig.wsUrl, { clock })
    t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
    const started = clock.now()
    const answer = await ws.request({ command: 'process_payment', amount: 1000, timeout_milliseconds: SHORTEST })
    const took = clock.now() - started
    t.match(answer.response, { status: 'errored', error_code: 12, error_type: 'MPOS_ERR_PAYMENT_TIMEOUT' }, 'errored with the ABECS timeout code')
    t.ok(took >= SHORTEST, `not before its time (${took} ms)`)
    // On the clock, exactly: the pinpad's SPE_TIMEOUT (whole seconds) on 2.x; the host's deadline (with its grace for that ST_TIMEOUT) on 1.x.
    t.equal(took, spec === '2.12' ? SHORTEST : SHORTEST + DEADLINE_GRACE_MS, 'when the timeout says')
    t.comment(`${spec}: answered after ${took} ms (${spec === '2.12' ? "the pinpad's SPE_TIMEOUT" : "the host's deadline"})`)
    t.match(await ws.request({ command: 'finish_payment', success: false }), { success: true })
    rig.pinpads[0]!.cardholder.options.autoCard = 'visa-credit'
    t.match((await ws.request({ command: 'process_payment', amount: 1000 })).response, { status: 'accepted' }, 'the next payment goes through')
  })
}

t.test('a pinpad that goes silent mid-payment: MPOS_ERR_DEVICE_TIMEOUT within seconds of the deadline', async (t) => {
  const clock = new ManualClock()
  const rig = await startBridge(t, { clock, runtime: { simulator: { cardholder: { autoCard: null, presentAfterMs: 50, pinAfterMs: 50, removeAfterMs: 50 } } } })
  const pad = rig.pinpads[0]!
  const ws = await Client.open(t, rig.wsUrl, { clock })
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  // Bluetooth out of range with the port still open: the pinpad hears nothing and says nothing.
  const off = pad.onLinkEvent((e) => {
    if (e.type === 'command' && e.id === 'GCX') {
      off()
      pad.faults.stalled = true
    }
  })
  const started = clock.now()
  const answer = await ws.request({ command: 'process_payment', amount: 1000, timeout_milliseconds: SHORTEST })
  const took = clock.now() - started
  t.match(answer.response, { status: 'errored', error_type: 'MPOS_ERR_DEVICE_TIMEOUT' }, 'the payment is answered with a coded error')
  t.comment(`answered after ${took} ms (deadline ${SHORTEST} ms + grace, then CAN × 3 without EOT)`)
  t.equal(took, SHORTEST + DEADLINE_GRACE_MS + DEFAULT_TIMINGS.maxCancels * DEFAULT_TIMINGS.cancelTimeoutMs, 'the deadline with its grace, then every CAN waited for in vain')
  const status = (await ws.request({ command: 'status' })).response
  t.match(status, { status: 'idle', connected_device_id: null, last_error: { code: 'MPOS_ERR_DEVICE_TIMEOUT' } }, 'status says what happened')
  t.match(await ws.request({ command: 'process_payment', amount: 1000 }), { success: false, code: 'MPOS_ERR_COMMAND_OUT_OF_ORDER' }, 'a new initialize is needed')

  // The pinpad is back: the same context initializes it again and pays.
  pad.faults.stalled = false
  pad.cardholder.options.autoCard = 'visa-credit'
  t.match(await ws.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true }, 'initialize again')
  t.match((await ws.request({ command: 'process_payment', amount: 1000 })).response, { status: 'accepted' })
  t.match(await ws.request({ command: 'finish_payment', success: true, response_code: '0000' }), { success: true })
  await rig.until(() => ws.events('status').at(-1)?.device_state === 'ready', 'ready again')
})
