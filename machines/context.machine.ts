/**
 * One actor per named context, shared by every connection (bridge-facts "Contexts"): it owns at
 * most one pinpad, runs one action at a time — a command arriving while another runs is refused
 * at once naming the running one (no hidden queue), `status` always answers — and keeps the
 * order initialize → process_payment → finish_payment → process_payment…
 *
 *   idle → initializing (claim the pinpad, open it) → initialized → closing → ended
 *
 * `initialized` has two regions: `activity` (what the pinpad does for this context now) and
 * `obligation` (whether the last payment still wants its finish_payment). The status, the
 * commands allowed now and the device's step are read off these states and the device's own
 * snapshot: nothing is kept twice.
 */
import { and, assign, enqueueActions, not, or, stateIn, type ActorRefFrom } from 'xstate'
import type { CommandName, Envelope } from './protocol.js'
import { coded } from './types.js'
import { promptsUnsupported, statusEvent, statusKey, type RequestOf } from './context-values.js'
import { contextSetup, deviceEnd, endError } from './context-setup.js'
import { AlreadyInitializedError, DeviceDisconnectedError, InternalError, NothingToCancelError } from '../src/errors.js'

export { statusOf, type ContextContext, type ContextInput } from './context-values.js'
export type { ContextEvent } from './context-setup.js'

/** Where the last payment's finish_payment stands (the other region of `initialized`). */
const finishRequired = stateIn({ initialized: { obligation: 'finishRequired' } })
const finishOptional = stateIn({ initialized: { obligation: 'finishOptional' } })

const isCommand = (command: CommandName) => ({ type: 'isCommand', params: { command } }) as const
/** The customer prompts (beyond the original protocol). */
const isPrompt = or([isCommand('pinpad_menu'), isCommand('pinpad_input')])

