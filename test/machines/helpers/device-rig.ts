/**
 * A live device actor: the real device machine provided with the real actors
 * (createDeviceActors) over a DeviceRegistry with one VirtualDevice, the sandbox acquirer for
 * card-hash keys and tables, and an owner that records the DEVICE.* notices. Everything that
 * happens goes into one ordered log: the commands the pinpad received and what it answered, its
 * EOTs, the notices, and the device's snapshots after each event it processed.
 *
 * The cardholder does nothing on their own: the test says what they do next (`intents`) and the
 * rig acts when the pinpad asks (or at once if it already asked).
 */
import type { Test } from 'tap'
import { createActor, fromCallback, type Actor, type InspectionEvent } from 'xstate'
import { deviceMachine, type ConnectParams, type DeviceEnd, type DeviceNotice } from '../../../machines/device.machine.js'
import { AcquirerClient } from '../../../src/acquirer/client.js'
import { CardVault } from '../../../src/card/vault.js'
import { DeviceRegistry } from '../../../src/transport/registry.js'
import { VirtualDevice } from '../../../src/simulator/virtual-device.js'
import { createDeviceActors } from '../../../src/pinpad/device-actors.js'
import { TablesStore } from '../../../src/tables/store.js'
import { VirtualPinpad } from '../../../src/simulator/virtual-pinpad.js'
import { factoryTables } from '../../../src/simulator/defaults.js'
import { silentLogger } from '../../../src/log.js'
import type { LinkTimings } from '../../../src/abecs/link.js'
import type { Sandbox } from './sandbox.js'

export type LogEntry =
  | { kind: 'cmd'; id: string }
  | { kind: 'rsp'; id: string; status: string }
  | { kind: 'eot' }
  | { kind: 'notice'; notice: DeviceNotice }
  | { kind: 'snap'; event: string; value: unknown; status: string }

export interface Intents {
  /** The card to present when the pinpad asks for one. */
  card?: string
  /** Type the PIN (1234) or press CANCEL when asked for it. */
  pin?: 'type' | 'cancel'
  /** Take the inserted card when asked to. */
  remove?: boolean
  /** Pick this menu option (1-based) or press CANCEL when a menu is shown (MNU). */
  choice?: number | 'cancel'
  /** Type this or press CANCEL when asked for data (GCD). */
  data?: string | 'cancel'
}

/** Simulator timings short enough for tests (no upper bounds are asserted on them). */
export const FAST_CARDHOLDER = { presentAfterMs: 30, pinAfterMs: 30, removeAfterMs: 30 }
export const FAST_TIMINGS = { noCardTimeoutMs: 200, cancelAfterMs: 50 }
/** Short link waits so that a pinpad that does not ACK (or EOT) fails quickly. */
export const SHORT_LINK: Partial<LinkTimings> = { ackTimeoutMs: 400, cancelTimeoutMs: 400, maxCancels: 2, responseTimeoutMs: 5000 }

/** The idle message (DSP) as the virtual pinpad's display shows it. */
export const IDLE_LINES = ['  MPOS BRIDGE', '     PRONTO']

export interface DeviceRigOptions {
  sandbox: Sandbox
  tablesDir: string
  specVersion?: '2.12' | '1.08'
  /** Extra inspection observers (coverage). */
  inspect?: Array<(e: InspectionEvent) => void>
  linkTimings?: Partial<LinkTimings>
  /** How the device is asked to connect (its input); it starts connecting on `start()`. */
  connect: ConnectParams
}

export class DeviceRig {
  readonly log: LogEntry[] = []
  readonly pad: VirtualPinpad
  readonly device: VirtualDevice
  readonly registry: DeviceRegistry
  readonly vault = new CardVault()
  readonly actor: Actor<typeof deviceMachine>
  /** How the device actor ended (its final state's output), once it did. */
  output: DeviceEnd | undefined
  intents: Intents = {}
  /** The customer's deadline for the states entered from now on. */
  deadlineMs = 3_600_000
  readonly #asked = { card: false, pin: false, remove: false, choice: false, data: false }
  #armed: Array<{ value: string; fn: () => void }> = []
  readonly #listeners = new Set<() => void>()
  readonly #timers = new Set<NodeJS.Timeout>()

