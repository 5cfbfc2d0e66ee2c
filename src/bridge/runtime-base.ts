/**
 * Wires the machines to the real world: the device registry (virtual pinpads, serial ports),
 * the device actors over the ABECS stack, the acquirer, the card vault. The server talks to
 * it with sessions; tests use it directly (src/bridge/runtime.ts, the machine side made with it).
 *
 * The machine side (src/bridge/runtime-core.ts: xstate, the machines, the ABECS stack's actors,
 * the acquirer client) is given to the constructor, or, with `loadOnFirstOpen`, loaded by
 * loadCore() when the first connection needs it (`serve`: a faster start). The registry and the
 * virtual pinpads are there from the start either way: /ready and the demo's controls need them.
 */
import type { Actor } from 'xstate'
import type { bridgeMachine, DeviceListEntry } from '../../machines/bridge.machine.js'
import type { Outgoing } from '../../machines/session.machine.js'
import type { Envelope, PushEvent, Reply, Request } from '../../machines/protocol.js'
import { DeviceRegistry, type DeviceEntry } from '../transport/registry.js'
import type { VirtualDevice } from '../simulator/virtual-device.js'
import { SerialDiscovery } from '../transport/discovery.js'
import type { VirtualPinpad, VirtualPinpadOptions } from '../simulator/virtual-pinpad.js'
import { virtualDevices } from './virtual-pinpads.js'
import { CardVault } from '../card/vault.js'
import type { AcquirerClient, AcquirerClientOptions } from '../acquirer/client.js'
import type { TablesStore } from '../tables/store.js'
import type { LinkTimings, LinkTrace } from '../abecs/link.js'
import { silentLogger, type Logger } from '../log.js'
import { sleep, systemClock, type Clock } from '../clock.js'
import type { RuntimeCore } from './runtime-core.js'

/** The machine side's module (src/bridge/runtime-core.ts). */
export type CoreModule = typeof import('./runtime-core.js')

export interface RuntimeOptions {
  dataDir: string
  /** Base URL of the acquirer API (the embedded sandbox by default, see src/server). */
  apiUrl: string
  /** How many virtual pinpads to offer (0 = none, `--no-simulator`). */
  virtualPinpads?: number
  simulator?: VirtualPinpadOptions
  /**
   * Load the ABECS stack and make the virtual pinpads (loading the simulator) on the first open
   * rather than at start (`serve`: a faster start). The virtual pinpads are listed from the start
   * either way. Off by default: a first open on a test's auto-advancing clock would see the clock
   * jump while the modules load in real time.
   */
  loadOnFirstOpen?: boolean
  /** Serial ports to list even when discovery does not find them. */
  serialPaths?: string[]
  /** Poll the OS for serial ports (off in most tests). */
  discovery?: boolean
  /** Baud rate for serial pinpads when initialize gives none. */
  baudRate?: number
  logger?: Logger
  linkTimings?: Partial<LinkTimings>
  onLinkTrace?: (deviceId: number, trace: LinkTrace) => void
  /**
   * Called with the answer of every journaled command (JOURNALED_COMMANDS with a command_id) as
   * the context gives it, also when the connection that asked has gone: the journal records it.
   */
  onAnswer?: (envelope: Envelope, reply: Reply) => void
  /** Called with every machine event, sanitized (live inspection in development). */
  inspect?: (record: InspectRecord) => void
  /**
   * The clock of everything that waits or measures time: the machines' delays (every actor of
   * the system), the links and the open budget, the virtual pinpads, discovery's polling, the
   * acquirer client's timeouts and retries, the shutdown wait (default: the real one).
   */
  clock?: Clock
  /** Acquirer client settings besides its URL, logger and clock (tests: shorter waits, a `fetch` of their own). */
  acquirer?: Omit<AcquirerClientOptions, 'baseUrl' | 'logger' | 'clock'>
  /** Where the EMV tables are kept (default: a TablesStore in `dataDir`). */
  tablesStore?: TablesStore
  /** How long a fetched card-hash key serves the payments of one initialize (default 5 min). */
  cardHashKeyMaxAgeMs?: number
}

type Deliver = (message: Outgoing) => void

export interface SessionHandle {
  id: string
  send: (context: string, request: Request, commandId?: string | number, askedAt?: number) => void
  /**
   * `status` or `list_devices` answered from the actors' published state (src/bridge/queries.ts):
   * the response, or undefined when the request must be sent.
   */
  query: (context: string, request: Request, create?: boolean) => unknown
  close: () => void
}

