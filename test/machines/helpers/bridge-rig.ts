/**
 * The whole machine tree as the server runs it: a BridgeRuntime (bridge → contexts → devices,
 * sessions) with virtual pinpads and the sandbox acquirer, driven through openSession like a
 * WebSocket connection would. Every snapshot of every actor is recorded raw (system.inspect),
 * and what the runtime's own `inspect` option gives (sanitized) too.
 *
 * Time is the rig's `clock`, an auto-advancing ManualClock (test/helpers/manual-clock.ts) the
 * whole runtime runs on: the machines' delays, the links, the virtual pinpads and their
 * cardholders, the acquirer client. Its real I/O (the sandbox acquirer over HTTP, the tables
 * store's files) holds the clock while pending, so a 5 s response timeout costs no real time and
 * every wait below ends at the same point of the clock on every machine, however busy. A test
 * lets time pass with `await rig.clock.sleep(ms)` and reads it with `rig.clock.now()`.
 */
import type { Test } from 'tap'
import { matchesState, type AnyActorRef, type InspectionEvent, type StateValue } from 'xstate'
import { BridgeRuntime, type RuntimeOptions } from '../../../src/bridge/runtime.js'
import type { Outgoing } from '../../../machines/session.machine.js'
import type { PushEvent, Request } from '../../../machines/protocol.js'
import type { VirtualPinpad } from '../../../src/simulator/virtual-pinpad.js'
import type { VirtualDevice } from '../../../src/simulator/virtual-device.js'
import { FAST_CARDHOLDER, FAST_TIMINGS, SHORT_LINK } from './device-rig.js'
import { ManualClock } from '../../helpers/manual-clock.js'
import { heldRuntime } from '../../helpers/held-io.js'
import { tempDir, type Sandbox } from './sandbox.js'

export const KEY = 'ek_test_scenarios_0123456789abcdef'

export type ReplyMessage = Extract<Outgoing, { kind: 'reply' }>

export interface TraceEntry {
  /** systemId ("bridge", "context:a", "device:1", "session:1") or the actor's id. */
  actor: string
  machine: string
  event: string
  value: unknown
}

export interface Client {
  /** The session id (its actor is `session:<id>`). */
  readonly id: string
  /** The runtime asked to close this connection (its session actor failed). */
  readonly faulted: boolean
  readonly messages: Outgoing[]
  /** Sends a request; resolves with its reply. */
  call(context: string, request: Request): Promise<ReplyMessage>
  /** Sends a request; the reply comes later through `reply(id)`. */
  send(context: string, request: Request): number
  reply(commandId: number): Promise<ReplyMessage>
  events(): PushEvent[]
  /** Waits for a pushed event matching `match` (after the first `from` events). */
  event(match: (e: PushEvent) => boolean, from?: number): Promise<PushEvent>
  close(): void
}

export interface BridgeRig {
  /** The clock of the whole runtime: auto-advancing, real I/O held. */
  clock: ManualClock
  runtime: BridgeRuntime
  sandbox: Sandbox
  pads: VirtualPinpad[]
  device(id: number): VirtualDevice
  client(): Client
  /** Raw snapshots of every machine actor, in order. */
  trace: TraceEntry[]
  /** What the runtime's `inspect` option gave (sanitized). */
  inspected: Array<{ actor: string; type: string; snapshot?: unknown; event?: unknown }>
  /** Every raw snapshot (and event) serialized, for the card-data search. */
  raw: string[]
  /** Waits until `actor` (systemId) reaches a state whose value serializes like `value`. */
  reach(actor: string, value: unknown, from?: number): Promise<number>
  /** Resolves when `actor` is (now or later) in `value`. */
  settle(actor: string, value: unknown): Promise<void>
  /** The contexts of machine snapshots, serialized. */
  machineContexts: string[]
  /** The current value of an actor's state. */
  valueOf(actor: string): unknown
  /** Resolves once `check` holds, the clock moving meanwhile (checked before every timer fires). */
  until(check: () => boolean, what: string): Promise<void>
}

function serialize(value: unknown): string {
  const seen = new WeakSet<object>()
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return String(v)
    if (Buffer.isBuffer(v)) return v.toString('hex')
    if (v && typeof v === 'object') {
      // Actor references and the like: their id, not their innards (which hold the whole system).
      if ('send' in v && 'getSnapshot' in v) return `[actor ${(v as unknown as { id: string }).id}]`
      if (seen.has(v)) return '[cycle]'
      seen.add(v)
    }
    return v
  })
}

