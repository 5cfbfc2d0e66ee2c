/**
 * HTTP probes: /health (liveness), /ready (devices, discovery, acquirer reachability), /status
 * (version, uptime, devices, contexts, connections) and /metrics (Prometheus text).
 */
import t from 'tap'
import { createServer } from 'node:net'
import { Client, EK, httpGet, recordLink, startBridge, until, type Message } from './helpers.js'
import { ManualClock } from '../helpers/manual-clock.js'

const json = async (url: string) => {
  const res = await httpGet(url)
  return { status: res.status, body: JSON.parse(res.body) as Message, type: res.headers['content-type'] }
}

/** One sample of a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}

t.test('/health and /ready with the virtual pinpads and the embedded sandbox', async (t) => {
  const rig = await startBridge(t)
  t.same(await json(`${rig.httpUrl}/health`), { status: 200, body: { status: 'ok' }, type: 'application/json; charset=utf-8' })
  const ready = await json(`${rig.httpUrl}/ready`)
  t.equal(ready.status, 200)
  t.match(ready.body, { ready: true, devices: 2, discovery: 'off', acquirer: { url: 'embedded sandbox', reachable: true, detail: /^HTTP \d{3}$/ } })
  t.same(Object.keys(ready.body).sort(), ['acquirer', 'devices', 'discovery', 'ready'])
})

t.test('/ready: 503 when the acquirer cannot be reached', async (t) => {
  // A port that was free a moment ago: nothing listens there.
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const closedPort = (probe.address() as { port: number }).port
  await new Promise((r) => probe.close(r))
  const apiUrl = `http://127.0.0.1:${closedPort}/1`
  const rig = await startBridge(t, { apiUrl })
  const ready = await json(`${rig.httpUrl}/ready`)
  t.equal(ready.status, 503)
  t.match(ready.body, { ready: false, devices: 2, discovery: 'off', acquirer: { url: apiUrl, reachable: false, detail: /./ } })
  t.equal((await json(`${rig.httpUrl}/health`)).status, 200, 'still alive')
})

t.test('/ready: 503 without any device; discovery reported when it runs', async (t) => {
  const rig = await startBridge(t, { simulator: false, discovery: true, runtime: { virtualPinpads: 0 } })
  await until(() => rig.server.runtime.registry.discoveryRunning, 'discovery runs')
  const ready = await json(`${rig.httpUrl}/ready`)
  t.equal(ready.status, rig.server.runtime.devices().length > 0 ? 200 : 503, 'ready only with a device')
  t.match(ready.body, { discovery: 'running', acquirer: { reachable: true } })
  t.equal(ready.body.devices, rig.server.runtime.devices().length)
})

t.test('/status: version, uptime since start, devices, contexts, connections', async (t) => {
  // The uptime counts from this server's start, not from when the module was loaded: on the
  // bridge's clock (a ManualClock, helpers.ts), 1.6 s pass before the server starts.
  const clock = new ManualClock()
  await clock.advance(1600)
  const before = clock.now()
  const rig = await startBridge(t, { version: '9.8.7', clock })
  const status = (url: string) => clock.holdDuring(json(url))
  const first = await status(`${rig.httpUrl}/status`)
  t.equal(first.status, 200)
  const sinceStart = Math.round((clock.now() - before) / 1000)
  t.equal(first.body.uptime_seconds, sinceStart, `uptime ${first.body.uptime_seconds} s counts from the start (${sinceStart} s on the clock)`)
  t.same(first.body, {
    version: '9.8.7',
    uptime_seconds: first.body.uptime_seconds,
    connections: 0,
    devices: [
      { id: 1, name: 'MOBI PIN 10 (virtual)', manufacturer: 'Gertec', kind: 'virtual', path: 'virtual:1' },
      { id: 2, name: 'MOBI PIN 10 (virtual)', manufacturer: 'Gertec', kind: 'virtual', path: 'virtual:2' },
    ],
    contexts: [],
    awaiting_finish: [],
  })

  const a = await Client.open(t, rig.wsUrl, { clock })
  const b = await Client.open(t, rig.wsUrl, { clock })
  t.match(await a.request({ command: 'initialize', context: 'shop', encryption_key: EK, device_id: 2 }), { success: true })
  t.match(await b.request({ command: 'status', context: 'backoffice' }), { success: true })
  await rig.until(() => rig.server.runtime.contexts().find((c) => c.name === 'shop')?.device_state === 'ready', 'device ready')
  const second = await status(`${rig.httpUrl}/status`)
  t.equal(second.body.connections, 2)
  t.same(second.body.contexts, [
    { name: 'shop', state: { initialized: { activity: 'ready', obligation: 'none' } }, device_id: 2, device_state: 'ready' },
    { name: 'backoffice', state: 'idle', device_id: null },
  ])
  t.notOk(JSON.stringify(second.body).includes(EK), 'the encryption key is not shown')

  rig.pinpads[1]!.cardholder.options.autoCard = null
  a.sendRaw(JSON.stringify({ command: 'process_payment', context: 'shop', amount: 1000 }))
  await rig.until(() => rig.server.runtime.contexts().find((c) => c.name === 'shop')?.device_state === 'awaitingCard', 'card wait')
  const paying = await status(`${rig.httpUrl}/status`)
  t.same(paying.body.contexts[0], { name: 'shop', state: { initialized: { activity: { paying: 'inProgress' }, obligation: 'none' } }, device_id: 2, device_state: 'awaitingCard' }, 'the machine state mid-payment')

  b.terminate()
  await rig.until(() => rig.server.runtime.sessionCount === 1, 'b gone')
  await clock.sleep(2400)
  const last = await status(`${rig.httpUrl}/status`)
  t.equal(last.body.connections, 1)
  t.equal(last.body.uptime_seconds, Math.round((clock.now() - before) / 1000), `uptime ${last.body.uptime_seconds} s: the clock's time since the start`)
  t.equal(last.body.uptime_seconds, 2, 'the 2.4 s let pass')
})

t.test('/metrics: commands, durations, payments, link errors, connections', async (t) => {
  const rig = await startBridge(t)
  const a = await Client.open(t, rig.wsUrl)
  const b = await Client.open(t, rig.wsUrl)
  let res = await httpGet(`${rig.httpUrl}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.equal(sample(res.body, 'mpos_bridge_open_connections'), 2, 'two connections open')

  await a.request({ command: 'status' })
  await a.request({ command: 'status' })
  await a.exchange('not json')
  await a.exchange('{"command":"refund"}')
  await a.exchange('{"command":"status","command_id":{}}')
  await a.request({ command: 'process_payment', amount: 1000 }) // out of order: an error
  t.match(await a.request({ command: 'initialize', encryption_key: EK, device_id: 1 }), { success: true })
  rig.pinpads[0]!.cardholder.present('visa-credit')
  t.match((await a.request({ command: 'process_payment', amount: 1000 })).response, { status: 'accepted' })
  await a.request({ command: 'finish_payment', success: true, response_code: '0000' })
  t.match((await a.request({ command: 'process_payment', amount: 1013 })).response, { status: 'canceled' })
  await a.request({ command: 'finish_payment', success: false })

  // One NAK on the link: the host resends and the command still succeeds.
  const link = recordLink(rig.pinpads[0]!)
  rig.pinpads[0]!.faults.nakNext = 1
  t.match(await a.request({ command: 'display_message', message: 'after a NAK' }), { success: true })
  t.ok(link.some((e) => e.type === 'nak-sent'), 'the pinpad sent a NAK')
  b.terminate()
  await until(() => rig.server.runtime.sessionCount === 1, 'b gone')

  res = await httpGet(`${rig.httpUrl}/metrics`)
  const m = res.body
  t.equal(sample(m, 'mpos_bridge_commands_total', { command: 'status', outcome: 'success' }), 2)
  t.equal(sample(m, 'mpos_bridge_commands_total', { command: 'invalid', outcome: 'invalid' }), 2, 'invalid messages counted, unknown commands among them')
  t.notOk(m.includes('command="refund"'), 'a made-up command name is no label')
  t.equal(sample(m, 'mpos_bridge_commands_total', { command: 'status', outcome: 'invalid' }), 1, 'a known command with bad fields')
  t.equal(sample(m, 'mpos_bridge_commands_total', { command: 'process_payment', outcome: 'error' }), 1, 'the refused payment')
  t.equal(sample(m, 'mpos_bridge_commands_total', { command: 'process_payment', outcome: 'success' }), 2)
  t.equal(sample(m, 'mpos_bridge_commands_total', { command: 'initialize', outcome: 'success' }), 1)
  t.equal(sample(m, 'mpos_bridge_commands_total', { command: 'finish_payment', outcome: 'success' }), 2)
  t.equal(sample(m, 'mpos_bridge_commands_total', { command: 'display_message', outcome: 'success' }), 1)
  t.equal(sample(m, 'mpos_bridge_command_duration_seconds_count', { command: 'process_payment' }), 3)
  t.equal(sample(m, 'mpos_bridge_command_duration_seconds_count', { command: 'status' }), 2)
  t.ok((sample(m, 'mpos_bridge_command_duration_seconds_sum', { command: 'process_payment' }) ?? 0) > 0, 'durations are observed')
  t.equal(sample(m, 'mpos_bridge_command_duration_seconds_bucket', { command: 'process_payment', le: '+Inf' }), 3)
  t.equal(sample(m, 'mpos_bridge_payments_total', { status: 'accepted' }), 1)
  t.equal(sample(m, 'mpos_bridge_payments_total', { status: 'canceled' }), 1)
  t.equal(sample(m, 'mpos_bridge_link_errors_total', { kind: 'nak' }), 1, 'the NAK is a link error')
  t.equal(sample(m, 'mpos_bridge_open_connections'), 1, 'one connection left')
  t.match(m, /# TYPE mpos_bridge_commands_total counter/)
  t.match(m, /# TYPE mpos_bridge_command_duration_seconds histogram/)
  t.match(m, /# TYPE mpos_bridge_open_connections gauge/)

  // Unplugging counts as a link error too.
  rig.server.runtime.registry.virtualDevice(2)!.unplug()
  res = await httpGet(`${rig.httpUrl}/metrics`)
  t.equal(sample(res.body, 'mpos_bridge_link_errors_total', { kind: 'device-removed' }), 1)
})
