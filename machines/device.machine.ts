/**
 * One actor per open pinpad, from opening its port to letting it go:
 *
 *   connecting → connected.syncingTables → ready ⇄ displaying / idle
 *                                        ⇄ prompting (MNU or GCD: the customer picks or types)
 *                                        → payment (card read → chip / PIN → card hash, with the
 *                                          card-hash key fetched beside it) → awaitingFinish
 *                                        → finishing → removingCard → ready
 *   … → closing → closed  |  lost (unplugged)  |  unresponsive → gone (no EOT to CAN)
 *
 * Every pinpad step is an invoked actor supplied by src/ through `.provide()`: leaving a state
 * stops its actor, whose AbortSignal cancels the command on the wire (CAN/EOT, §2.2.2.3). The
 * open pinpad (link, client, identity, dialect) is the `openPinpad` actor's output and lives in
 * this actor's context for the connection's lifetime. The owner (the context actor) hears the step
 * it rests in (DEVICE.STEP), the results of what it asked (DEVICE.* notices), and learns how it
 * ended from its final state's output; it reads the state value off the snapshot when it asks.
 *
 * No wait is endless: what the customer does (present a card, type the PIN, take the card back)
 * has the payment's `timeout_milliseconds` (the pinpad's own SPE_TIMEOUT on 2.x, §3.7.1/§3.7.3,
 * and this machine's deadline a little beyond it); past it the command is cancelled on the wire,
 * and a pinpad that does not even answer the CAN is declared unresponsive and let go.
 *
 * Its data, events and step inputs are in device-types.ts, the results and inputs it builds in
 * device-values.ts, its actors, actions and guards in device-setup.ts: this file is the chart, top to
 * bottom.
 */
import { assign, enqueueActions } from 'xstate'
import { deviceSetup } from './device-setup.js'
import { coded, DEFAULT_PAYMENT_TIMEOUT_MS, errorValue, type PaymentResult } from './types.js'
import type { DeviceEnd, DeviceEvent, PublicStep } from './device-types.js'
import {
  AWAITING_FINISH,
  canceled,
  cardInput,
  finished,
  finishedOnChip,
  inputPromptInput,
  menuInput,
  PAYMENT_FAILED,
  pinpadInput,
  promptCancelled,
  promptFailed,
  promptTimeout,
  PROCESSED,
  syncInput,
  timeoutResult,
  unresponsiveError,
} from './device-values.js'
import { PaymentLinkLostError, TablesOutdatedError } from '../src/errors.js'

export type * from './device-types.js'
export { DEADLINE_GRACE_MS, deviceStep } from './device-values.js'

/** Entry action of a state the device rests in: the owner hears the step (DEVICE.STEP); keep it last. */
const step = (name: PublicStep) => ({ type: 'tellStep', params: name }) as const

