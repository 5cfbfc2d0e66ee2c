/**
 * The root actor: it spawns the contexts (process-wide, by name) and the sessions (one per
 * connection) and keeps their typed references, so events between actors are checked by the
 * compiler (they also carry systemIds "context:NAME", "session:ID" for inspection). It keeps which
 * context holds which device (a device is owned by at most one context) and the device list src/
 * reports.
 *
 * Contexts live while they hold a pinpad or a connection is attached to them (the context
 * machine ends itself otherwise, and on `close`): at most MAX_CONTEXTS live at once, and one
 * connection may have created at most MAX_CONTEXTS_PER_CONNECTION of the live ones. A context or
 * session that fails (a bug) is removed alone: its requests get MPOS_ERR_INTERNAL, its pinpad
 * is closed, everything else goes on.
 */
import { assign, enqueueActions, setup, type AnyEventObject } from 'xstate'
import { contextMachine } from './context.machine.js'
import { sessionMachine } from './session.machine.js'
import { JOURNALED_COMMANDS, type Envelope, type PushEvent, type Reply } from './protocol.js'
import { coded, type ErrorValue } from './types.js'
import type { ContextRef, SessionRef } from './refs.js'
import type { ContextEvent } from './context.machine.js'
import { DeviceInUseError, DeviceNotFoundError, NoDeviceError, TooManyConnectionContextsError, TooManyContextsError } from '../src/errors.js'

export interface DeviceListEntry {
  id: number
  name: string
  manufacturer: string
  kind?: 'virtual' | 'serial'
  path?: string
}

export type BridgeEvent =
  | { type: 'ROUTE'; envelope: Envelope; sessionId: string; replyTo: SessionRef }
  | { type: 'CLAIM'; context: string; deviceId?: number; replyTo: ContextRef }
  /** `broken`: the device actor failed (nothing closed its link). */
  | { type: 'RELEASE'; context: string; deviceId: number; broken?: boolean }
  | { type: 'DEVICES.CHANGED'; devices: DeviceListEntry[]; added?: DeviceListEntry[]; removed?: DeviceListEntry[] }
  | { type: 'SESSION.OPEN'; sessionId: string }
  /** The connection closed: its session actor is stopped and the contexts are told. */
  | { type: 'SESSION.CLOSE'; sessionId: string }
  /** A context ended (unattended, or closed): it is stopped and its name forgotten. */
  | { type: 'CONTEXT.ENDED'; name: string; actorId: string }
  | { type: 'SHUTDOWN' }
  /** A context answered a journaled command (JOURNALED_COMMANDS with a command_id). */
  | { type: 'CONTEXT.ANSWERED'; envelope: Envelope; reply: Reply }
  /** A spawned context or session failed (a bug). */
  | { type: `xstate.error.actor.${string}`; actorId?: string; error: unknown }

