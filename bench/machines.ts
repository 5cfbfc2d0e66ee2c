/**
 * `npm run bench:machines`: what the machines alone cost per payment — the bridge machine with a
 * session, a context and a device, every pinpad step an actor that answers at once (no ABECS, no
 * serial port, no socket, no journal). The figure is the XState share of a payment's CPU, the
 * floor that src/ can not go under while the flow keeps its actors and events.
 *
 *   --events       the time spent in each (machine, event) per payment, nested processing
 *                  excluded (another actor's step run inside an action is counted for that actor)
 *   --default-gc   V8's default garbage collector settings instead of the bridge's (src/gc-tuning.ts)
 *   BENCH_MACHINES_PAYMENTS (2,000 per round), BENCH_MACHINES_ROUNDS (5)
 *
 * Prints CPU (user + system of this process, every thread) per payment for each round, and the
 * median. No assertions.
 */
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { events: { type: 'boolean', default: false }, 'default-gc': { type: 'boolean', default: false } } })
// Before the machines load, as src/server/app.ts does.
if (!values['default-gc']) await import('../src/gc-tuning.js')

const { Actor, createActor, fromCallback, fromPromise } = await import('xstate')
const { bridgeMachine } = await import('../machines/bridge.machine.js')
const { contextMachine } = await import('../machines/context.machine.js')
const { deviceMachine } = await import('../machines/device.machine.js')
const { sessionMachine } = await import('../machines/session.machine.js')
type Outgoing = import('../machines/session.machine.js').Outgoing
type DeviceEvent = import('../machines/device.machine.js').DeviceEvent
type Request = import('../machines/protocol.js').Request

const PER_ROUND = Number(process.env.BENCH_MACHINES_PAYMENTS ?? 2000)
const ROUNDS = Number(process.env.BENCH_MACHINES_ROUNDS ?? 5)

// A chip card with online PIN, approved online: the steps of bench/pay-cpu.ts's payments.
const identity = { manufacturer: 'BENCH', model: 'INSTANT', serialNumber: '1', firmwareVersion: '1', specVersion: '2.12', contactless: true, dukptKeys: [1], abecs: true }
const at = <T>(value: T) => fromPromise<T, unknown>(async () => value)
const actors = {
  openPinpad: fromPromise(async ({ input }: { input: { deviceId: number } }) => ({ deviceId: input.deviceId, identity })),
  watchLink: fromCallback<DeviceEvent, unknown>(() => () => {}),
  syncTables: at({ tablesVersion: '1', loaded: false }),
  showIdle: at(undefined),
  readCard: at({ kind: 'card' as const, cardRef: 'card', card: { paymentMethod: 'credit_card' as const, contactless: false, chip: true, needsPin: false } }),
  fetchCardHashKey: at({ id: 1, publicKey: 'unused' }),
  goOnChip: at({ decision: 'online' as const, pin: 'online' as const }),
  capturePin: at(undefined),
  buildCardHash: at({ cardHash: '1_BENCH' }),
  finishChip: at({ approved: true }),
  removeCard: at(undefined),
  cancelPinpad: at(undefined),
  displayMessage: at(undefined),
  closeLink: at(undefined),
}

let onReply: ((m: Outgoing) => void) | undefined
let delivered = 0
const machine = bridgeMachine.provide({
  actions: { reportFault: (_, fault) => console.error('actor failed', fault), closeDevice: () => {}, closeConnection: () => {}, recordAnswer: () => {} },
  actors: {
    // The key fetched by the first payment is kept, as src/pinpad/device-actors.ts does while it is good.
    context: contextMachine.provide({ actors: { device: deviceMachine.provide({ actors: actors as never, guards: { keyKept: ({ context }) => context.cardHashKey !== undefined } }) } }),
    session: sessionMachine.provide({
      actions: {
        deliver: (_, message) => {
          delivered++
          onReply?.(message as Outgoing)
        },
      },
    }),
  },
})