  constructor(t: Test, options: DeviceRigOptions) {
    this.pad = new VirtualPinpad({
      tables: factoryTables(),
      identity: { specVersion: options.specVersion ?? '2.12' },
      cardholder: { autoCard: null, autoPin: null, ...FAST_CARDHOLDER },
      timings: FAST_TIMINGS,
    })
    this.device = new VirtualDevice(this.pad, 'virtual:1')
    this.registry = new DeviceRegistry({ virtual: [this.device] })
    const { actors, actions, guards } = createDeviceActors({
      registry: this.registry,
      vault: this.vault,
      acquirer: new AcquirerClient({ baseUrl: options.sandbox.url, retryDelayMs: 10 }),
      tablesStore: new TablesStore(options.tablesDir),
      logger: silentLogger,
      linkTimings: { ...SHORT_LINK, ...options.linkTimings },
    })

    this.pad.onLinkEvent((e) => {
      if (e.type === 'command') this.#push({ kind: 'cmd', id: e.id })
      else if (e.type === 'response') this.#push({ kind: 'rsp', id: e.id, status: e.status })
      else if (e.type === 'eot-sent') {
        // CAN ends whatever the cardholder was asked.
        this.#asked.card = this.#asked.pin = this.#asked.remove = this.#asked.choice = this.#asked.data = false
        this.#push({ kind: 'eot' })
      }
    })
    this.pad.cardholder.onEvent((e) => {
      if (e.type === 'asked-for-card') this.#asked.card = true
      else if (e.type === 'asked-for-pin') this.#asked.pin = true
      else if (e.type === 'asked-to-remove') this.#asked.remove = true
      else if (e.type === 'asked-to-choose') this.#asked.choice = true
      else if (e.type === 'asked-for-data') this.#asked.data = true
      else return
      this.#act()
    })

    const owner = createActor(fromCallback(({ receive }) => receive((notice) => this.#push({ kind: 'notice', notice: notice as DeviceNotice }))))
    owner.start()
    // The customer's deadline as the test says (set before the step that enters a state whose deadline must pass).
    const machine = deviceMachine.provide({ actors, actions, guards, delays: { customerDeadline: () => this.deadlineMs } })
    const observers = options.inspect ?? []
    this.actor = createActor(machine, {
      input: { deviceId: 1, owner, connect: options.connect },
      inspect: (e) => {
        for (const o of observers) o(e)
        if ((e.actorRef as { logic?: unknown }).logic !== machine) return
        const snapshot = e.type === '@xstate.microstep' || e.type === '@xstate.snapshot' ? (e.snapshot as unknown as { value: unknown; status: string }) : undefined
        if (e.type === '@xstate.microstep') {
          const value = JSON.stringify(snapshot!.value)
          const hit = this.#armed.filter((a) => a.value === value)
          this.#armed = this.#armed.filter((a) => a.value !== value)
          for (const a of hit) a.fn()
        }
        if (e.type === '@xstate.snapshot') this.#push({ kind: 'snap', event: e.event.type, value: snapshot!.value, status: snapshot!.status })
      },
    })
    t.teardown(async () => {
      for (const timer of this.#timers) clearTimeout(timer)
      this.actor.stop()
      owner.stop()
      this.pad.faults.stalled = false
      await this.registry.releaseAll()
      this.pad.detach()
    })
    this.actor.subscribe({ complete: () => (this.output = this.actor.getSnapshot().output as DeviceEnd) })
  }

  /** Starts the device: it opens the port at once. */
  start(): void {
    this.actor.start()
  }

  /** Runs `fn` when the device next enters the state `value` (before that state's actor starts). */
  arm(value: unknown, fn: () => void): void {
    this.#armed.push({ value: JSON.stringify(value), fn })
  }

  setIntents(intents: Intents): void {
    this.intents = intents
    this.#act()
  }

  /** Acts on what the pinpad asked, on the next turn (the pinpad starts waiting after it asks). */
  #act(): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      const ch = this.pad.cardholder
      if (this.#asked.card && this.intents.card) {
        this.#asked.card = false
        ch.present(this.intents.card)
        delete this.intents.card
      }
      if (this.#asked.pin && this.intents.pin) {
        this.#asked.pin = false
        if (this.intents.pin === 'type') ch.typePin('1234')
        else ch.press('cancel')
        delete this.intents.pin
      }
      if (this.#asked.choice && this.intents.choice !== undefined) {
        this.#asked.choice = false
        if (this.intents.choice === 'cancel') ch.press('cancel')
        else ch.choose(this.intents.choice)
        delete this.intents.choice
      }
      if (this.#asked.data && this.intents.data !== undefined) {
        this.#asked.data = false
        if (this.intents.data === 'cancel') ch.press('cancel')
        else ch.enter(this.intents.data)
        delete this.intents.data
      }
      if (this.#asked.remove && this.intents.remove) {
        this.#asked.remove = false
        ch.remove()
        delete this.intents.remove
      }
    }, 0)
    this.#timers.add(timer)
  }

  #push(entry: LogEntry): void {
    this.log.push(entry)
    for (const l of [...this.#listeners]) l()
  }

  /** Index of the first log entry from `from` that satisfies `match`; waits for it (a hang fails after `failAfterMs`). */
  async next(from: number, match: (e: LogEntry) => boolean, what: string, failAfterMs = 20_000): Promise<number> {
    for (let i = from; ; ) {
      for (; i < this.log.length; i++) if (match(this.log[i]!)) return i
      const grew = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          this.#listeners.delete(listener)
          resolve(false)
        }, failAfterMs)
        const listener = () => {
          clearTimeout(timer)
          this.#listeners.delete(listener)
          resolve(true)
        }
        this.#listeners.add(listener)
      })
      if (!grew) throw new Error(`nothing happened for ${failAfterMs} ms while waiting for ${what}; last: ${JSON.stringify(this.log.slice(-25))}`)
    }
  }

  /** Resolves once `check` holds (polled on every log entry and every 20 ms). */
  async until(check: () => boolean, what: string, failAfterMs = 20_000): Promise<void> {
    const deadline = Date.now() + failAfterMs
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
}

/** Command ids and answers in a slice of the log, as "GCX" and "GCX:000"; EOTs as "EOT". */
export function wire(entries: LogEntry[]): string[] {
  return entries.flatMap((e) => (e.kind === 'cmd' ? [e.id] : e.kind === 'rsp' ? [`${e.id}:${e.status}`] : e.kind === 'eot' ? ['EOT'] : []))
}

export function notices(entries: LogEntry[]): DeviceNotice[] {
  return entries.flatMap((e) => (e.kind === 'notice' ? [e.notice] : []))
}

/** Whether `sub` appears in `seq` in order (not necessarily adjacent). */
export function isSubsequence<T>(sub: T[], seq: T[], same: (a: T, b: T) => boolean = (a, b) => a === b): boolean {
  let i = 0
  for (const x of seq) if (i < sub.length && same(sub[i]!, x)) i++
  return i === sub.length
}
