/**
 * The root actor: it spawns the contexts (process-wide, by name) and the sessions (one per
 * connection) so that all of them share one actor system and find each other by systemId
 * ("bridge", "context:NAME", "session:ID"). It also keeps which context holds which device
 * (a device is owned by at most one context) and the device list src/ reports.
 *
 * Contexts live while they hold a pinpad or a connection is attached to them (the context
 * machine ends itself otherwise, and on `close`): at most MAX_CONTEXTS live at once, and one
 * connection may have created at most MAX_CONTEXTS_PER_CONNECTION of the live ones. A context or
 * session that fails (a bug) is removed alone: its requests get MPOS_ERR_INTERNAL, its pinpad
 * is closed, everything else goes on.
 */
import { assign, enqueueActions, setup, type AnyActorRef, type AnyEventObject } from 'xstate'
import { contextMachine } from './context.machine.js'
import { sessionMachine } from './session.machine.js'
import type { Envelope, PushEvent, Reply } from './protocol.js'
import { coded, type ErrorValue } from './types.js'
import type { SessionRef } from './context-values.js'
import { DeviceInUseError, DeviceNotFoundError, NoDeviceError, TooManyConnectionContextsError, TooManyContextsError } from '../src/errors.js'

export interface DeviceListEntry {
  id: number
  name: string
  manufacturer: string
  kind?: 'virtual' | 'serial'
  path?: string
}

export type BridgeEvent =
  | { type: 'ROUTE'; envelope: Envelope; sessionId: string; replyTo: AnyActorRef }
  | { type: 'CLAIM'; context: string; deviceId?: number; replyTo: AnyActorRef }
  /** `broken`: the device actor failed (nothing closed its link). */
  | { type: 'RELEASE'; context: string; deviceId: number; broken?: boolean }
  | { type: 'DEVICES.CHANGED'; devices: DeviceListEntry[]; added?: DeviceListEntry[]; removed?: DeviceListEntry[] }
  | { type: 'SESSION.OPEN'; sessionId: string }
  /** The connection closed: its session actor is stopped and the contexts are told. */
  | { type: 'SESSION.CLOSE'; sessionId: string }
  /** A context ended (unattended, or closed): it is stopped and its name forgotten. */
  | { type: 'CONTEXT.ENDED'; name: string; actorId: string }
  | { type: 'SHUTDOWN' }
  /** A spawned context or session failed (a bug). */
  | { type: `xstate.error.actor.${string}`; actorId?: string; error: unknown }

export interface BridgeContext {
  devices: DeviceListEntry[]
  /** deviceId → name of the context holding it. */
  claims: Record<number, string>
  /** Live contexts, in creation order. */
  contexts: string[]
  /** context name → id of the session that created it (the per-connection limit). */
  createdBy: Record<string, string>
  /** context name → its actor's id (unique per incarnation: a name can end and be used again). */
  contextIds: Record<string, string>
  /** Counter for the context actors' ids. */
  seq: number
  sessions: string[]
}

/** What src/ must know about failures and released devices (provided by the runtime). */
export interface BridgeFault {
  actor: string
  error: unknown
}


/** Live contexts at once (a client could otherwise name endless ones). */
export const MAX_CONTEXTS = 64
/** Live contexts one connection may have created. */
export const MAX_CONTEXTS_PER_CONNECTION = 8

const refuseRoute = (envelope: Envelope, error: ErrorValue): AnyEventObject => ({
  type: 'CONTEXT.REPLY',
  reply: { id: envelope.id, context: envelope.context, command: envelope.request.command, success: false, error } satisfies Reply,
})

/** The child an error event is about: a context (by name) or a session (by id). */
function childOf(context: BridgeContext, event: AnyEventObject): { actorId: string; kind: 'context' | 'session' | 'other'; name: string } {
  const actorId = String((event as { actorId?: string }).actorId ?? event.type.replace(/^xstate\.error\.actor\./, ''))
  if (actorId.startsWith('session:')) return { actorId, kind: 'session', name: actorId.slice('session:'.length) }
  const name = Object.keys(context.contextIds).find((n) => context.contextIds[n] === actorId)
  return name !== undefined ? { actorId, kind: 'context', name } : { actorId, kind: 'other', name: actorId }
}