// --events: each actor's own time per event, the time of what it caused in other actors taken out.
const costs = new Map<string, { n: number; ms: number }>()
if (values.events) {
  const nested: number[] = []
  const proto = Actor.prototype as unknown as { _process(this: InstanceType<typeof Actor>, event: { type: string }): void }
  const process_ = proto._process
  proto._process = function (event) {
    const start = performance.now()
    nested.push(0)
    try {
      process_.call(this, event)
    } finally {
      const inner = nested.pop()!
      const spent = performance.now() - start
      if (nested.length) nested[nested.length - 1]! += spent
      const logic = this.logic as { id?: string; root?: unknown }
      const type = event.type.startsWith('xstate.done.actor.') ? `done.actor.${event.type.split('.').pop()}` : event.type
      const key = `${logic.root ? logic.id : `(${this.id})`} ${type}`
      const c = costs.get(key) ?? { n: 0, ms: 0 }
      c.n++
      c.ms += spent - inner
      costs.set(key, c)
    }
  }
}

const root = createActor(machine, { systemId: 'bridge' })
root.start()
root.send({ type: 'DEVICES.CHANGED', devices: [{ id: 1, name: 'instant pinpad', manufacturer: 'BENCH' }] })
root.send({ type: 'SESSION.OPEN', sessionId: '1' })
const session = root.getSnapshot().context.sessions['1']!
let seq = 0
const call = (request: Request) =>
  new Promise<Outgoing & { kind: 'reply' }>((resolve) => {
    const id = ++seq
    onReply = (m) => {
      if (m.kind === 'reply' && m.command_id === id) resolve(m)
    }
    session.send({ type: 'CLIENT.REQUEST', context: 'bench', request, command_id: id })
  })

const init = await call({ command: 'initialize', encryption_key: 'ek_test_bench', device_id: 1, simple_initialize: true } as Request)
if (!init.success) throw new Error(`initialize: ${JSON.stringify(init)}`)
async function pay(): Promise<void> {
  const p = (await call({ command: 'process_payment', amount: 1000 } as Request)) as { response?: { status?: string } }
  if (p.response?.status !== 'accepted') throw new Error(`process_payment: ${JSON.stringify(p)}`)
  const f = await call({ command: 'finish_payment', success: true, response_code: '0000', emv_data: '8A023030' } as Request)
  if (!f.success) throw new Error(`finish_payment: ${JSON.stringify(f)}`)
  // The idle screen (showIdle) ends before the next payment, as at a till.
  await new Promise((r) => setImmediate(r))
}

for (let i = 0; i < PER_ROUND; i++) await pay()
costs.clear()
const figures: number[] = []
let messages = 0
for (let round = 0; round < ROUNDS; round++) {
  const before = delivered
  const cpu = process.cpuUsage()
  for (let i = 0; i < PER_ROUND; i++) await pay()
  const used = process.cpuUsage(cpu)
  figures.push((used.user + used.system) / PER_ROUND)
  messages = (delivered - before) / PER_ROUND
}
const median = [...figures].sort((a, b) => a - b)[Math.floor(figures.length / 2)]!
console.log(`machines alone (${values['default-gc'] ? "V8's default GC" : 'the bridge’s GC settings'}): ${median.toFixed(0)} µs CPU per payment (rounds ${figures.map((f) => f.toFixed(0)).join(' ')}), ${messages} messages delivered per payment`)
if (values.events) {
  const payments = PER_ROUND * ROUNDS
  let total = 0
  for (const [key, c] of [...costs].sort((a, b) => b[1].ms - a[1].ms)) {
    total += c.ms
    console.log(`${((c.ms * 1000) / payments).toFixed(1).padStart(8)} µs ${(c.n / payments).toFixed(1).padStart(5)}× ${key}`)
  }
  console.log(`${((total * 1000) / payments).toFixed(0).padStart(8)} µs in the actors' steps (the rest of the figure: promise plumbing, GC; the timing itself adds some)`)
}
process.exit(0)