export const deviceMachine = deviceSetup.createMachine({
  id: 'device',
  context: ({ input }) => ({ deviceId: input.deviceId, connect: input.connect, ...(input.owner ? { owner: input.owner } : {}) }),
  // The final state's own output when it has one (connectFailed, lost, gone), else closed.
  output: ({ context, event }) => ((event as { output?: DeviceEnd }).output ?? (context.error ? { kind: 'closed', error: context.error } : { kind: 'closed' })) as DeviceEnd,
  initial: 'connecting',
  states: {
    connecting: {
      entry: step('connecting'),
      invoke: {
        id: 'openPinpad',
        src: 'openPinpad',
        input: ({ context }) => ({ deviceId: context.deviceId, ...context.connect }),
        onDone: { target: 'connected', actions: assign({ pinpad: ({ event }) => event.output }) },
        onError: { target: 'connectFailed', actions: assign({ error: ({ event }) => errorValue(event.error) }) },
      },
      // Closed (shutdown) while the port is still being opened: stopping openPinpad cancels it.
      on: { CLOSE: 'closed' },
    },

    connected: {
      invoke: { id: 'watchLink', src: 'watchLink', input: pinpadInput },
      on: {
        // Unplugged in any state: whatever ran fails, the device ends.
        'LINK.CLOSED': {
          target: 'lost',
          actions: [
            { type: 'endPayment', params: ({ event }) => ({ status: 'errored', error: coded(new PaymentLinkLostError(event.reason)) }) },
            { type: 'dropCard', params: ({ context }) => context.payment?.cardRef },
            assign({ lostReason: ({ event }) => event.reason }),
          ],
        },
        'PINPAD.PROMPT': { actions: { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.PROMPT', message: event.message }) } },
        // close at any time (bridge-facts): a payment in flight is cancelled on the way out.
        CLOSE: {
          target: 'closing',
          actions: [{ type: 'endPayment', params: canceled('The context was closed') }, { type: 'dropCard', params: ({ context }) => context.payment?.cardRef }],
        },
      },
      initial: 'syncingTables',
      states: {
        syncingTables: {
          // Passed through at once when the sync is skipped: the owner hears of `ready` instead.
          entry: enqueueActions(({ check, enqueue }) => {
            if (!check('skipsTableSync')) enqueue(step('syncingTables'))
          }),
          always: {
            guard: 'skipsTableSync',
            target: 'ready',
            actions: { type: 'tellOwner', params: ({ context }) => ({ type: 'DEVICE.CONNECTED', identity: context.pinpad!.identity }) },
          },
          invoke: {
            id: 'syncTables',
            src: 'syncTables',
            input: syncInput(false),
            onDone: {
              target: 'ready',
              actions: [
                assign({ tablesVersion: ({ event }) => event.output.tablesVersion }),
                { type: 'tellOwner', params: ({ context, event }) => ({ type: 'DEVICE.CONNECTED', identity: context.pinpad!.identity, tablesVersion: event.output.tablesVersion }) },
              ],
            },
            // The pinpad is closed again (CLO); the owner learns why from the end's output.
            onError: { target: '#device.closing', actions: assign({ error: ({ event }) => errorValue(event.error) }) },
          },
        },

        ready: {
          entry: [assign({ payment: undefined, prompt: undefined }), step('ready')],
          invoke: { id: 'showIdle', src: 'showIdle', input: pinpadInput, onError: {} },
          on: {
            PROCESS_PAYMENT: { target: 'payment', actions: 'startPayment' },
            DISPLAY_MESSAGE: 'displaying',
            PROMPT_MENU: { target: 'prompting.awaitingChoice', actions: 'startPrompt' },
            PROMPT_INPUT: { target: 'prompting.awaitingInput', actions: 'startPrompt' },
          },
        },

        displaying: {
          entry: step('displaying'),
          invoke: {
            id: 'displayMessage',
            src: 'displayMessage',
            input: ({ context, event }) => ({ pinpad: context.pinpad!, message: (event as { message: string }).message }),
            onDone: { target: 'idle', actions: { type: 'tellOwner', params: { type: 'DEVICE.DISPLAYED' } } },
            onError: { target: 'idle', actions: { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.DISPLAYED', error: errorValue(event.error) }) } },
          },
        },

        /** Like ready, but the message just shown stays on the display. */
        idle: {
          entry: step('ready'),
          on: {
            PROCESS_PAYMENT: { target: 'payment', actions: 'startPayment' },
            DISPLAY_MESSAGE: 'displaying',
            PROMPT_MENU: { target: 'prompting.awaitingChoice', actions: 'startPrompt' },
            PROMPT_INPUT: { target: 'prompting.awaitingInput', actions: 'startPrompt' },
          },
        },

        /**
         * A customer prompt (pinpad_menu, pinpad_input) on a 2.x pinpad: MNU or GCD waits for the
         * customer, with the prompt's timeout as SPE_TIMEOUT and this machine's deadline a little
         * beyond it. The pinpad clears its display when the command ends (§6.5.8, §6.5.13), so
         * every end leads back to the idle screen. The answer goes to the owner, never into the
         * context; CANCEL and the deadline stop the command (CAN) and wait for its EOT.
         */
        prompting: {
          after: { customerDeadline: { target: 'cancelling', actions: { type: 'tellOwner', params: ({ context }) => promptTimeout(context.prompt) } } },
          on: { CANCEL: { target: 'cancelling', actions: { type: 'tellOwner', params: ({ context }) => promptCancelled(context.prompt) } } },
          initial: 'awaitingChoice',
          states: {
            awaitingChoice: {
              entry: step('awaitingChoice'),
              invoke: {
                id: 'chooseOption',
                src: 'chooseOption',
                input: menuInput,
                onDone: { target: '#device.connected.ready', actions: { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.PROMPTED', response: event.output }) } },
                onError: { target: '#device.connected.ready', actions: { type: 'tellOwner', params: ({ context, event }) => promptFailed(context.prompt, event.error) } },
              },
            },
            awaitingInput: {
              entry: step('awaitingInput'),
              invoke: {
                id: 'enterData',
                src: 'enterData',
                input: inputPromptInput,
                onDone: { target: '#device.connected.ready', actions: { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.PROMPTED', response: event.output }) } },
                onError: { target: '#device.connected.ready', actions: { type: 'tellOwner', params: ({ context, event }) => promptFailed(context.prompt, event.error) } },
              },
            },
          },
        },

        /**
         * From the card read to the card hash, with the card-hash key fetched beside it. CANCEL at
         * any step cancels on the wire; any step failing (the key's included) fails the payment.
         */
        payment: {
          type: 'parallel',
          on: {
            CANCEL: '#device.connected.cancelling',
            'xstate.error.actor.*': { target: PAYMENT_FAILED, actions: 'failPayment' },
          },
          states: {
            steps: {
              initial: 'cardholder',
              states: {
                /** The steps that wait for the customer: bounded by the payment's timeout. */
                cardholder: {
                  after: { customerDeadline: '#device.connected.timingOut' },
                  initial: 'awaitingCard',
                  states: {
                    awaitingCard: {
                      entry: step('awaitingCard'),
                      invoke: {
                        id: 'readCard',
                        src: 'readCard',
                        input: ({ context }) => ({ pinpad: context.pinpad!, payment: context.payment!, resume: context.payment!.tablesReloaded === true }),
                        onDone: [
                          { guard: 'isTablesOutdated', target: 'reloadingTables' },
                          { guard: 'cardIsChip', target: 'onChip', actions: 'keepCard' },
                          { guard: 'cardNeedsPin', target: 'awaitingPin', actions: 'keepCard' },
                          { target: PROCESSED, actions: 'keepCard' },
                        ],
                      },
                    },

                    /** GCR answered 020: load the tables, then resume the same GCR (§3.6.1, §6.8.1.2). */
                    reloadingTables: {
                      // A second 020 passes through to paymentFailed: the owner hears of removingCard.
                      entry: enqueueActions(({ check, enqueue }) => {
                        if (!check('alreadyReloaded')) enqueue(step('reloadingTables'))
                      }),
                      always: {
                        guard: 'alreadyReloaded',
                        target: PAYMENT_FAILED,
                        actions: assign({
                          payment: ({ context }) => ({
                            ...context.payment!,
                            result: {
                              status: 'errored',
                              error_code: 20,
                              error: { ...coded(new TablesOutdatedError()), abecsStatus: 20 },
                            },
                          }),
                        }),
                      },
                      invoke: {
                        id: 'syncTables',
                        src: 'syncTables',
                        input: syncInput(true),
                        onDone: {
                          target: 'awaitingCard',
                          actions: assign({
                            tablesVersion: ({ event }) => event.output.tablesVersion,
                            payment: ({ context }) => ({ ...context.payment!, tablesReloaded: true }),
                          }),
                        },
                      },
                    },

                    onChip: {
                      entry: step('onChip'),
                      invoke: {
                        id: 'goOnChip',
                        src: 'goOnChip',
                        input: cardInput,
                        onDone: { target: PROCESSED, actions: assign({ payment: ({ context, event }) => ({ ...context.payment!, chip: event.output }) }) },
                      },
                    },

                    awaitingPin: {
                      entry: step('awaitingPin'),
                      invoke: { id: 'capturePin', src: 'capturePin', input: cardInput, onDone: PROCESSED },
                    },
                  },
                },

                /** The card data is read: once the key is there it leaves as the card hash, and the payment is answered. */
                processed: {
                  entry: step('processed'),
                  initial: 'waitingForKey',
                  states: {
                    waitingForKey: { always: { guard: 'keyReady', target: 'hashing' } },
                    hashing: {
                      invoke: {
                        id: 'buildCardHash',
                        src: 'buildCardHash',
                        input: ({ context }) => ({ cardRef: context.payment!.cardRef!, key: context.payment!.key! }),
                        onDone: {
                          target: AWAITING_FINISH,
                          actions: enqueueActions(({ context, event, enqueue }) => {
                            const p = context.payment!
                            const result: PaymentResult = {
                              status: p.chip?.decision === 'declined' ? 'rejected' : 'accepted',
                              card_hash: event.output.cardHash,
                              payment_method: p.card!.paymentMethod,
                              is_online_pin: p.chip ? p.chip.pin === 'online' : p.card!.needsPin,
                              ...(p.card!.holderName ? { card_holder_name: p.card!.holderName } : {}),
                            }
                            // The card hash goes to the owner, never into the context (nor a snapshot).
                            enqueue({ type: 'reportPayment', params: result })
                            enqueue.assign({ payment: { ...p, result: { status: result.status } } })
                          }),
                        },
                      },
                    },
                  },
                },
              },
            },

            /**
             * The acquirer's key for the card hash: the one kept from an earlier payment of this
             * pinpad session while it is good (no request), else asked for while the pinpad waits
             * for the card.
             */
            cardHashKey: {
              initial: 'checking',
              states: {
                checking: { always: [{ guard: 'keyKept', target: 'fetched', actions: 'useKeptKey' }, { target: 'fetching' }] },
                fetching: {
                  invoke: {
                    id: 'fetchCardHashKey',
                    src: 'fetchCardHashKey',
                    input: ({ context }) => ({ encryptionKey: context.connect.encryptionKey, pinpad: context.pinpad! }),
                    onDone: {
                      target: 'fetched',
                      actions: assign({ payment: ({ context, event }) => ({ ...context.payment!, key: event.output }), cardHashKey: ({ event }) => event.output }),
                    },
                  },
                },
                fetched: {},
              },
            },
          },
        },

        /** finish_payment is obligatory (bridge-facts): it completes the chip transaction. */
        awaitingFinish: {
          entry: step('awaitingFinish'),
          on: {
            FINISH_PAYMENT: [
              { guard: 'chipWentOnline', target: 'finishing' },
              { guard: 'cardInSlot', target: 'removingCard', actions: { type: 'tellOwner', params: ({ context, event }) => finished(context, event) } },
              { target: 'ready', actions: { type: 'tellOwner', params: ({ context, event }) => finished(context, event) } },
            ],
            CANCEL: [
              { guard: 'cardInSlot', target: 'removingCard', actions: { type: 'tellOwner', params: { type: 'DEVICE.FINISHED' } } },
              { target: 'ready', actions: { type: 'tellOwner', params: { type: 'DEVICE.FINISHED' } } },
            ],
          },
        },

        finishing: {
          entry: [
            assign({
              payment: ({ context, event }) => {
                const { type: _, ...finish } = event as Extract<DeviceEvent, { type: 'FINISH_PAYMENT' }>
                return { ...context.payment!, finish }
              },
            }),
            step('finishing'),
          ],
          invoke: {
            id: 'finishChip',
            src: 'finishChip',
            input: ({ context }) => ({
              pinpad: context.pinpad!,
              cardRef: context.payment!.cardRef!,
              contactless: context.payment!.card!.contactless,
              finish: context.payment!.finish!,
            }),
            onDone: [
              { guard: 'cardInSlot', target: 'removingCard', actions: { type: 'tellOwner', params: ({ context, event }) => finishedOnChip(context, event.output.approved) } },
              { target: 'ready', actions: { type: 'tellOwner', params: ({ context, event }) => finishedOnChip(context, event.output.approved) } },
            ],
            onError: [
              { guard: 'cardInSlot', target: 'removingCard', actions: { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.FINISHED', error: errorValue(event.error) }) } },
              { target: 'ready', actions: { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.FINISHED', error: errorValue(event.error) }) } },
            ],
          },
          // FCX blocks only while a contactless card must be presented again (§3.7.4).
          after: {
            customerDeadline: {
              target: 'cancelling',
              actions: { type: 'tellOwner', params: ({ context }) => ({ type: 'DEVICE.FINISHED', error: timeoutResult(context.payment?.timeoutMs ?? DEFAULT_PAYMENT_TIMEOUT_MS).error }) },
            },
          },
        },

        removingCard: {
          entry: step('removingCard'),
          invoke: { id: 'removeCard', src: 'removeCard', input: pinpadInput, onDone: 'ready', onError: 'ready' },
          // A card left in the slot: RMC is cancelled (the next read uses or refuses it, §6.8.1).
          after: { customerDeadline: 'cancelling' },
          on: { CANCEL: 'cancelling' },
        },

        /** A payment ended without a card hash: answer it, drop the card, ask for it back if in the slot. */
        paymentFailed: {
          entry: [
            enqueueActions(({ context, enqueue }) => {
              if (context.payment?.result) enqueue({ type: 'reportPayment', params: context.payment.result })
            }),
            { type: 'dropCard', params: ({ context }) => context.payment?.cardRef },
          ],
          // RMC returns at once when no card is in the slot (§6.5.14), so it is always safe.
          always: 'removingCard',
        },

        /**
         * Leaving the blocking state stopped its actor, which sent CAN; this waits for the EOT so
         * the link is free before the idle screen (§2.2.2.3).
         */
        cancelling: {
          entry: [{ type: 'endPayment', params: canceled('The payment was cancelled') }, { type: 'dropCard', params: ({ context }) => context.payment?.cardRef }, step('cancelling')],
          invoke: { id: 'cancelPinpad', src: 'cancelPinpad', input: pinpadInput, onDone: 'ready', onError: '#device.unresponsive' },
        },

        /**
         * The customer's time passed: the step's actor was stopped (CAN); once the pinpad confirms
         * (EOT) the payment is answered with the timeout, and a card in the slot is asked back.
         */
        timingOut: {
          entry: step('timingOut'),
          invoke: {
            id: 'cancelPinpad',
            src: 'cancelPinpad',
            input: pinpadInput,
            onDone: {
              target: 'paymentFailed',
              actions: assign({ payment: ({ context }) => ({ ...context.payment!, result: timeoutResult(context.payment!.timeoutMs) }) }),
            },
            onError: '#device.unresponsive',
          },
        },
      },
    },

    /**
     * No EOT to CAN (§2.2.2.3): the pinpad is hung or out of reach with its port still open. What
     * ran is answered MPOS_ERR_DEVICE_TIMEOUT, the port is closed without a word to the pinpad,
     * and the owner lets the device go (a new initialize opens it again).
     */
    unresponsive: {
      entry: [
        { type: 'endPayment', params: () => ({ status: 'errored', error: unresponsiveError() }) },
        { type: 'dropCard', params: ({ context }) => context.payment?.cardRef },
        { type: 'abandonLink', params: ({ context }) => context.pinpad! },
        assign({ error: () => unresponsiveError() }),
      ],
      always: 'gone',
    },

    closing: {
      entry: step('closing'),
      invoke: {
        id: 'closeLink',
        src: 'closeLink',
        input: ({ context, event }) => ({ pinpad: context.pinpad!, message: (event as { message?: string }).message ?? '' }),
        onDone: 'closed',
        onError: 'closed',
      },
      on: { 'LINK.CLOSED': 'closed' },
    },

    closed: { type: 'final' },
    connectFailed: { type: 'final', output: ({ context }) => ({ kind: 'connectFailed', error: context.error! }) },
    lost: { type: 'final', output: ({ context }) => ({ kind: 'lost', reason: context.lostReason ?? 'disconnected' }) },
    gone: { type: 'final', output: () => ({ kind: 'unresponsive', error: unresponsiveError() }) },
  },
})
