/**
 * One actor per named context, shared by every connection (bridge-facts "Contexts"): it owns at
 * most one pinpad, runs one action at a time — a command arriving while another runs is refused
 * at once naming the running one (no hidden queue), `status` always answers — and keeps the
 * order initialize → process_payment → finish_payment → process_payment…
 */
import { and, assign, enqueueActions, not, setup, type ActorRefFrom, type AnyActorRef, type AnyEventObject } from 'xstate'
import { deviceMachine, type DeviceNotice } from './device.machine.js'
import type { CommandName, Envelope, PushEvent } from './protocol.js'
import type { ErrorValue } from './types.js'
import {
  error,
  paymentReply,
  paymentStatus,
  refusal,
  replyFor,
  statusOf,
  type ContextContext,
  type ContextInput,
  type Outcome,
  type RequestOf,
} from './context-values.js'

export { statusOf, type ContextContext, type ContextInput, type Stage } from './context-values.js'

export type ContextEvent =
  | { type: 'REQUEST'; envelope: Envelope; replyTo: AnyActorRef }
  /** A connection went away (its session actor's id is `session:<sessionId>`). */
  | { type: 'SESSION.CLOSED'; sessionId: string }
  | { type: 'DEVICES.COUNT'; count: number }
  | { type: 'CLAIM.GRANTED'; deviceId: number }
  | { type: 'CLAIM.DENIED'; error: ErrorValue }
  /** Graceful shutdown: cancel what runs, close the pinpad. */
  | { type: 'SHUTDOWN' }
  /** The device actor failed (a bug): whatever it ran is lost, the pinpad is let go. */
  | { type: 'xstate.error.actor.device'; error: unknown }
  | DeviceNotice

/** Why the pinpad went: unplugged, or let go because it stopped answering (the device says). */
const disconnection = (event: { reason: string; error?: ErrorValue }): ErrorValue => event.error ?? error('MPOS_ERR_DEVICE_DISCONNECTED', `The pinpad was disconnected: ${event.reason}`)

const isSession = (ref: AnyActorRef, sessionId: string) => ref.id === `session:${sessionId}`

const isCommand = (command: CommandName) => ({ type: 'isCommand', params: { command } }) as const