export async function startBridge(
  t: Test,
  options: { sandbox: Sandbox; pinpads?: number; runtime?: Partial<RuntimeOptions>; observers?: Array<(e: InspectionEvent) => void> },
): Promise<BridgeRig> {
  const inspected: BridgeRig['inspected'] = []
  const simulator = options.runtime?.simulator ?? {}
  const clock = new ManualClock()
  const stopClock = clock.autoAdvance()
  // The sandbox keeps a held card-hash-key request on this clock's time.
  options.sandbox.clock = clock
  const dataDir = tempDir(t)
  const runtime = new BridgeRuntime({
    dataDir,
    apiUrl: options.sandbox.url,
    virtualPinpads: options.pinpads ?? 1,
    linkTimings: SHORT_LINK,
    ...heldRuntime(clock, dataDir),
    ...options.runtime,
    simulator: {
      ...simulator,
      cardholder: { autoCard: 'visa-credit', autoPin: '1234', ...FAST_CARDHOLDER, ...simulator.cardholder },
      timings: { ...FAST_TIMINGS, ...simulator.timings },
    },
    inspect: (e) => inspected.push(e),
  })
  const trace: TraceEntry[] = []
  const raw: string[] = []
  const machineContexts: string[] = []
  runtime.root.system.inspect((e: InspectionEvent) => {
    for (const o of options.observers ?? []) o(e)
    if (e.type === '@xstate.snapshot') {
      raw.push(serialize((e.snapshot as { toJSON?: () => unknown }).toJSON?.() ?? e.snapshot))
      const logic = (e.actorRef as { logic?: { id?: string; root?: unknown } }).logic
      if (logic?.root) {
        machineContexts.push(serialize((e.snapshot as unknown as { context: unknown }).context))
        const ref = e.actorRef as AnyActorRef & { systemId?: string }
        trace.push({ actor: ref.systemId ?? ref.id, machine: logic.id!, event: e.event.type, value: (e.snapshot as unknown as { value: unknown }).value })
      }
    } else if (e.type === '@xstate.event') raw.push(serialize(e.event))
  })
  await runtime.start()
  t.teardown(async () => {
    await runtime.shutdown(1000)
    stopClock()
    if (options.sandbox.clock === clock) delete options.sandbox.clock
  })

  let clients = 0
  const rig: BridgeRig = {
    clock,
    runtime,
    sandbox: options.sandbox,
    pads: runtime.virtualPinpads,
    device: (id) => runtime.virtualDeviceById(id) ?? runtime.virtualDevices()[id - 1]!.device,
    trace,
    inspected,
    raw,
    machineContexts,
    valueOf(actor) {
      const ref = runtime.root.system.get(actor) as AnyActorRef | undefined
      return (ref?.getSnapshot() as { value?: unknown } | undefined)?.value
    },
    async reach(actor, value, from = 0) {
      const want = JSON.stringify(value)
      // Partial: a parallel state's other regions may be anywhere.
      const reached = (v: unknown) => v !== undefined && matchesState(value as StateValue, v as StateValue)
      let i = from
      const find = () => {
        for (; i < trace.length; i++) if (trace[i]!.actor === actor && reached(trace[i]!.value)) return true
        return false
      }
      await clock.waitFor(find, `${actor} to reach ${want}`).catch((err: Error) => {
        throw new Error(`${actor} never reached ${want}; it is in ${JSON.stringify(rig.valueOf(actor))} (${err.message})`)
      })
      return i
    },
    async settle(actor, value) {
      const now = rig.valueOf(actor)
      if (now !== undefined && matchesState(value as StateValue, now as StateValue)) return
      await rig.reach(actor, value, trace.length)
    },
    until: (check, what) => clock.waitFor(check, what),
    client() {
      const n = ++clients
      const messages: Outgoing[] = []
      let faulted = false
      const session = runtime.openSession(
        (m) => messages.push(m),
        () => (faulted = true),
      )
      let seq = 0
      const waitFor = async <T>(find: () => T | undefined, what: string): Promise<T> => {
        let found: T | undefined
        await clock.waitFor(() => (found = find()) !== undefined, `client ${n}: ${what}`).catch((err: Error) => {
          throw new Error(`client ${n}: no ${what}; got ${JSON.stringify(messages.slice(-5))} (${err.message})`)
        })
        return found!
      }
      const client: Client = {
        id: session.id,
        get faulted() {
          return faulted
        },
        messages,
        send(context, request) {
          const id = ++seq
          session.send(context, request, id)
          return id
        },
        reply: (id) => waitFor(() => messages.find((m): m is ReplyMessage => m.kind === 'reply' && m.command_id === id), `reply to ${id}`),
        call(context, request) {
          return client.reply(client.send(context, request))
        },
        events: () => messages.flatMap((m) => (m.kind === 'event' ? [m.event] : [])),
        event: (match, from = 0) => waitFor(() => client.events().slice(from).find(match), 'such event'),
        close: () => session.close(),
      }
      return client
    },
  }
  return rig
}