export const contextMachine = contextSetup.createMachine({
  id: 'context',
  context: ({ input }) => ({
    name: input.name,
    bridge: input.bridge,
    devicesAvailable: input.devicesAvailable ?? 0,
    sessions: input.creator ? [input.creator] : [],
    pushed: {},
  }),
  initial: 'idle',
  on: {
    // What no state takes: `status` always answers; anything else is refused (busy, or out of order).
    REQUEST: [
      { guard: isCommand('status'), actions: ['attachSession', 'replyStatus'] },
      {
        // Only an idle-handed context is "already initialized": while initialize (or anything) runs,
        // the refusal below names what runs instead of claiming an initialization not yet done.
        guard: and([isCommand('initialize'), 'nothingPending']),
        actions: ['attachSession', { type: 'replyNow', params: ({ context }) => ({ success: false, error: coded(new AlreadyInitializedError(context.name)) }) }],
      },
      { actions: ['attachSession', 'refuse'] },
    ],
    // A payment whose connections have all gone runs on: the customer is at the pinpad, and the
    // journal keeps its answer for the page that comes back (get_result, or payment_status).
    'SESSION.CLOSED': [
      // Nobody is left to receive a prompt's answer (prompts are not journaled): the customer is not kept waiting on the pinpad.
      { guard: and([stateIn({ initialized: { activity: 'prompting' } }), 'lastSessionLeft']), actions: ['detachSession', { type: 'tellDevice', params: { type: 'CANCEL' } }] },
      { actions: 'detachSession' },
    ],
    'DEVICES.COUNT': { actions: assign({ devicesAvailable: ({ event }) => event.count }) },
    // The device rests in a new step: the status may show it.
    'DEVICE.STEP': { actions: 'pushStatus' },
    'DEVICE.PROMPT': {
      actions: enqueueActions(({ context, event, enqueue }) => {
        const lines = [event.message.slice(0, 16).trimEnd(), event.message.slice(16).trimEnd()].filter(Boolean)
        for (const s of context.sessions) enqueue.sendTo(s, { type: 'PUSH', event: { event: 'pinpad_message', context: context.name, message: event.message, lines } })
      }),
    },
    'xstate.error.actor.device': {
      target: '.idle',
      actions: [
        assign({ lastError: () => coded(new InternalError('the pinpad actor failed; initialize again')) }),
        { type: 'answerAllWith', params: () => coded(new InternalError('the pinpad actor failed')) },
        'releaseDevice',
      ],
    },
  },
  states: {
    idle: {
      entry: { type: 'pushStatus', params: 'idle' },
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

    initializing: {
      entry: { type: 'pushStatus', params: 'in_use' },
      initial: 'claiming',
      states: {
        claiming: {
          entry: 'claimDevice',
          on: {
            'CLAIM.GRANTED': { target: 'connecting', actions: assign({ deviceId: ({ event }) => event.deviceId }) },
            'CLAIM.DENIED': { target: '#context.idle', actions: { type: 'finishRunning', params: ({ event }) => ({ success: false, error: event.error }) } },
          },
        },
        connecting: {
          entry: enqueueActions(({ context, enqueue, self }) => {
            const r = context.running!.envelope.request as RequestOf<'initialize'>
            // systemId: the inspector finds the device as "device:<id>". Its steps come as DEVICE.STEP
            // (not every snapshot: each ABECS exchange and assign would cost this actor a step).
            enqueue.spawnChild('device', {
              id: 'device',
              systemId: `device:${context.deviceId}`,
              input: {
                deviceId: context.deviceId!,
                owner: self,
                connect: {
                  encryptionKey: r.encryption_key,
                  ...(r.simple_initialize !== undefined ? { simpleInitialize: r.simple_initialize } : {}),
                  ...(r.timeout_milliseconds !== undefined ? { timeoutMs: r.timeout_milliseconds } : {}),
                  ...(r.baud_rate !== undefined ? { baudRate: r.baud_rate } : {}),
                  ...(r.secure_session ? { secureSession: true } : {}),
                },
              },
            })
          }),
          on: {
            'DEVICE.CONNECTED': {
              target: '#context.initialized',
              actions: [
                assign({ lastError: undefined, pinpadSpec: ({ event }) => ({ version: event.identity.specVersion, abecs: event.identity.abecs }) }),
                { type: 'finishRunning', params: { success: true } },
              ],
            },
            // It ended before it was ready: the port did not open, the table sync failed (the
            // pinpad was closed again), or it was unplugged meanwhile.
            'xstate.done.actor.device': {
              target: '#context.idle',
              actions: [
                assign({ lastError: ({ event }) => endError(deviceEnd(event)) }),
                { type: 'finishRunning', params: ({ event }) => ({ success: false, error: endError(deviceEnd(event)) ?? coded(new DeviceDisconnectedError('closed')) }) },
                'releaseDevice',
              ],
            },
          },
        },
      },
      on: { SHUTDOWN: { target: 'closing', actions: 'interruptRunning' } },
    },

    initialized: {
      type: 'parallel',
      on: {
        REQUEST: [{ guard: isCommand('close'), target: 'closing', actions: ['attachSession', 'interruptRunning', 'startRunning'] }],
        SHUTDOWN: { target: 'closing', actions: 'interruptRunning' },
        // Unplugged, or let go because it stopped answering: what runs fails, the context is idle.
        'xstate.done.actor.device': {
          target: 'idle',
          actions: [
            assign({ lastError: ({ event }) => endError(deviceEnd(event)) }),
            { type: 'answerAllWith', params: ({ event }) => endError(deviceEnd(event)) ?? coded(new DeviceDisconnectedError('closed')) },
            'releaseDevice',
          ],
        },
      },
      states: {
        /** What the pinpad does for this context now. */
        activity: {
          initial: 'ready',
          states: {
            ready: {
              entry: { type: 'pushStatus', params: 'initialized' },
              on: {
                REQUEST: [
                  {
                    guard: and([isCommand('process_payment'), not(finishRequired)]),
                    target: 'paying',
                    actions: [
                      'attachSession',
                      'startPayment',
                      enqueueActions(({ event, enqueue }) => {
                        if (event.type !== 'REQUEST') return
                        const { command: _, ...payment } = event.envelope.request as RequestOf<'process_payment'>
                        enqueue.sendTo('device', { type: 'PROCESS_PAYMENT', ...payment })
                      }),
                    ],
                  },
                  { guard: and([isCommand('finish_payment'), finishRequired]), target: 'finishing', actions: ['attachSession', 'startRunning'] },
                  // finish_payment is obligatory, also after a failure (bridge-facts): nothing is left on the pinpad.
                  { guard: and([isCommand('finish_payment'), finishOptional]), actions: ['attachSession', { type: 'replyNow', params: { success: true } }] },
                  { guard: and([isCommand('display_message'), not(finishRequired)]), target: 'displaying', actions: ['attachSession', 'startRunning'] },
                  // Customer prompts need a 2.x pinpad: refused at once on a 1.x one, nothing sent.
                  {
                    guard: and([isPrompt, not(finishRequired), 'pinpadLacksPrompts']),
                    actions: ['attachSession', { type: 'refuseWith', params: ({ context, event }) => promptsUnsupported(context, (event as { envelope: Envelope }).envelope.request.command) }],
                  },
                  { guard: and([isPrompt, not(finishRequired)]), target: 'prompting', actions: ['attachSession', 'startRunning'] },
                  // The payment will not be finished: let the pinpad go (card removal) and forget it.
                  { guard: and([isCommand('cancel'), finishRequired]), target: 'dropping', actions: ['attachSession', { type: 'replyNow', params: { success: true } }] },
                  {
                    guard: isCommand('cancel'),
                    actions: ['attachSession', { type: 'refuseWith', params: ({ context }) => coded(new NothingToCancelError(context.name)) }],
                  },
                ],
              },
            },

            paying: {
              entry: { type: 'pushStatus', params: 'in_use' },
              initial: 'inProgress',
              on: {
                REQUEST: [{ guard: isCommand('cancel'), actions: ['attachSession', { type: 'tellDevice', params: { type: 'CANCEL' } }, { type: 'replyNow', params: { success: true } }] }],
              },
              states: {
                inProgress: {
                  on: {
                    'DEVICE.PAYMENT_RESULT': [
                      // A card hash is answered now; the device waits for finish_payment.
                      {
                        guard: 'paymentAccepted',
                        target: '#context.initialized.activity.ready',
                        actions: [{ type: 'pushPaymentStatus', params: ({ event }) => event.result }, { type: 'answerPayment', params: ({ event }) => event.result }],
                      },
                      // A failure once the pinpad is idle again (card removed), so that the next command finds it ready.
                      { target: 'failed', actions: [{ type: 'pushPaymentStatus', params: ({ event }) => event.result }, assign({ paymentResult: ({ event }) => event.result })] },
                    ],
                  },
                },
                /** The payment failed: answered once the pinpad is idle again (card removed). */
                failed: {
                  on: {
                    'DEVICE.STEP': {
                      guard: 'deviceSettled',
                      target: '#context.initialized.activity.ready',
                      actions: [{ type: 'answerPayment', params: ({ context }) => context.paymentResult }],
                    },
                    REQUEST: [{ guard: and([isCommand('finish_payment'), finishOptional]), actions: ['attachSession', { type: 'replyNow', params: { success: true } }] }],
                  },
                },
              },
            },

            finishing: {
              entry: [
                { type: 'pushStatus', params: 'in_use' },
                enqueueActions(({ context, enqueue }) => {
                  const { command: _, ...finish } = context.running!.envelope.request as RequestOf<'finish_payment'>
                  enqueue.sendTo('device', { type: 'FINISH_PAYMENT', ...finish })
                }),
              ],
              initial: 'onChip',
              states: {
                onChip: {
                  on: {
                    'DEVICE.FINISHED': {
                      target: 'settling',
                      actions: assign({
                        settledOutcome: ({ event }) =>
                          event.error ? { success: false as const, error: event.error } : { success: true as const, ...(event.result ? { response: event.result } : {}) },
                      }),
                    },
                  },
                },
                // finish_payment is answered once the pinpad is idle again (card removed, §3.3.14).
                settling: {
                  on: {
                    'DEVICE.STEP': {
                      guard: 'deviceSettled',
                      target: '#context.initialized.activity.ready',
                      actions: [{ type: 'finishRunning', params: ({ context }) => context.settledOutcome ?? { success: true } }, assign({ settledOutcome: undefined })],
                    },
                    REQUEST: [{ guard: isCommand('cancel'), actions: ['attachSession', { type: 'tellDevice', params: { type: 'CANCEL' } }, { type: 'replyNow', params: { success: true } }] }],
                  },
                },
              },
            },

            /** cancel instead of finish_payment: the pinpad asks for the card back, the payment is forgotten. */
            dropping: {
              entry: [{ type: 'pushStatus', params: 'in_use' }, { type: 'tellDevice', params: { type: 'CANCEL' } }],
              on: {
                'DEVICE.STEP': { guard: 'deviceSettled', target: 'ready' },
                REQUEST: [{ guard: isCommand('cancel'), actions: ['attachSession', { type: 'tellDevice', params: { type: 'CANCEL' } }, { type: 'replyNow', params: { success: true } }] }],
              },
            },

            /**
             * pinpad_menu / pinpad_input: answered with the customer's answer as soon as it comes; a
             * failure (the customer's CANCELA, the time out, a cancel) once the pinpad is idle again.
             */
            prompting: {
              entry: [
                { type: 'pushStatus', params: 'in_use' },
                enqueueActions(({ context, enqueue }) => {
                  const r = context.running!.envelope.request as RequestOf<'pinpad_menu' | 'pinpad_input'>
                  const { command, ...prompt } = r
                  if (command === 'pinpad_menu') enqueue.sendTo('device', { type: 'PROMPT_MENU', ...(prompt as Omit<RequestOf<'pinpad_menu'>, 'command'>) })
                  else enqueue.sendTo('device', { type: 'PROMPT_INPUT', ...(prompt as Omit<RequestOf<'pinpad_input'>, 'command'>) })
                }),
              ],
              on: {
                REQUEST: [{ guard: isCommand('cancel'), actions: ['attachSession', { type: 'tellDevice', params: { type: 'CANCEL' } }, { type: 'replyNow', params: { success: true } }] }],
              },
              initial: 'asking',
              states: {
                asking: {
                  on: {
                    'DEVICE.PROMPTED': [
                      {
                        guard: 'promptFailed',
                        target: 'unwinding',
                        actions: assign({ settledOutcome: ({ event }) => ({ success: false as const, error: event.error! }) }),
                      },
                      // The answer goes to the asker right away and is not kept (the device is ready again).
                      { target: '#context.initialized.activity.ready', actions: { type: 'finishRunning', params: ({ event }) => ({ success: true as const, response: event.response }) } },
                    ],
                  },
                },
                /** The prompt's command was cancelled (CAN): answered once the pinpad confirmed it. */
                unwinding: {
                  on: {
                    'DEVICE.STEP': {
                      guard: 'deviceSettled',
                      target: '#context.initialized.activity.ready',
                      actions: [{ type: 'finishRunning', params: ({ context }) => context.settledOutcome! }, assign({ settledOutcome: undefined })],
                    },
                  },
                },
              },
            },

            displaying: {
              entry: [
                { type: 'pushStatus', params: 'in_use' },
                enqueueActions(({ context, enqueue }) => {
                  const { message } = context.running!.envelope.request as RequestOf<'display_message'>
                  enqueue.sendTo('device', { type: 'DISPLAY_MESSAGE', message })
                }),
              ],
              on: {
                'DEVICE.DISPLAYED': {
                  target: 'ready',
                  actions: { type: 'finishRunning', params: ({ event }) => (event.error ? { success: false as const, error: event.error } : { success: true as const }) },
                },
              },
            },
          },
        },

        /** Whether the last payment still wants its finish_payment (bridge-facts: it is obligatory). */
        obligation: {
          initial: 'none',
          states: {
            none: {
              on: {
                'DEVICE.PAYMENT_RESULT': [{ guard: 'paymentAccepted', target: 'finishRequired' }, { target: 'finishOptional' }],
              },
            },
            /** A card hash was answered: the chip transaction waits for the acquirer's word. */
            finishRequired: {
              on: {
                REQUEST: [
                  { guard: and([isCommand('finish_payment'), stateIn({ initialized: { activity: 'ready' } })]), target: 'none' },
                  { guard: and([isCommand('cancel'), stateIn({ initialized: { activity: 'ready' } })]), target: 'none' },
                ],
              },
            },
            /** The payment failed: finish_payment is a no-op, and the next payment may start. */
            finishOptional: {
              on: {
                REQUEST: [
                  {
                    guard: and([isCommand('finish_payment'), or([stateIn({ initialized: { activity: 'ready' } }), stateIn({ initialized: { activity: { paying: 'failed' } } })])]),
                    target: 'none',
                  },
                  { guard: and([isCommand('process_payment'), stateIn({ initialized: { activity: 'ready' } })]), target: 'none' },
                ],
              },
            },
          },
        },
      },
    },

    closing: {
      entry: [{ type: 'pushStatus', params: 'in_use' }, { type: 'tellDevice', params: { type: 'CLOSE', message: 'OBRIGADO' } }],
      on: {
        'DEVICE.PAYMENT_RESULT': {
          // The outcome is pushed here too (as in `paying`): a payment ended by close or shutdown
          // otherwise left the attached connections without its payment_status.
          actions: [{ type: 'pushPaymentStatus', params: ({ event }) => event.result }, { type: 'answerPayment', params: ({ event }) => event.result }],
        },
        'xstate.done.actor.device': {
          target: 'afterClose',
          actions: [{ type: 'answerPayment', params: ({ context }) => context.paymentResult }, 'releaseDevice'],
        },
      },
    },

    /** A close request ends the context once answered; a shutdown leaves it idle. */
    afterClose: {
      always: [{ guard: 'closeRequested', target: 'ended', actions: { type: 'finishRunning', params: { success: true } } }, { target: 'idle' }],
    },

    /**
     * Holds no pinpad and serves nobody (or was closed): the bridge stops it and forgets its name.
     * Not a final state: its done event would carry this actor's unique id as its type.
     */
    ended: {
      entry: enqueueActions(({ context, enqueue, self }) => {
        const event = statusEvent(context.name, { status: 'idle' })
        if (statusKey('idle') !== context.pushed.status) for (const s of context.sessions) enqueue.sendTo(s, { type: 'PUSH', event })
        enqueue.sendTo(context.bridge, { type: 'CONTEXT.ENDED', name: context.name, actorId: self.id })
      }),
    },
  },
})

export type ContextActor = ActorRefFrom<typeof contextMachine>
