/**
 * The runtime's machine side: the bridge machine with its actors (contexts, devices over the
 * ABECS stack, sessions), the acquirer client, the EMV tables store. Its own module so that
 * `serve` loads it on the first connection (runtime `loadOnFirstOpen`), not at every start; the
 * registry and the virtual pinpads (src/bridge/runtime-base.ts) are there from the start.
 */
import { createActor, type Actor, type AnyActorRef, type AnyMachineSnapshot, type InspectionEvent } from 'xstate'
import { bridgeMachine } from '../../machines/bridge.machine.js'
import { contextMachine } from '../../machines/context.machine.js'
import { publicDeviceState } from '../../machines/context-values.js'
import { deviceMachine } from '../../machines/device.machine.js'
import { sessionMachine, type Outgoing } from '../../machines/session.machine.js'
import type { Envelope, Reply } from '../../machines/protocol.js'
import type { DeviceRegistry } from '../transport/registry.js'
import type { VirtualDevice } from '../simulator/virtual-device.js'
import type { CardVault } from '../card/vault.js'
import { AcquirerClient } from '../acquirer/client.js'
import { TablesStore } from '../tables/store.js'
import { createDeviceActors } from '../pinpad/device-actors.js'
import type { Logger } from '../log.js'
import type { Clock } from '../clock.js'
import { sanitize } from './sanitize.js'
import { QueryAnswers } from './queries.js'
import type { InspectRecord, RuntimeOptions } from './runtime-base.js'

export { loadPinpadStack } from '../pinpad/device-actors.js'

/** What the core calls back into the runtime for. */
export interface CoreHooks {
  registry: DeviceRegistry<VirtualDevice>
  vault: CardVault
  logger: Logger
  clock: Clock
  deliver: (sessionId: string, message: Outgoing) => void
  sessionFault: (sessionId: string) => void
  onAnswer: (envelope: Envelope, reply: Reply) => void
}

export interface RuntimeCore {
  root: Actor<typeof bridgeMachine>
  acquirer: AcquirerClient
  tablesStore: TablesStore
  queries: QueryAnswers
}

export function createCore(options: RuntimeOptions, hooks: CoreHooks): RuntimeCore {
  const { logger, clock, registry } = hooks
  const acquirer = new AcquirerClient({ ...options.acquirer, baseUrl: options.apiUrl, logger, clock })
  const tablesStore = options.tablesStore ?? new TablesStore(options.dataDir, { logger, clock })
  const { actors, actions: deviceActions, guards: deviceGuards } = createDeviceActors({
    registry,
    vault: hooks.vault,
    acquirer,
    tablesStore,
    logger,
    clock,
    ...(options.linkTimings ? { linkTimings: options.linkTimings } : {}),
    ...(options.onLinkTrace ? { onLinkTrace: options.onLinkTrace } : {}),
    ...(options.cardHashKeyMaxAgeMs !== undefined ? { cardHashKeyMaxAgeMs: options.cardHashKeyMaxAgeMs } : {}),
  })
  const machine = bridgeMachine.provide({
    actions: {
      reportFault: (_, fault) => {
        const e = fault.error as { message?: unknown; stack?: unknown } | undefined
        // A bug: logged with its stack, never with the actor's data (it may hold card references).
        logger.error({ actor: fault.actor, err: { message: String(e?.message ?? e), stack: typeof e?.stack === 'string' ? e.stack : undefined } }, 'actor failed; it was removed and the bridge goes on')
      },
      closeDevice: (_, deviceId) => void registry.release(deviceId),
      closeConnection: (_, sessionId) => hooks.sessionFault(sessionId),
      recordAnswer: (_, { envelope, reply }) => hooks.onAnswer(envelope, reply),
    },
    actors: {
      context: contextMachine.provide({ actors: { device: deviceMachine.provide({ actors, actions: deviceActions, guards: deviceGuards }) } }),
      session: sessionMachine.provide({
        actions: {
          deliver: ({ context }, message) => hooks.deliver((context as { sessionId: string }).sessionId, message as Outgoing),
        },
      }),
    },
  })
  const inspect = options.inspect
  // The system's clock: every actor spawned or invoked under the root schedules its delays on it.
  const root = createActor(machine, {
    systemId: 'bridge',
    clock,
    ...(inspect ? { inspect: (e: InspectionEvent) => inspectEvent(e, inspect) } : {}),
  })
  return { root, acquirer, tablesStore, queries: new QueryAnswers(root) }
}

/** Contexts with their machine state and device, sanitized (for /status). */
export function contextsOf(root: Actor<typeof bridgeMachine>): Array<{ name: string; state: unknown; device_id: number | null; device_state?: string }> {
  const snapshot = root.getSnapshot()
  return Object.entries(snapshot.context.contexts).map(([name, ref]) => {
    const s = ref.getSnapshot() as AnyMachineSnapshot
    const device = publicDeviceState((s?.children as Record<string, AnyActorRef | undefined> | undefined)?.device?.getSnapshot())
    return {
      name,
      state: sanitize(s?.value),
      device_id: (s?.context as { deviceId?: number } | undefined)?.deviceId ?? null,
      ...(device ? { device_state: device } : {}),
    }
  })
}

type Ref = AnyActorRef & { systemId?: string; _parent?: Ref; logic?: { id?: unknown; root?: unknown } }
const nameOf = (ref: Ref) => ref.systemId ?? ref.id

/** The context an actor serves: itself, or the nearest ancestor that is a context ("context:NAME"). */
function contextOf(ref: Ref | undefined, event: unknown): string | undefined {
  for (let r = ref; r; r = r._parent) if (r.systemId?.startsWith('context:')) return r.systemId.slice('context:'.length)
  // Sessions and the bridge serve many contexts: the event says which (a request, a reply, a push).
  const e = event as { context?: unknown; reply?: { context?: unknown }; event?: { context?: unknown }; envelope?: { context?: unknown } } | undefined
  const named = e?.context ?? e?.reply?.context ?? e?.event?.context ?? e?.envelope?.context
  return typeof named === 'string' ? named : undefined
}

function inspectEvent(e: InspectionEvent, sink: (record: InspectRecord) => void): void {
  if (e.type !== '@xstate.snapshot' && e.type !== '@xstate.event') return
  const ref = e.actorRef as Ref
  const machine = ref.logic?.root !== undefined && typeof ref.logic.id === 'string' ? ref.logic.id : undefined
  const event = e.type === '@xstate.event' ? e.event : undefined
  const context = contextOf(ref, event)
  const source = e.type === '@xstate.event' && e.sourceRef && e.sourceRef !== e.actorRef ? nameOf(e.sourceRef as Ref) : undefined
  const snapshot = 'snapshot' in e ? (e.snapshot as { value?: unknown; context?: unknown; status?: unknown }) : undefined
  sink({
    // systemIds name the actors ("bridge", "context:default", "device:1"…); children without one by their id.
    actor: nameOf(ref),
    type: e.type,
    ...(machine ? { machine } : {}),
    ...(context !== undefined ? { context } : {}),
    ...(source !== undefined ? { source } : {}),
    ...(snapshot ? { snapshot: sanitize({ value: snapshot.value, context: snapshot.context, status: snapshot.status }) as InspectRecord['snapshot'] } : {}),
    ...(event !== undefined ? { event: sanitize(event) } : {}),
  })
}
