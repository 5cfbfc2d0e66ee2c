/**
 * The root actor: it spawns the contexts (process-wide, by name) and the sessions (one per
 * connection) so that all of them share one actor system and find each other by systemId
 * ("bridge", "context:NAME", "session:ID"). It also keeps which context holds which device
 * (a device is owned by at most one context) and the device list src/ reports.
 */
import { assign, enqueueActions, setup, type AnyActorRef, type AnyEventObject } from 'xstate'
import { contextMachine } from './context.machine.js'
import { sessionMachine } from './session.machine.js'
import type { Envelope, PushEvent, Reply } from './protocol.js'
import type { ErrorValue } from './types.js'

export interface DeviceListEntry {
  id: number
  name: string
  manufacturer: string
  kind?: 'virtual' | 'serial'
  path?: string
}

export type BridgeEvent =
  | { type: 'ROUTE'; envelope: Envelope; replyTo: AnyActorRef }
  | { type: 'CLAIM'; context: string; deviceId?: number; replyTo: AnyActorRef }
  | { type: 'RELEASE'; context: string; deviceId: number }
  | { type: 'DEVICES.CHANGED'; devices: DeviceListEntry[]; added?: DeviceListEntry[]; removed?: DeviceListEntry[] }
  | { type: 'SESSION.OPEN'; sessionId: string }
  /** A session reached its final state: its connection closed. */
  | { type: 'SESSION.CLOSED'; sessionId: string }
  | { type: 'SHUTDOWN' }

export interface BridgeContext {
  devices: DeviceListEntry[]
  /** deviceId → name of the context holding it. */
  claims: Record<number, string>
  contexts: string[]
  sessions: string[]
}

const err = (code: string, message: string): ErrorValue => ({ code, message })

/** Contexts live as long as the process: their number is bounded (a client could name endless ones). */
export const MAX_CONTEXTS = 64

export const bridgeMachine = setup({
  types: {
    context: {} as BridgeContext,
    events: {} as BridgeEvent,
  },
  actors: { context: contextMachine, session: sessionMachine },
}).createMachine({
  id: 'bridge',
  context: { devices: [], claims: {}, contexts: [], sessions: [] },
  on: {
    ROUTE: {
      actions: enqueueActions(({ context, event, enqueue, system }) => {
        const { envelope, replyTo } = event
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
        const systemId = `context:${envelope.context}`
        if (!context.contexts.includes(envelope.context) && context.contexts.length >= MAX_CONTEXTS) {
          const reply: Reply = {
            id: envelope.id,
            context: envelope.context,
            command: envelope.request.command,
            success: false,
            error: err('MPOS_ERR_TOO_MANY_CONTEXTS', `At most ${MAX_CONTEXTS} contexts can exist; reuse one of: ${context.contexts.slice(0, 5).join(', ')}…`),
          }
          enqueue.sendTo(replyTo, { type: 'CONTEXT.REPLY', reply } as AnyEventObject)
          return
        }
        if (!context.contexts.includes(envelope.context)) {
          enqueue.spawnChild('context', { id: systemId, systemId, input: { name: envelope.context, devicesAvailable: context.devices.length } })
          enqueue.assign({ contexts: [...context.contexts, envelope.context] })
        }
        enqueue.sendTo(({ system: sys }) => sys.get(systemId) ?? system.get(systemId), { type: 'REQUEST', envelope, replyTo } as AnyEventObject)
      }),
    },

    // initialize's `device_id`, or the first device no context holds when it is absent (bridge-facts).
    CLAIM: {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const free = context.devices.find((d) => context.claims[d.id] === undefined || context.claims[d.id] === event.context)
        const deviceId = event.deviceId ?? free?.id
        let answer: AnyEventObject
        if (deviceId === undefined) {
          answer = { type: 'CLAIM.DENIED', error: err('MPOS_ERR_NO_DEVICE', 'No pinpad is available') }
        } else if (!context.devices.some((d) => d.id === deviceId)) {
          answer = { type: 'CLAIM.DENIED', error: err('MPOS_ERR_DEVICE_NOT_FOUND', `There is no device with id ${deviceId}`) }
        } else if (context.claims[deviceId] !== undefined && context.claims[deviceId] !== event.context) {
          answer = {
            type: 'CLAIM.DENIED',
            error: err('MPOS_ERR_DEVICE_IN_USE', `Device ${deviceId} is already in use by context "${context.claims[deviceId]}"`),
          }
        } else {
          enqueue.assign({ claims: { ...context.claims, [deviceId]: event.context } })
          answer = { type: 'CLAIM.GRANTED', deviceId }
        }
        enqueue.sendTo(event.replyTo, answer)
      }),
    },

    RELEASE: {
      actions: assign({
        claims: ({ context, event }) => {
          if (context.claims[event.deviceId] !== event.context) return context.claims
          const { [event.deviceId]: _, ...rest } = context.claims
          return rest
        },
      }),
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
      actions: enqueueActions(({ context, event, enqueue }) => {
        const systemId = `session:${event.sessionId}`
        enqueue.spawnChild('session', { id: systemId, systemId, input: { sessionId: event.sessionId } })
        enqueue.assign({ sessions: [...context.sessions, event.sessionId] })
      }),
    },

    'SESSION.CLOSED': {
      actions: assign({ sessions: ({ context, event }) => context.sessions.filter((s) => s !== event.sessionId) }),
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