export const bridgeMachine = setup({
  types: {
    context: {} as BridgeContext,
    events: {} as BridgeEvent,
  },
  actors: { context: contextMachine, session: sessionMachine },
  actions: {
    /** Provided by src/: a context or session failed (logged there, never with card data). */
    reportFault: (_: unknown, _fault: BridgeFault) => {},
    /** Provided by src/: what is still open of a released pinpad is closed, so it can be initialized again. */
    closeDevice: (_: unknown, _deviceId: number) => {},
    /** Provided by src/: the connection of a failed session is closed (1011). */
    closeConnection: (_: unknown, _sessionId: string) => {},
  },
}).createMachine({
  id: 'bridge',
  context: { devices: [], claims: {}, contexts: [], createdBy: {}, contextIds: {}, seq: 0, sessions: [] },
  on: {
    ROUTE: {
      actions: enqueueActions(({ context, event, enqueue, system, self }) => {
        const { envelope, replyTo, sessionId } = event
        if (envelope.request.command === 'list_devices') {
          const reply: Reply = {
            id: envelope.id,
            context: envelope.context,
            command: 'list_devices',
            success: true,
            response: context.devices.map((d) => ({ id: d.id, name: d.name, manufacturer: d.manufacturer, ...(d.kind ? { kind: d.kind } : {}), ...(d.path ? { path: d.path } : {}) })),
          }
          enqueue.sendTo(replyTo, { type: 'CONTEXT.REPLY', reply } as AnyEventObject)
          return
        }
        const name = envelope.context
        const systemId = `context:${name}`
        const live = context.contexts.includes(name) && system.get(systemId)?.getSnapshot().status === 'active'
        if (!live) {
          const others = context.contexts.filter((c) => c !== name)
          if (others.length >= MAX_CONTEXTS) {
            enqueue.sendTo(replyTo, refuseRoute(envelope, coded(new TooManyContextsError(MAX_CONTEXTS, others.slice(0, 5).join(', ')))))
            return
          }
          const mine = others.filter((c) => context.createdBy[c] === sessionId)
          if (mine.length >= MAX_CONTEXTS_PER_CONNECTION) {
            enqueue.sendTo(
              replyTo,
              refuseRoute(envelope, coded(new TooManyConnectionContextsError(MAX_CONTEXTS_PER_CONNECTION, mine.join(', ')))),
            )
            return
          }
          // The creator is attached from birth: an unattended idle context ends at once.
          const id = `context#${context.seq + 1}`
          enqueue.spawnChild('context', { id, systemId, input: { name, devicesAvailable: context.devices.length, creator: replyTo as SessionRef, bridge: self } })
          enqueue.assign({
            seq: context.seq + 1,
            contexts: [...others, name],
            createdBy: { ...context.createdBy, [name]: sessionId },
            contextIds: { ...context.contextIds, [name]: id },
          })
        }
        enqueue.sendTo(({ system: sys }) => sys.get(systemId) ?? system.get(systemId), { type: 'REQUEST', envelope, replyTo } as AnyEventObject)
      }),
    },

    // Children never reach a final state: a done event's type names the child, and xstate keeps a
    // memo per event type for the process's life (one per connection ever made, otherwise).
    'CONTEXT.ENDED': {
      actions: enqueueActions(({ context, event, enqueue }) => {
        enqueue.stopChild(event.actorId)
        if (context.contextIds[event.name] === event.actorId) enqueue.assign(forgetContext(context, event.name))
      }),
    },

    'SESSION.CLOSE': {
      actions: enqueueActions(({ context, event, enqueue, system }) => {
        enqueue.stopChild(`session:${event.sessionId}`)
        enqueue.assign({ sessions: context.sessions.filter((s) => s !== event.sessionId) })
        for (const c of context.contexts) {
          const ref = system.get(`context:${c}`)
          if (ref) enqueue.sendTo(ref, { type: 'SESSION.CLOSED', sessionId: event.sessionId } as AnyEventObject)
        }
      }),
    },

    // A child failed (a bug): it alone goes; what it held is let go.
    'xstate.error.actor.*': {
      actions: enqueueActions(({ context, event, enqueue, system }) => {
        const { actorId, kind, name } = childOf(context, event)
        enqueue({ type: 'reportFault', params: { actor: kind === 'other' ? actorId : `${kind}:${name}`, error: (event as { error?: unknown }).error } })
        enqueue.stopChild(actorId)
        if (kind === 'context') {
          for (const [id, holder] of Object.entries(context.claims)) if (holder === name) enqueue({ type: 'closeDevice', params: Number(id) })
          enqueue.assign(forgetContext(context, name))
          for (const id of context.sessions) {
            const ref = system.get(`session:${id}`)
            if (ref) enqueue.sendTo(ref, { type: 'CONTEXT.FAILED', context: name } as AnyEventObject)
          }
        }
        if (kind === 'session') {
          enqueue({ type: 'closeConnection', params: name })
          enqueue.assign({ sessions: context.sessions.filter((s) => s !== name) })
          for (const c of context.contexts) {
            const ref = system.get(`context:${c}`)
            if (ref) enqueue.sendTo(ref, { type: 'SESSION.CLOSED', sessionId: name } as AnyEventObject)
          }
        }
      }),
    },

    // initialize's `device_id`, or the first device no context holds when it is absent (bridge-facts).
    CLAIM: {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const free = context.devices.find((d) => context.claims[d.id] === undefined || context.claims[d.id] === event.context)
        const deviceId = event.deviceId ?? free?.id
        let answer: AnyEventObject
        if (deviceId === undefined) {
          answer = { type: 'CLAIM.DENIED', error: coded(new NoDeviceError()) }
        } else if (!context.devices.some((d) => d.id === deviceId)) {
          answer = { type: 'CLAIM.DENIED', error: coded(new DeviceNotFoundError(String(deviceId))) }
        } else if (context.claims[deviceId] !== undefined && context.claims[deviceId] !== event.context) {
          answer = {
            type: 'CLAIM.DENIED',
            error: coded(new DeviceInUseError(String(deviceId), String(context.claims[deviceId]))),
          }
        } else {
          enqueue.assign({ claims: { ...context.claims, [deviceId]: event.context } })
          answer = { type: 'CLAIM.GRANTED', deviceId }
        }
        enqueue.sendTo(event.replyTo, answer)
      }),
    },

    RELEASE: {
      actions: [
        assign({
          claims: ({ context, event }) => {
            if (context.claims[event.deviceId] !== event.context) return context.claims
            const { [event.deviceId]: _, ...rest } = context.claims
            return rest
          },
        }),
        // Whatever is still open of it is closed (nothing, unless its device actor failed).
        { type: 'closeDevice', params: ({ event }) => event.deviceId },
      ],
    },

    'DEVICES.CHANGED': {
      actions: enqueueActions(({ context, event, enqueue, system }) => {
        enqueue.assign({ devices: event.devices })
        for (const name of context.contexts) {
          const ref = system.get(`context:${name}`)
          if (ref) enqueue.sendTo(ref, { type: 'DEVICES.COUNT', count: event.devices.length } as AnyEventObject)
        }
        const pushes: PushEvent[] = [
          ...(event.added ?? []).map((d): PushEvent => ({ event: 'device_added', device: { id: d.id, name: d.name, manufacturer: d.manufacturer } })),
          ...(event.removed ?? []).map((d): PushEvent => ({ event: 'device_removed', device: { id: d.id, name: d.name, manufacturer: d.manufacturer } })),
        ]
        for (const id of context.sessions) {
          const ref = system.get(`session:${id}`)
          if (ref) for (const p of pushes) enqueue.sendTo(ref, { type: 'PUSH', event: p } as AnyEventObject)
        }
      }),
    },

    'SESSION.OPEN': {
      actions: enqueueActions(({ context, event, enqueue, self }) => {
        const systemId = `session:${event.sessionId}`
        enqueue.spawnChild('session', { id: systemId, systemId, input: { sessionId: event.sessionId, bridge: self } })
        enqueue.assign({ sessions: [...context.sessions, event.sessionId] })
      }),
    },

    SHUTDOWN: {
      actions: enqueueActions(({ context, enqueue, system }) => {
        for (const name of context.contexts) {
          const ref = system.get(`context:${name}`)
          if (ref) enqueue.sendTo(ref, { type: 'SHUTDOWN' } as AnyEventObject)
        }
      }),
    },
  },
})

function forgetContext(context: BridgeContext, name: string): Partial<BridgeContext> {
  const { [name]: _, ...createdBy } = context.createdBy
  const { [name]: __, ...contextIds } = context.contextIds
  const claims = Object.fromEntries(Object.entries(context.claims).filter(([, holder]) => holder !== name))
  return { contexts: context.contexts.filter((c) => c !== name), createdBy, contextIds, claims }
}