export class RuntimeBase {
  readonly registry: DeviceRegistry<VirtualDevice>
  readonly vault = new CardVault()
  readonly #virtualDevices: VirtualDevice[] = []
  readonly logger: Logger
  readonly clock: Clock
  readonly #deliverers = new Map<string, Deliver>()
  /** Called when a session actor fails: the server closes its socket. */
  readonly #onSessionFault = new Map<string, () => void>()
  #sessionSeq = 0
  /** Connections that have sent nothing yet: no session actor; device events reach them from here. */
  readonly #unspawned = new Set<string>()
  #core: RuntimeCore | undefined
  #coreModule: CoreModule | undefined
  #loading: Promise<void> | undefined
  #started = false
  #stopped = false

  constructor(
    readonly options: RuntimeOptions,
    core?: CoreModule,
  ) {
    this.logger = options.logger ?? silentLogger
    const clock = (this.clock = options.clock ?? systemClock)
    const discovery =
      options.discovery || options.serialPaths?.length
        ? new SerialDiscovery({
            configuredPaths: options.serialPaths ?? [],
            ...(options.discovery ? {} : { lister: null, fallback: null }),
            onWarning: (message) => this.logger.warn({ message }, 'serial discovery'),
            clock,
          })
        : undefined
    // The virtual pinpads are added by start(): the simulator is loaded only when they are offered (and, with loadOnFirstOpen, opened).
    this.registry = new DeviceRegistry<VirtualDevice>({
      ...(discovery ? { discovery } : {}),
      ...(options.baudRate ? { defaultBaudRate: options.baudRate } : {}),
    })
    if (core) this.#makeCore(core)
  }