export interface BridgeContext {
  devices: DeviceListEntry[]
  /** deviceId → name of the context holding it. */
  claims: Record<number, string>
  /** Live contexts by name, in creation order; an actor's id is unique per incarnation (a name can end and be used again). */
  contexts: Record<string, ContextRef>
  /** context name → id of the session that created it (the per-connection limit). */
  createdBy: Record<string, string>
  /** Counter for the context actors' ids. */
  seq: number
  /** Open connections' sessions by session id. */
  sessions: Record<string, SessionRef>
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

const refuseRoute = (envelope: Envelope, error: ErrorValue) => ({
  type: 'CONTEXT.REPLY' as const,
  reply: { id: envelope.id, context: envelope.context, command: envelope.request.command, success: false, error } satisfies Reply,
})

/**
 * The live context called `name`, an own key only: a name from the wire may be `__proto__` or
 * `toString`, which a plain lookup finds on Object.prototype.
 */
const contextNamed = (context: BridgeContext, name: string): ContextRef | undefined => (Object.hasOwn(context.contexts, name) ? context.contexts[name] : undefined)

/** The child an error event is about: a context (by name) or a session (by id). */
function childOf(context: BridgeContext, event: AnyEventObject): { actorId: string; kind: 'context' | 'session' | 'other'; name: string } {
  const actorId = String((event as { actorId?: string }).actorId ?? event.type.replace(/^xstate\.error\.actor\./, ''))
  if (actorId.startsWith('session:')) return { actorId, kind: 'session', name: actorId.slice('session:'.length) }
  const name = Object.keys(context.contexts).find((n) => context.contexts[n]!.id === actorId)
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
    /**
     * Provided by src/ (the journal): the answer of a journaled command, recorded even when the
     * connection that asked has gone, so a page that comes back can still learn it.
     */
    recordAnswer: (_: unknown, _answer: { envelope: Envelope; reply: Reply }) => {},
  },
}).createMachine({
  id: 'bridge',
  context: { devices: [], claims: {}, contexts: {}, createdBy: {}, seq: 0, sessions: {} },
  on: {
    'CONTEXT.ANSWERED': { actions: { type: 'recordAnswer', params: ({ event }) => ({ envelope: event.envelope, reply: event.reply }) } },
    ROUTE: {
      actions: enqueueActions(({ context, event, enqueue, self }) => {
        const { envelope, replyTo, sessionId } = event
        if (envelope.request.command === 'list_devices') {
          const reply: Reply = {
            id: envelope.id,
            context: envelope.context,
            command: 'list_devices',
            success: true,
            response: context.devices.map((d) => ({ id: d.id, name: d.name, manufacturer: d.manufacturer, ...(d.kind ? { kind: d.kind } : {}), ...(d.path ? { path: d.path } : {}) })),
          }
          enqueue.sendTo(replyTo, { type: 'CONTEXT.REPLY', reply })
          return
        }
        const name = envelope.context
        const live = contextNamed(context, name)?.getSnapshot().status === 'active'
        if (!live) {
          const others = Object.keys(context.contexts).filter((c) => c !== name)
          // A journaled command refused here is recorded too: its connection may close before the
          // refusal reaches it, and the journal must not keep it `running`.
          const refuse = (error: ErrorValue) => {
            const bound = refuseRoute(envelope, error)
            enqueue.sendTo(replyTo, bound)
            if (envelope.commandId !== undefined && JOURNALED_COMMANDS.has(envelope.request.command)) {
              enqueue({ type: 'recordAnswer', params: { envelope, reply: bound.reply } })
            }
          }
          if (others.length >= MAX_CONTEXTS) return refuse(coded(new TooManyContextsError(MAX_CONTEXTS, others.slice(0, 5).join(', '))))
          const mine = others.filter((c) => context.createdBy[c] === sessionId)
          if (mine.length >= MAX_CONTEXTS_PER_CONNECTION) {
            return refuse(coded(new TooManyConnectionContextsError(MAX_CONTEXTS_PER_CONNECTION, mine.join(', '))))
          }
          // The creator is attached from birth: an unattended idle context ends at once.
          const id = `context#${context.seq + 1}`
          const { [name]: _, ...rest } = context.contexts
          enqueue.assign({
            seq: context.seq + 1,
            contexts: ({ spawn }) => ({
              ...rest,
              [name]: spawn('context', { id, systemId: `context:${name}`, input: { name, devicesAvailable: context.devices.length, creator: replyTo, bridge: self } }),
            }),
            createdBy: { ...context.createdBy, [name]: sessionId },
          })
        }
        enqueue.sendTo(({ context }) => contextNamed(context, name)!, { type: 'REQUEST', envelope, replyTo })
      }),
    },

    // Children never reach a final state: a done event's type names the child, and xstate keeps a
    // memo per event type for the process's life (one per connection ever made, otherwise).
    'CONTEXT.ENDED': {
      actions: enqueueActions(({ context, event, enqueue }) => {
        enqueue.stopChild(event.actorId)
        if (contextNamed(context, event.name)?.id === event.actorId) enqueue.assign(forgetContext(context, event.name))
      }),
    },

    'SESSION.CLOSE': {
      actions: enqueueActions(({ context, event, enqueue }) => {
        enqueue.stopChild(`session:${event.sessionId}`)
        enqueue.assign({ sessions: without(context.sessions, event.sessionId) })
        for (const ref of Object.values(context.contexts)) enqueue.sendTo(ref, { type: 'SESSION.CLOSED', sessionId: event.sessionId })
      }),
    },

    // A child failed (a bug): it alone goes; what it held is let go.
    'xstate.error.actor.*': {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const { actorId, kind, name } = childOf(context, event)
        enqueue({ type: 'reportFault', params: { actor: kind === 'other' ? actorId : `${kind}:${name}`, error: (event as { error?: unknown }).error } })
        enqueue.stopChild(actorId)
        if (kind === 'context') {
          for (const [id, holder] of Object.entries(context.claims)) if (holder === name) enqueue({ type: 'closeDevice', params: Number(id) })
          enqueue.assign(forgetContext(context, name))
          for (const ref of Object.values(context.sessions)) enqueue.sendTo(ref, { type: 'CONTEXT.FAILED', context: name })
        }
        if (kind === 'session') {
          enqueue({ type: 'closeConnection', params: name })
          enqueue.assign({ sessions: without(context.sessions, name) })
          for (const ref of Object.values(context.contexts)) enqueue.sendTo(ref, { type: 'SESSION.CLOSED', sessionId: name })
        }
      }),
    },

    // initialize's `device_id`, or the first device no context holds when it is absent (bridge-facts).
    CLAIM: {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const free = context.devices.find((d) => context.claims[d.id] === undefined || context.claims[d.id] === event.context)
        const deviceId = event.deviceId ?? free?.id
        let answer: Extract<ContextEvent, { type: 'CLAIM.DENIED' | 'CLAIM.GRANTED' }>
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
      actions: enqueueActions(({ context, event, enqueue }) => {
        enqueue.assign({ devices: event.devices })
        for (const ref of Object.values(context.contexts)) enqueue.sendTo(ref, { type: 'DEVICES.COUNT', count: event.devices.length })
        const pushes: PushEvent[] = [
          ...(event.added ?? []).map((d): PushEvent => ({ event: 'device_added', device: { id: d.id, name: d.name, manufacturer: d.manufacturer } })),
          ...(event.removed ?? []).map((d): PushEvent => ({ event: 'device_removed', device: { id: d.id, name: d.name, manufacturer: d.manufacturer } })),
        ]
        for (const ref of Object.values(context.sessions)) for (const p of pushes) enqueue.sendTo(ref, { type: 'PUSH', event: p })
      }),
    },

    'SESSION.OPEN': {
      actions: assign({
        sessions: ({ context, event, spawn, self }) => {
          const id = `session:${event.sessionId}`
          return { ...context.sessions, [event.sessionId]: spawn('session', { id, systemId: id, input: { sessionId: event.sessionId, bridge: self } }) }
        },
      }),
    },

    SHUTDOWN: {
      actions: enqueueActions(({ context, enqueue }) => {
        for (const ref of Object.values(context.contexts)) enqueue.sendTo(ref, { type: 'SHUTDOWN' })
      }),
    },
  },
})

function forgetContext(context: BridgeContext, name: string): Partial<BridgeContext> {
  const claims = Object.fromEntries(Object.entries(context.claims).filter(([, holder]) => holder !== name))
  return { contexts: without(context.contexts, name), createdBy: without(context.createdBy, name), claims }
}

function without<V>(record: Record<string, V>, key: string): Record<string, V> {
  const { [key]: _, ...rest } = record
  return rest
}
