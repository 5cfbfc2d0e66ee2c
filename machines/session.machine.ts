/**
 * One actor per WebSocket connection. It holds what belongs to the connection: requests in
 * flight by `command_id`. The socket itself stays in src/: the `deliver` action sends.
 *
 * When the connection drops, the bridge stops the session (SESSION.CLOSE, a fixed event type:
 * a final state would make a `xstate.done.actor.session:N` per connection, and xstate memoizes
 * transitions per event type for the process's life) and tells every context (SESSION.CLOSED).
 * A payment started by this connection runs on (the journal keeps its answer); a customer prompt
 * is cancelled when no connection is left on its context.
 */
import { assign, enqueueActions, setup } from 'xstate'
import type { Envelope, PushEvent, Reply, Request } from './protocol.js'
import { InternalError } from '../src/errors.js'
import { coded } from './types.js'
import type { BridgeRef } from './refs.js'

/** What goes out on the socket: a reply to one request (with when it was asked), or a pushed event. */
export type Outgoing =
  | ({ kind: 'reply'; command_id?: string | number; askedAt?: number } & Reply)
  | { kind: 'event'; event: PushEvent }

export type SessionEvent =
  /** `askedAt`: when the request arrived (src/'s clock), handed back with the reply for its duration. */
  | { type: 'CLIENT.REQUEST'; context: string; command_id?: string | number; askedAt?: number; request: Request }
  | { type: 'CONTEXT.REPLY'; reply: Reply }
  | { type: 'PUSH'; event: PushEvent }
  /** The context failed (a bug): what this connection asked of it will never be answered by it. */
  | { type: 'CONTEXT.FAILED'; context: string }

/** A request in flight: the one place its command_id is kept. */
interface InFlight {
  command_id?: string | number
  askedAt?: number
  context: string
  command: Request['command']
}

export interface SessionContext {
  sessionId: string
  bridge: BridgeRef
  seq: number
  inFlight: Record<string, InFlight>
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as { sessionId: string; bridge: BridgeRef },
  },
  actions: {
    /** Provided by src/server: writes the message on this connection's socket. */
    deliver: (_: unknown, _message: Outgoing) => {},
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({ sessionId: input.sessionId, bridge: input.bridge, seq: 0, inFlight: {} }),
  initial: 'open',
  states: {
    open: {
      on: {
        'CLIENT.REQUEST': {
          actions: enqueueActions(({ context, event, enqueue, self }) => {
            const id = `${context.sessionId}.${context.seq + 1}`
            const envelope: Envelope = { id, context: event.context, request: event.request, ...(event.command_id !== undefined ? { commandId: event.command_id } : {}) }
            enqueue.assign({
              seq: context.seq + 1,
              inFlight: {
                ...context.inFlight,
                [id]: {
                  context: event.context,
                  command: event.request.command,
                  ...(event.command_id !== undefined ? { command_id: event.command_id } : {}),
                  ...(event.askedAt !== undefined ? { askedAt: event.askedAt } : {}),
                },
              },
            })
            enqueue.sendTo(context.bridge, { type: 'ROUTE', envelope, sessionId: context.sessionId, replyTo: self })
          }),
        },
        'CONTEXT.REPLY': {
          actions: [
            enqueueActions(({ context, event, enqueue }) => {
              const pending = context.inFlight[event.reply.id]
              if (!pending) return
              enqueue({
                type: 'deliver',
                params: {
                  kind: 'reply',
                  ...event.reply,
                  ...(pending.command_id !== undefined ? { command_id: pending.command_id } : {}),
                  ...(pending.askedAt !== undefined ? { askedAt: pending.askedAt } : {}),
                },
              })
            }),
            assign({
              inFlight: ({ context, event }) => {
                const { [event.reply.id]: _, ...rest } = context.inFlight
                return rest
              },
            }),
          ],
        },
        PUSH: { actions: { type: 'deliver', params: ({ event }) => ({ kind: 'event', event: event.event }) } },
        'CONTEXT.FAILED': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const lost = Object.entries(context.inFlight).filter(([, r]) => r.context === event.context)
            for (const [id, r] of lost) {
              enqueue({
                type: 'deliver',
                params: {
                  kind: 'reply',
                  id,
                  context: r.context,
                  command: r.command,
                  success: false,
                  error: coded(new InternalError(`context "${r.context}" failed and was reset`)),
                  ...(r.command_id !== undefined ? { command_id: r.command_id } : {}),
                },
              })
            }
            enqueue.assign({ inFlight: Object.fromEntries(Object.entries(context.inFlight).filter(([, r]) => r.context !== event.context)) })
          }),
        },
      },
    },
  },
})