  #makeCore(module: CoreModule): void {
    this.#coreModule = module
    this.#core = module.createCore(this.options, {
      registry: this.registry,
      vault: this.vault,
      logger: this.logger,
      clock: this.clock,
      deliver: (sessionId, message) => this.#deliverers.get(sessionId)?.(message),
      sessionFault: (sessionId) => this.#onSessionFault.get(sessionId)?.(),
      onAnswer: (envelope, reply) => {
        // Thrown inside the root's action it would stop the bridge: a journal fault is logged instead.
        try {
          this.options.onAnswer?.(envelope, reply)
        } catch (err) {
          this.logger.error({ err: { message: (err as Error)?.message } }, 'the answer could not be recorded in the journal')
        }
      },
    })
  }

  /** The machine side, once made (the constructor's, or loadCore()'s). */
  #made(): RuntimeCore {
    if (!this.#core) throw new Error('the bridge runtime has not loaded its machines yet (loadCore())')
    return this.#core
  }

  get root(): Actor<typeof bridgeMachine> {
    return this.#made().root
  }

  get acquirer(): AcquirerClient {
    return this.#made().acquirer
  }

  get tablesStore(): TablesStore {
    return this.#made().tablesStore
  }

  /** Whether the machine side is made (always, unless `loadOnFirstOpen` and no connection yet). */
  get coreLoaded(): boolean {
    return this.#core !== undefined
  }

  /** Loads and starts the machine side if it is not yet (what openSession needs); after start(). */
  loadCore(): Promise<void> {
    if (this.#core) return Promise.resolve()
    return (this.#loading ??= import('./runtime-core.js').then((module) => {
      if (this.#core) return
      this.#makeCore(module)
      // A runtime shut down while this loaded keeps its root stopped.
      if (this.#started && !this.#stopped) this.#startRoot()
    }))
  }

  async start(): Promise<void> {
    for (const device of virtualDevices(this.options.virtualPinpads ?? 1, this.clock, this.options.simulator)) {
      this.#virtualDevices.push(device)
      this.registry.addVirtual(device)
    }
    if (!this.options.loadOnFirstOpen) {
      if (!this.#core) await this.loadCore()
      await Promise.all([this.#coreModule!.loadPinpadStack(), this.loadVirtualPinpads()])
    }
    this.registry.on('added', (d) => this.#devicesChanged([d], []))
    this.registry.on('removed', (d) => this.#devicesChanged([], [d]))
    this.#started = true
    if (this.#core) this.#startRoot()
    await this.registry.start()
  }

  #startRoot(): void {
    // The root itself failing would stop every context: logged loudly (the process stays up for the probes).
    this.root.subscribe({ error: (err) => this.logger.fatal({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'the bridge actor failed') })
    this.root.start()
    this.#devicesChanged([], [])
  }

  /** Opens a session (one per WebSocket connection); `deliver` writes to its socket, `onFault` closes it. The machine side must be loaded (loadCore()). */
  openSession(deliver: Deliver, onFault?: () => void): SessionHandle {
    const { root, queries } = this.#made()
    const id = String(++this.#sessionSeq)
    this.#deliverers.set(id, deliver)
    if (onFault) this.#onSessionFault.set(id, onFault)
    // The session actor is spawned by the connection's first request that needs one: an idle
    // connection (a page that has not asked anything yet) costs no actor.
    this.#unspawned.add(id)
    const ref = () => root.getSnapshot().context.sessions[id]
    return {
      id,
      send: (context, request, commandId, askedAt) => {
        if (this.#unspawned.delete(id)) root.send({ type: 'SESSION.OPEN', sessionId: id })
        ref()?.send({ type: 'CLIENT.REQUEST', context, request, ...(commandId !== undefined ? { command_id: commandId } : {}), ...(askedAt !== undefined ? { askedAt } : {}) })
      },
      query: (context, request, create) => queries.answer(this.#unspawned.has(id) ? undefined : ref(), context, request, create),
      close: () => {
        if (!this.#unspawned.delete(id)) root.send({ type: 'SESSION.CLOSE', sessionId: id })
        this.#deliverers.delete(id)
        this.#onSessionFault.delete(id)
      },
    }
  }

  get sessionCount(): number {
    return this.#deliverers.size
  }

  /** Contexts with their machine state and device, sanitized (for /status); none before the machines are loaded. */
  contexts(): Array<{ name: string; state: unknown; device_id: number | null; device_state?: string }> {
    return this.#core ? this.#coreModule!.contextsOf(this.#core.root) : []
  }

  /** Contexts in the middle of something (a payment, a prompt, opening or closing): not idle, not ready. */
  busyContexts(): string[] {
    return this.contexts()
      .filter(({ state }) => {
        if (state === 'idle') return false
        const activity = (state as { initialized?: { activity?: unknown } } | undefined)?.initialized?.activity
        return activity !== 'ready'
      })
      .map((c) => c.name)
  }

  devices(): DeviceEntry[] {
    return this.registry.list()
  }

  /** The virtual pinpads made so far (all of them from the start, unless `loadOnFirstOpen`). */
  get virtualPinpads(): VirtualPinpad[] {
    return this.#virtualDevices.filter((d) => d.loaded).map((d) => d.pinpad)
  }

  /** Makes every virtual pinpad not made yet (their controls need them). */
  async loadVirtualPinpads(): Promise<void> {
    await Promise.all(this.#virtualDevices.map((d) => d.load()))
  }

  /** The virtual pinpads with their device ids, plugged in or not. */
  virtualDevices(): Array<{ id: number; device: VirtualDevice }> {
    return this.#virtualDevices.map((device) => ({ id: this.registry.idOf(device.path)!, device }))
  }

  virtualDeviceById(id: number): VirtualDevice | undefined {
    return this.virtualDevices().find((v) => v.id === id)?.device
  }

  /**
   * Graceful shutdown: every context cancels what runs and closes its pinpad (CLO), then the
   * ports are released. Waits at most `timeoutMs`.
   */
  async shutdown(timeoutMs = 4000): Promise<void> {
    this.#stopped = true
    // Without the machines loaded, no context was ever made: only the ports to release.
    if (this.#core) this.root.send({ type: 'SHUTDOWN' })
    const deadline = this.clock.now() + timeoutMs
    while (this.clock.now() < deadline && this.contexts().some((c) => c.state !== 'idle')) await sleep(this.clock, 25)
    await this.registry.releaseAll()
    await this.registry.stop()
    this.#core?.root.stop()
  }

  #devicesChanged(added: DeviceEntry[], removed: DeviceEntry[]): void {
    // The root gets the whole list when it starts (loadCore()).
    if (!this.#core || !this.#started) return
    const toEntry = (d: DeviceEntry): DeviceListEntry => ({ id: d.id, name: d.name, manufacturer: d.manufacturer, kind: d.kind, path: d.path })
    this.root.send({ type: 'DEVICES.CHANGED', devices: this.registry.list().map(toEntry), added: added.map(toEntry), removed: removed.map(toEntry) })
    // Connections without a session actor yet get the same events the bridge pushes to sessions.
    if (this.#unspawned.size === 0 || added.length + removed.length === 0) return
    const device = (d: DeviceEntry) => ({ id: d.id, name: d.name, manufacturer: d.manufacturer })
    const events: PushEvent[] = [
      ...added.map((d): PushEvent => ({ event: 'device_added', device: device(d) })),
      ...removed.map((d): PushEvent => ({ event: 'device_removed', device: device(d) })),
    ]
    for (const id of this.#unspawned) for (const event of events) this.#deliverers.get(id)?.({ kind: 'event', event })
  }
}

/** What the inspector is given of one XState inspection event (sanitized: no keys, no card data). */
export interface InspectRecord {
  /** The actor's systemId ("bridge", "context:default", "device:1", "session:1"), else its id. */
  actor: string
  type: '@xstate.snapshot' | '@xstate.event'
  /** The machine the actor runs (its id: "device", "context"…); absent for promise and callback actors. */
  machine?: string
  /** The bridge context the actor belongs to (its own, its owner's) or the event names. */
  context?: string
  /** The actor that sent the event, when another one did. */
  source?: string
  snapshot?: { value?: unknown; context?: unknown; status?: unknown }
  event?: unknown
}