export const contextMachine = setup({
  types: {
    context: {} as ContextContext,
    events: {} as ContextEvent,
    input: {} as ContextInput,
  },
  actors: { device: deviceMachine },
  actions: {
    attachSession: assign({
      sessions: ({ context, event }) =>
        event.type === 'REQUEST' && !context.sessions.includes(event.replyTo) ? [...context.sessions, event.replyTo] : context.sessions,
    }),
    detachSession: assign({
      sessions: ({ context, event }) => (event.type === 'SESSION.CLOSED' ? context.sessions.filter((s) => !isSession(s, event.sessionId)) : context.sessions),
    }),
    startRunning: assign({
      running: ({ event }) => (event.type === 'REQUEST' ? { envelope: event.envelope, replyTo: event.replyTo } : undefined),
    }),
    /** Answers the running request. */
    finishRunning: enqueueActions(({ context, enqueue }, params: Outcome) => {
      const r = context.running
      if (!r) return
      enqueue.sendTo(r.replyTo, replyFor(context, r.envelope, params))
      enqueue.assign({ running: undefined })
    }),
    /**
     * close or shutdown ends what runs: its request is answered now instead of being lost —
     * finish_payment with its outcome when only the card removal was left, anything else failed.
     */
    interruptRunning: enqueueActions(({ context, enqueue }) => {
      const r = context.running
      if (!r || r.envelope.request.command === 'close') return
      const command = r.envelope.request.command
      const outcome = context.finishOutcome ?? { success: false, error: error('MPOS_ERR_CONTEXT_CLOSED', `${command} was interrupted: context "${context.name}" is closing`) }
      enqueue.sendTo(r.replyTo, replyFor(context, r.envelope, outcome))
      enqueue.assign({ running: undefined, finishOutcome: undefined })
    }),
    /** Answers the request in the event right away, without changing what runs. */
    replyNow: enqueueActions(({ context, event, enqueue }, params: Outcome) => {
      if (event.type === 'REQUEST') enqueue.sendTo(event.replyTo, replyFor(context, event.envelope, params))
    }),
    replyStatus: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'REQUEST') return
      enqueue.sendTo(event.replyTo, replyFor(context, event.envelope, { success: true, response: statusOf(context) }))
    }),
    refuse: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'REQUEST') return
      enqueue.sendTo(event.replyTo, replyFor(context, event.envelope, refusal(context, event.envelope.request.command)))
    }),
    push: enqueueActions(({ context, enqueue }, event: PushEvent) => {
      for (const s of context.sessions) enqueue.sendTo(s, { type: 'PUSH', event } as AnyEventObject)
    }),
    /** Tells the attached connections the context's status, when it changed since the last time. */
    pushStatus: enqueueActions(({ context, enqueue }) => {
      const s = statusOf(context)
      const event: PushEvent = {
        event: 'status',
        context: context.name,
        status: s.status,
        ...(s.device_state ? { device_state: s.device_state } : {}),
        ...(s.running_command ? { running_command: s.running_command } : {}),
      }
      const key = JSON.stringify(event)
      if (key === context.lastStatus) return
      enqueue.assign({ lastStatus: key })
      for (const session of context.sessions) enqueue.sendTo(session, { type: 'PUSH', event } as AnyEventObject)
    }),
    claimDevice: enqueueActions(({ context, enqueue, system, self }) => {
      const r = context.running!.envelope.request as RequestOf<'initialize'>
      enqueue.sendTo(system.get('bridge'), {
        type: 'CLAIM',
        context: context.name,
        replyTo: self,
        ...(r.device_id !== undefined ? { deviceId: r.device_id } : {}),
      } as AnyEventObject)
    }),
    releaseDevice: enqueueActions(({ context, event, enqueue, system }) => {
      if (context.deviceId !== undefined) {
        const broken = event.type === 'xstate.error.actor.device'
        enqueue.sendTo(system.get('bridge'), { type: 'RELEASE', context: context.name, deviceId: context.deviceId, ...(broken ? { broken } : {}) } as AnyEventObject)
      }
      enqueue.assign({ deviceId: undefined, deviceState: undefined, encryptionKey: undefined, phase: 'none' })
      enqueue.stopChild('device')
    }),
  },
  guards: {
    isCommand: ({ event }, params: { command: CommandName }) => event.type === 'REQUEST' && event.envelope.request.command === params.command,
    /** Nothing runs and no payment waits for its answer. */
    nothingPending: ({ context }) => context.running === undefined && context.payment === undefined,
    /** No connection is attached and nothing runs: an idle context with nobody to serve ends. */
    unattended: ({ context }) => context.sessions.length === 0 && context.running === undefined,
    closeRequested: ({ context }) => context.running?.envelope.request.command === 'close',
    needsFinish: ({ context }) => context.phase === 'needs-finish',
    lastPaymentFailed: ({ context }) => context.phase === 'failed',
    paymentHasHash: ({ event }) => event.type === 'DEVICE.PAYMENT_RESULT' && event.result.card_hash !== undefined,
    deviceSettled: ({ event }) => event.type === 'DEVICE.STATE' && (event.state === 'ready' || event.state === 'awaitingFinish'),
    /**
     * The last connection attached to a payment's context went away (documented policy: cancel
     * unless another is attached). Not only the payer's: when the payer left first and the payment
     * went on for another connection, that one leaving last must cancel it too.
     */
    orphanedPayment: ({ context, event }) =>
      event.type === 'SESSION.CLOSED' && context.payment !== undefined && context.sessions.every((s) => isSession(s, event.sessionId)),
  },
}).createMachine({
  id: 'context',
  context: ({ input }) => ({ name: input.name, stage: 'idle', devicesAvailable: input.devicesAvailable ?? 0, phase: 'none', sessions: input.creator ? [input.creator] : [] }),
  initial: 'idle',
  on: {
    // Defaults for every state; states handle what they allow first.
    REQUEST: [
      { guard: isCommand('status'), actions: ['attachSession', 'replyStatus'] },
      {
        // Only an idle-handed context is "already initialized": while initialize (or anything) runs,
        // the refusal below names what runs instead of claiming an initialization not yet done.
        guard: and([isCommand('initialize'), 'nothingPending']),
        actions: [
          'attachSession',
          { type: 'replyNow', params: ({ context }) => ({ success: false, error: error('MPOS_ERR_ALREADY_INITIALIZED', `Context "${context.name}" is already initialized`) }) },
        ],
      },
      { actions: ['attachSession', 'refuse'] },
    ],
    'SESSION.CLOSED': [
      { guard: 'orphanedPayment', actions: ['detachSession', enqueueActions(({ enqueue }) => enqueue.sendTo('device', { type: 'CANCEL' }))] },
      { actions: 'detachSession' },
    ],
    'DEVICES.COUNT': { actions: assign({ devicesAvailable: ({ event }) => event.count }) },
    'xstate.error.actor.device': {
      target: '.idle',
      actions: [
        assign({ lastError: () => error('MPOS_ERR_INTERNAL', 'Internal error: the pinpad actor failed; initialize again') }),
        enqueueActions(({ context, enqueue }) => {
          const e = error('MPOS_ERR_INTERNAL', 'Internal error: the pinpad actor failed')
          if (context.running) enqueue.sendTo(context.running.replyTo, replyFor(context, context.running.envelope, { success: false, error: e }))
          if (context.payment) enqueue.sendTo(context.payment.replyTo, paymentReply(context, context.payment, { status: 'errored', error: e }))
          enqueue.assign({ running: undefined, payment: undefined, paymentResult: undefined, finishOutcome: undefined })
        }),
        'releaseDevice',
      ],
    },
    'DEVICE.STATE': { actions: [assign({ deviceState: ({ event }) => event.state }), 'pushStatus'] },
    'DEVICE.PROMPT': {
      actions: {
        type: 'push',
        params: ({ context, event }) => ({
          event: 'pinpad_message',
          context: context.name,
          message: event.message,
          lines: [event.message.slice(0, 16).trimEnd(), event.message.slice(16).trimEnd()].filter(Boolean),
        }),
      },
    },
  },
  states: {
    idle: {
      entry: [assign({ stage: 'idle' }), 'pushStatus'],
      always: { guard: 'unattended', target: 'ended' },
      on: {
        REQUEST: [
          { guard: isCommand('initialize'), target: 'initializing', actions: ['attachSession', 'startRunning'] },
          // close ends the context: the next request naming it starts a fresh one.
          { guard: isCommand('close'), target: 'ended', actions: ['attachSession', { type: 'replyNow', params: { success: true } }] },
        ],
        SHUTDOWN: {},
      },
    },

    /**
     * Holds no pinpad and serves nobody (or was closed): the bridge stops it and forgets its name.
     * Not a final state: its done event would carry this actor's unique id as its type.
     */
    ended: {
      entry: [
        assign({ stage: 'idle' }),
        'pushStatus',
        enqueueActions(({ context, enqueue, system, self }) => enqueue.sendTo(system.get('bridge'), { type: 'CONTEXT.ENDED', name: context.name, actorId: self.id } as AnyEventObject)),
      ],
    },

    initializing: {
      entry: [assign({ stage: 'initializing' }), 'pushStatus'],
      initial: 'claiming',
      states: {
        claiming: {
          entry: 'claimDevice',
          on: {
            'CLAIM.GRANTED': {
              target: 'connecting',
              actions: assign({
                deviceId: ({ event }) => event.deviceId,
                encryptionKey: ({ context }) => (context.running!.envelope.request as RequestOf<'initialize'>).encryption_key,
              }),
            },
            'CLAIM.DENIED': {
              target: '#context.idle',
              actions: { type: 'finishRunning', params: ({ event }) => ({ success: false, error: event.error }) },
            },
          },
        },
        connecting: {
          entry: enqueueActions(({ context, enqueue, self }) => {
            const r = context.running!.envelope.request as RequestOf<'initialize'>
            // systemId: other actors (and the inspector) find the device as "device:<id>".
            enqueue.spawnChild('device', { id: 'device', systemId: `device:${context.deviceId}`, input: { deviceId: String(context.deviceId), owner: self } })
            enqueue.sendTo('device', {
              type: 'CONNECT',
              encryptionKey: r.encryption_key,
              ...(r.simple_initialize !== undefined ? { simpleInitialize: r.simple_initialize } : {}),
              ...(r.timeout_milliseconds !== undefined ? { timeoutMs: r.timeout_milliseconds } : {}),
              ...(r.baud_rate !== undefined ? { baudRate: r.baud_rate } : {}),
            })
          }),
          on: {
            'DEVICE.CONNECTED': {
              target: '#context.initialized',
              actions: [assign({ lastError: undefined }), { type: 'finishRunning', params: { success: true } }],
            },
            'DEVICE.CONNECT_FAILED': {
              target: '#context.idle',
              actions: [
                assign({ lastError: ({ event }) => event.error }),
                { type: 'finishRunning', params: ({ event }) => ({ success: false, error: event.error }) },
                'releaseDevice',
              ],
            },
            // Unplugged during the table sync: the device says DISCONNECTED, not CONNECT_FAILED;
            // without this the initialize was never answered and the device stayed claimed.
            'DEVICE.DISCONNECTED': {
              target: '#context.idle',
              actions: [
                assign({ lastError: ({ event }) => disconnection(event) }),
                { type: 'finishRunning', params: ({ event }) => ({ success: false, error: disconnection(event) }) },
                'releaseDevice',
              ],
            },
          },
        },
      },
      on: { SHUTDOWN: { target: 'closing', actions: 'interruptRunning' } },
    },

    initialized: {
      initial: 'ready',
      on: {
        REQUEST: [{ guard: isCommand('close'), target: 'closing', actions: ['attachSession', 'interruptRunning', 'startRunning'] }],
        SHUTDOWN: { target: 'closing', actions: 'interruptRunning' },
        'DEVICE.DISCONNECTED': {
          target: 'idle',
          actions: [
            assign({ lastError: ({ event }) => disconnection(event) }),
            enqueueActions(({ context, event, enqueue }) => {
              const e = disconnection(event)
              if (context.running) {
                enqueue.sendTo(context.running.replyTo, replyFor(context, context.running.envelope, { success: false, error: e }))
                enqueue.assign({ running: undefined })
              }
              if (context.payment) {
                enqueue.sendTo(context.payment.replyTo, paymentReply(context, context.payment, context.paymentResult ?? { status: 'errored', error: e }))
                enqueue.assign({ payment: undefined, paymentResult: undefined })
              }
            }),
            'releaseDevice',
          ],
        },
      },
      states: {
        ready: {
          entry: [assign({ stage: 'ready' }), 'pushStatus'],
          on: {
            REQUEST: [
              {
                guard: and([isCommand('process_payment'), not('needsFinish')]),
                target: 'paying',
                actions: [
                  'attachSession',
                  assign({ payment: ({ event }) => (event.type === 'REQUEST' ? { envelope: event.envelope, replyTo: event.replyTo } : undefined) }),
                  enqueueActions(({ event, enqueue }) => {
                    if (event.type !== 'REQUEST') return
                    const { command: _, ...payment } = event.envelope.request as RequestOf<'process_payment'>
                    enqueue.sendTo('device', { type: 'PROCESS_PAYMENT', ...payment })
                  }),
                ],
              },
              {
                guard: and([isCommand('finish_payment'), 'needsFinish']),
                target: 'finishing',
                actions: ['attachSession', 'startRunning'],
              },
              {
                // finish_payment is obligatory, also after a failure (bridge-facts): nothing is left on the pinpad.
                guard: and([isCommand('finish_payment'), 'lastPaymentFailed']),
                actions: ['attachSession', assign({ phase: 'none' }), { type: 'replyNow', params: { success: true } }],
              },
              {
                guard: and([isCommand('display_message'), not('needsFinish')]),
                target: 'displaying',
                actions: ['attachSession', 'startRunning'],
              },
              {
                // The payment will not be finished: let the pinpad go (card removal) and forget it.
                guard: and([isCommand('cancel'), 'needsFinish']),
                target: 'settling',
                actions: [
                  'attachSession',
                  assign({ phase: 'none' }),
                  enqueueActions(({ enqueue }) => enqueue.sendTo('device', { type: 'CANCEL' })),
                  { type: 'replyNow', params: { success: true } },
                ],
              },
              {
                guard: isCommand('cancel'),
                actions: ['attachSession', { type: 'replyNow', params: ({ context }) => ({ success: false, error: error('MPOS_ERR_NOTHING_TO_CANCEL', `Nothing runs in context "${context.name}"`) }) }],
              },
            ],
          },
        },

        paying: {
          entry: [assign({ stage: 'paying' }), 'pushStatus'],
          on: {
            'DEVICE.PAYMENT_RESULT': {
              target: 'settling',
              actions: enqueueActions(({ context, event, enqueue }) => {
                const accepted = event.result.card_hash !== undefined
                enqueue.assign({ phase: accepted ? 'needs-finish' : 'failed' })
                const push = paymentStatus(context, event.result)
                for (const session of context.sessions) enqueue.sendTo(session, { type: 'PUSH', event: push } as AnyEventObject)
                // A card hash is answered now; a failure once the pinpad is idle again (card removed),
                // so that the next command finds it ready.
                const p = context.payment
                if (accepted && p) {
                  enqueue.sendTo(p.replyTo, paymentReply(context, p, event.result))
                  enqueue.assign({ payment: undefined })
                } else {
                  enqueue.assign({ paymentResult: event.result })
                }
              }),
            },
            REQUEST: [
              {
                guard: isCommand('cancel'),
                actions: ['attachSession', enqueueActions(({ enqueue }) => enqueue.sendTo('device', { type: 'CANCEL' })), { type: 'replyNow', params: { success: true } }],
              },
            ],
          },
        },

        /** The pinpad completes the last step (card removal, back to idle) before the next action. */
        settling: {
          entry: [assign({ stage: 'settling' }), 'pushStatus'],
          on: {
            'DEVICE.STATE': [
              {
                guard: 'deviceSettled',
                target: 'ready',
                actions: [
                  assign({ deviceState: ({ event }) => event.state }),
                  // finish_payment is answered once the pinpad is idle again (card removed, §3.3.14).
                  enqueueActions(({ context, enqueue }) => {
                    if (context.running) enqueue({ type: 'finishRunning', params: context.finishOutcome ?? { success: true } })
                    if (context.payment && context.paymentResult) enqueue.sendTo(context.payment.replyTo, paymentReply(context, context.payment, context.paymentResult))
                    enqueue.assign({ finishOutcome: undefined, paymentResult: undefined, payment: undefined })
                  }),
                ],
              },
              { actions: [assign({ deviceState: ({ event }) => event.state }), 'pushStatus'] },
            ],
            REQUEST: [
              { guard: isCommand('status'), actions: ['attachSession', 'replyStatus'] },
              { guard: isCommand('close'), target: '#context.closing', actions: ['attachSession', 'interruptRunning', 'startRunning'] },
              {
                guard: and([isCommand('finish_payment'), 'lastPaymentFailed']),
                actions: ['attachSession', assign({ phase: 'none' }), { type: 'replyNow', params: { success: true } }],
              },
              {
                guard: isCommand('cancel'),
                actions: ['attachSession', enqueueActions(({ enqueue }) => enqueue.sendTo('device', { type: 'CANCEL' })), { type: 'replyNow', params: { success: true } }],
              },
              {
                guard: 'nothingPending',
                actions: [
                  'attachSession',
                  {
                    type: 'replyNow',
                    params: ({ context, event }) => ({
                      success: false,
                      error: error(
                        'MPOS_ERR_CONTEXT_BUSY',
                        `${event.type === 'REQUEST' ? event.envelope.request.command : 'command'} refused: the pinpad is still finishing the previous payment (${context.deviceState ?? 'busy'}): remove the card`,
                      ),
                    }),
                  },
                ],
              },
            ],
          },
        },

        finishing: {
          entry: [
            assign({ stage: 'finishing' }),
            'pushStatus',
            enqueueActions(({ context, enqueue }) => {
              const { command: _, ...finish } = context.running!.envelope.request as RequestOf<'finish_payment'>
              enqueue.sendTo('device', { type: 'FINISH_PAYMENT', ...finish })
            }),
          ],
          on: {
            'DEVICE.FINISHED': {
              target: 'settling',
              actions: assign({
                phase: 'none',
                finishOutcome: ({ event }) =>
                  event.error
                    ? { success: false as const, error: event.error }
                    : { success: true as const, ...(event.result ? { response: event.result } : {}) },
              }),
            },
          },
        },

        displaying: {
          entry: [
            assign({ stage: 'displaying' }),
            'pushStatus',
            enqueueActions(({ context, enqueue }) => {
              const { message } = context.running!.envelope.request as RequestOf<'display_message'>
              enqueue.sendTo('device', { type: 'DISPLAY_MESSAGE', message })
            }),
          ],
          on: {
            'DEVICE.DISPLAYED': {
              target: 'ready',
              actions: {
                type: 'finishRunning',
                params: ({ event }) => (event.error ? { success: false as const, error: event.error } : { success: true as const }),
              },
            },
          },
        },
      },
    },

    closing: {
      entry: [
        assign({ stage: 'closing' }),
        'pushStatus',
        enqueueActions(({ enqueue }) => enqueue.sendTo('device', { type: 'CLOSE', message: 'OBRIGADO' })),
      ],
      on: {
        'DEVICE.CLOSED': {
          target: 'afterClose',
          actions: [
            enqueueActions(({ context, enqueue }) => {
              if (context.payment && context.paymentResult) enqueue.sendTo(context.payment.replyTo, paymentReply(context, context.payment, context.paymentResult))
              enqueue.assign({ payment: undefined, paymentResult: undefined })
            }),
            'releaseDevice',
          ],
        },
        'DEVICE.PAYMENT_RESULT': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const p = context.payment
            if (p) enqueue.sendTo(p.replyTo, paymentReply(context, p, event.result))
            enqueue.assign({ payment: undefined })
            // The outcome is pushed here too (as in `paying`): a payment ended by close or shutdown
            // otherwise left the attached connections without its payment_status.
            const push = paymentStatus(context, event.result)
            for (const session of context.sessions) enqueue.sendTo(session, { type: 'PUSH', event: push } as AnyEventObject)
          }),
        },
        'DEVICE.DISCONNECTED': {
          target: 'afterClose',
          actions: ['releaseDevice'],
        },
      },
    },

    /** A close request ends the context once answered; a shutdown leaves it idle. */
    afterClose: {
      always: [
        { guard: 'closeRequested', target: 'ended', actions: { type: 'finishRunning', params: { success: true } } },
        { target: 'idle' },
      ],
    },
  },
})

export type ContextActor = ActorRefFrom<typeof contextMachine>
