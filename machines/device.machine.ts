/**
 * One actor per open pinpad, from opening its port to letting it go:
 *
 *   connecting → connected.syncingTables → ready ⇄ displaying / idle
 *                                        → payment (card read → chip / PIN → card hash, with the
 *                                          card-hash key fetched beside it) → awaitingFinish
 *                                        → finishing → removingCard → ready
 *   … → closing → closed  |  lost (unplugged)  |  unresponsive → gone (no EOT to CAN)
 *
 * Every pinpad step is an invoked actor supplied by src/ through `.provide()`: leaving a state
 * stops its actor, whose AbortSignal cancels the command on the wire (CAN/EOT, §2.2.2.3). The
 * open pinpad (link, client, identity, dialect) is the `openPinpad` actor's output and lives in
 * this actor's context for the connection's lifetime. The owner (the context actor) sees this
 * machine's state value (its snapshot), hears the results of what it asked (DEVICE.* notices) and
 * learns how it ended from its final state's output.
 *
 * No wait is endless: what the customer does (present a card, type the PIN, take the card back)
 * has the payment's `timeout_milliseconds` (the pinpad's own SPE_TIMEOUT on 2.x, §3.7.1/§3.7.3,
 * and this machine's deadline a little beyond it); past it the command is cancelled on the wire,
 * and a pinpad that does not even answer the CAN is declared unresponsive and let go.
 */
import { assign, enqueueActions, fromCallback, fromPromise, setup, type ActorRef } from 'xstate'
import {
  acquirerApproved,
  DEFAULT_PAYMENT_TIMEOUT_MS,
  coded,
  errorValue,
  type CardHashKeyRef,
  type CardSummary,
  type ChipOutput,
  type ErrorValue,
  type FinishRequest,
  type FinishResult,
  type PaymentRequest,
  type PaymentResult,
  type PinpadHandle,
  type PinpadIdentity,
  type ReadCardOutput,
} from './types.js'
import { DeviceUnresponsiveError, NotProvidedError, PaymentCanceledError, PaymentLinkLostError, PaymentTimeoutError, TablesOutdatedError } from '../src/errors.js'

export interface ConnectParams {
  encryptionKey: string
  /** Skip the EMV table sync (initialize's `simple_initialize`). */
  simpleInitialize?: boolean
  /** Fail when the port does not answer within this time (initialize's `timeout_milliseconds`). */
  timeoutMs?: number
  baudRate?: number
}

export type DeviceEvent =
  | ({ type: 'PROCESS_PAYMENT' } & PaymentRequest)
  | ({ type: 'FINISH_PAYMENT' } & FinishRequest)
  | { type: 'CANCEL' }
  | { type: 'DISPLAY_MESSAGE'; message: string }
  | { type: 'CLOSE'; message?: string }
  /** From the link watcher: the port went away (unplugged, I/O error). */
  | { type: 'LINK.CLOSED'; reason: string }
  /** From the link watcher: an NTM notification or prompt of the pinpad (§2.3.3). */
  | { type: 'PINPAD.PROMPT'; message: string }

/** What the device tells its owner: the results of what the owner asked, and the pinpad's prompts. */
export type DeviceNotice =
  | { type: 'DEVICE.CONNECTED'; identity: PinpadIdentity; tablesVersion?: string }
  | { type: 'DEVICE.PAYMENT_RESULT'; result: PaymentResult }
  | { type: 'DEVICE.FINISHED'; error?: ErrorValue; result?: FinishResult }
  | { type: 'DEVICE.DISPLAYED'; error?: ErrorValue }
  | { type: 'DEVICE.PROMPT'; message: string }

/** How the device actor ended (its final state's output, in the owner's `xstate.done.actor.device`). */
export type DeviceEnd =
  /** CLOSE answered (CLO sent), or the table sync failed after the port opened (`error`). */
  | { kind: 'closed'; error?: ErrorValue }
  /** The port could not be opened or the pinpad did not identify itself. */
  | { kind: 'connectFailed'; error: ErrorValue }
  /** The port went away: unplugged, Bluetooth lost. */
  | { kind: 'lost'; reason: string }
  /** No EOT to CAN: the pinpad was let go. */
  | { kind: 'unresponsive'; error: ErrorValue }

export interface PaymentState extends PaymentRequest {
  /** How long the customer may take (timeout_milliseconds, or the default). */
  timeoutMs: number
  /** finish_payment's request, while the chip finishes. */
  finish?: FinishRequest
  cardRef?: string
  card?: CardSummary
  chip?: ChipOutput
  /** The card-hash key, fetched while the pinpad waits for the card. */
  key?: CardHashKeyRef
  /** The GCR was answered 020 once already (a second 020 is an error, not a loop). */
  tablesReloaded?: boolean
  result?: PaymentResult
}

export interface DeviceContext {
  deviceId: number
  owner?: ActorRef<any, DeviceNotice>
  connect: ConnectParams
  /** The open pinpad (src/'s object: link, client, identity, dialect), once `openPinpad` is done. */
  pinpad?: PinpadHandle
  tablesVersion?: string
  payment?: PaymentState
  /** Why the device ended, when it did not end by CLOSE. */
  error?: ErrorValue
  /** Why the link went away (unplugged, I/O error). */
  lostReason?: string
}

export interface DeviceInput {
  deviceId: number
  owner?: ActorRef<any, DeviceNotice>
  connect: ConnectParams
}

// Inputs of the invoked actors: the open pinpad and what the step needs.
export interface OpenInput extends ConnectParams {
  deviceId: number
}
export interface PinpadInput {
  pinpad: PinpadHandle
}
export interface SyncInput extends PinpadInput {
  encryptionKey: string
  /** Load even if the versions match (after GCR answered 020). */
  force: boolean
}
export interface ReadCardInput extends PinpadInput {
  payment: PaymentState
  /** Resume the GCR that answered 020 (an empty GCR, §3.6.1). */
  resume: boolean
}
export interface CardInput extends PinpadInput {
  cardRef: string
  amount: number
}
export interface KeyInput {
  encryptionKey: string
}
export interface HashInput {
  cardRef: string
  key: CardHashKeyRef
}
export interface FinishInput extends PinpadInput {
  cardRef: string
  contactless: boolean
  finish: FinishRequest
}
export interface MessageInput extends PinpadInput {
  message: string
}

/** Placeholder for an actor src/ must provide; it fails loudly if someone forgot. */
const required = <I, O>(name: string) =>
  fromPromise<O, I>(async () => {
    throw new NotProvidedError(name)
  })

const CANCELLED = 13 // ST_CANCEL (§3.1.1): the cardholder pressed CANCEL
const TIMED_OUT = 12 // ST_TIMEOUT (§3.1.1): SPE_TIMEOUT passed without the cardholder's action

/**
 * The host's deadline runs this much beyond the customer's time, so that a 2.x pinpad reports
 * ST_TIMEOUT itself first (SPE_TIMEOUT is whole seconds, rounded up).
 */
export const DEADLINE_GRACE_MS = 2000

/** The payment ran out of the customer's time (by the pinpad's ST_TIMEOUT or the host's deadline). */
const timeoutResult = (timeoutMs: number): PaymentResult => ({
  status: 'errored',
  error_code: TIMED_OUT,
  error: { ...coded(new PaymentTimeoutError(timeoutMs)), abecsStatus: TIMED_OUT },
})

/** The pinpad did not confirm a cancellation: it is declared unresponsive. */
const unresponsiveError = (): ErrorValue => coded(new DeviceUnresponsiveError())

const canceled = (message: string): PaymentResult => ({ status: 'canceled', error: coded(new PaymentCanceledError(message)) })

/** A failed step: 013 (cardholder CANCEL) is "canceled", 012 the payment's timeout, else "errored" with the ABECS code. */
function failedResult(p: PaymentState, err: unknown): PaymentResult {
  const error = errorValue(err)
  if (error.abecsStatus === TIMED_OUT) return timeoutResult(p.timeoutMs)
  return {
    status: error.abecsStatus === CANCELLED ? 'canceled' : 'errored',
    ...(error.abecsStatus !== undefined ? { error_code: error.abecsStatus } : {}),
    error,
  }
}

/** finish_payment without a chip step left: the acquirer's word decides, or the chip's offline decision. */
function finished(context: DeviceContext, finish: FinishRequest): DeviceNotice {
  const chip = context.payment?.chip
  return { type: 'DEVICE.FINISHED', result: { approved: chip ? chip.decision === 'approved' : acquirerApproved(finish) } }
}

/** FCX/FNC ran: the card's final decision; a refusal after the acquirer's approval must be reversed. */
function finishedOnChip(context: DeviceContext, approved: boolean): DeviceNotice {
  const finish = context.payment?.finish
  const cardDeclined = !approved && finish !== undefined && acquirerApproved(finish)
  return { type: 'DEVICE.FINISHED', result: { approved, ...(cardDeclined ? { card_declined: true } : {}) } }
}

// Inputs of the invoked actors, built from the context.
const pinpadInput = ({ context }: { context: DeviceContext }): PinpadInput => ({ pinpad: context.pinpad! })
const cardInput = ({ context }: { context: DeviceContext }): CardInput => ({ pinpad: context.pinpad!, cardRef: context.payment!.cardRef!, amount: context.payment!.amount })
const syncInput =
  (force: boolean) =>
  ({ context }: { context: DeviceContext }): SyncInput => ({ pinpad: context.pinpad!, encryptionKey: context.connect.encryptionKey, force })

/** Where the payment's steps jump to. */
const PAYMENT_FAILED = '#device.connected.paymentFailed'
const PROCESSED = '#device.connected.payment.steps.processed'
const AWAITING_FINISH = '#device.connected.awaitingFinish'

export const deviceMachine = setup({
  types: {
    context: {} as DeviceContext,
    events: {} as DeviceEvent,
    input: {} as DeviceInput,
    output: {} as DeviceEnd,
  },
  actors: {
    /** Opens the port, CAN, OPN, GIN/GIX: the open pinpad (who it is, which dialect it speaks). */
    openPinpad: required<OpenInput, PinpadHandle>('openPinpad'),
    /** Reports LINK.CLOSED and PINPAD.PROMPT while connected. */
    watchLink: fromCallback<DeviceEvent, PinpadInput>(() => () => {}),
    /** Compares table versions and loads them (TLI/TLR/TLE) when they differ. */
    syncTables: required<SyncInput, { tablesVersion: string; loaded: boolean }>('syncTables'),
    showIdle: required<PinpadInput, void>('showIdle'),
    /** GCX (or GCR on a 1.x pinpad) with amount and allowed applications. */
    readCard: required<ReadCardInput, ReadCardOutput>('readCard'),
    /** The acquirer's key for this payment's card hash, asked for as the card read starts. */
    fetchCardHashKey: required<KeyInput, CardHashKeyRef>('fetchCardHashKey'),
    /** GOX/GOC: cardholder verification and the card's first decision. */
    goOnChip: required<CardInput, ChipOutput>('goOnChip'),
    /** GPN: online PIN for a magstripe card that needs one. */
    capturePin: required<CardInput, void>('capturePin'),
    /** Encrypts the card data for the acquirer and drops it. */
    buildCardHash: required<HashInput, { cardHash: string }>('buildCardHash'),
    /** FCX/FNC with the acquirer's answer. */
    finishChip: required<FinishInput, { approved: boolean }>('finishChip'),
    /** RMC: waits until the card leaves the slot. */
    removeCard: required<PinpadInput, void>('removeCard'),
    /** Waits for the pinpad to confirm a cancellation (EOT) so the link is free again. */
    cancelPinpad: required<PinpadInput, void>('cancelPinpad'),
    displayMessage: required<MessageInput, void>('displayMessage'),
    /** CLO with a message, then the port is closed. */
    closeLink: required<MessageInput, void>('closeLink'),
  },
  actions: {
    startPayment: assign({
      payment: ({ event }) => {
        const { type: _, ...request } = event as Extract<DeviceEvent, { type: 'PROCESS_PAYMENT' }>
        return { ...request, timeoutMs: request.timeout_milliseconds ?? DEFAULT_PAYMENT_TIMEOUT_MS }
      },
    }),
    keepCard: assign({
      payment: ({ context, event }) => {
        const out = (event as unknown as { output: Extract<ReadCardOutput, { kind: 'card' }> }).output
        return { ...context.payment!, cardRef: out.cardRef, card: out.card }
      },
    }),
    failPayment: assign({
      payment: ({ context, event }) => ({ ...context.payment!, result: failedResult(context.payment!, (event as unknown as { error: unknown }).error) }),
    }),
    tellOwner: enqueueActions(({ context, enqueue }, notice: DeviceNotice) => {
      if (context.owner) enqueue.sendTo(context.owner, notice)
    }),
    reportPayment: enqueueActions(({ context, enqueue }, result: PaymentResult) => {
      if (context.owner) enqueue.sendTo(context.owner, { type: 'DEVICE.PAYMENT_RESULT', result } satisfies DeviceNotice)
    }),
    /** A payment not yet answered is answered with `result`. */
    endPayment: enqueueActions(({ context, enqueue }, result: PaymentResult) => {
      const p = context.payment
      if (!p || p.result) return
      if (context.owner) enqueue.sendTo(context.owner, { type: 'DEVICE.PAYMENT_RESULT', result } satisfies DeviceNotice)
      enqueue.assign({ payment: { ...p, result } })
    }),
    /** Provided by src/: forgets a card that never reached a card hash (nothing to wait for). */
    dropCard: enqueueActions((_, _cardRef: string | undefined) => {}),
    /** Provided by src/: closes the port of a pinpad that no longer answers, without a word to it. */
    abandonLink: enqueueActions((_, _pinpad: PinpadHandle) => {}),
  },
  guards: {
    isTablesOutdated: ({ event }) => (event as { output?: ReadCardOutput }).output?.kind === 'tables-outdated',
    alreadyReloaded: ({ context }) => context.payment?.tablesReloaded === true,
    skipsTableSync: ({ context }) => context.connect.simpleInitialize === true,
    cardIsChip: ({ event }) => {
      const out = (event as { output?: ReadCardOutput }).output
      return out?.kind === 'card' && out.card.chip
    },
    cardNeedsPin: ({ event }) => {
      const out = (event as { output?: ReadCardOutput }).output
      return out?.kind === 'card' && out.card.needsPin
    },
    keyReady: ({ context }) => context.payment?.key !== undefined,
    chipWentOnline: ({ context }) => context.payment?.chip?.decision === 'online',
    cardInSlot: ({ context }) => context.payment?.card?.chip === true && !context.payment.card.contactless,
  },
  delays: {
    /** The customer's time, then the grace for the pinpad's own ST_TIMEOUT. */
    customerDeadline: ({ context }) => (context.payment?.timeoutMs ?? DEFAULT_PAYMENT_TIMEOUT_MS) + DEADLINE_GRACE_MS,
  },
}).createMachine({
  id: 'device',
  context: ({ input }) => ({ deviceId: input.deviceId, connect: input.connect, ...(input.owner ? { owner: input.owner } : {}) }),
  // The final state's own output when it has one (connectFailed, lost, gone), else closed.
  output: ({ context, event }) => ((event as { output?: DeviceEnd }).output ?? (context.error ? { kind: 'closed', error: context.error } : { kind: 'closed' })) as DeviceEnd,
  initial: 'connecting',
  states: {
    connecting: {
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
          entry: assign({ payment: undefined }),
          invoke: { id: 'showIdle', src: 'showIdle', input: pinpadInput, onError: {} },
          on: {
            PROCESS_PAYMENT: { target: 'payment', actions: 'startPayment' },
            DISPLAY_MESSAGE: 'displaying',
          },
        },

        displaying: {
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
          on: {
            PROCESS_PAYMENT: { target: 'payment', actions: 'startPayment' },
            DISPLAY_MESSAGE: 'displaying',
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
                      invoke: {
                        id: 'goOnChip',
                        src: 'goOnChip',
                        input: cardInput,
                        onDone: { target: PROCESSED, actions: assign({ payment: ({ context, event }) => ({ ...context.payment!, chip: event.output }) }) },
                      },
                    },

                    awaitingPin: {
                      invoke: { id: 'capturePin', src: 'capturePin', input: cardInput, onDone: PROCESSED },
                    },
                  },
                },

                /** The card data is read: once the key is there it leaves as the card hash, and the payment is answered. */
                processed: {
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

            /** The acquirer's key for the card hash, asked for while the pinpad waits for the card. */
            cardHashKey: {
              initial: 'fetching',
              states: {
                fetching: {
                  invoke: {
                    id: 'fetchCardHashKey',
                    src: 'fetchCardHashKey',
                    input: ({ context }) => ({ encryptionKey: context.connect.encryptionKey }),
                    onDone: { target: 'fetched', actions: assign({ payment: ({ context, event }) => ({ ...context.payment!, key: event.output }) }) },
                  },
                },
                fetched: {},
              },
            },
          },
        },

        /** finish_payment is obligatory (bridge-facts): it completes the chip transaction. */
        awaitingFinish: {
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
          entry: assign({
            payment: ({ context, event }) => {
              const { type: _, ...finish } = event as Extract<DeviceEvent, { type: 'FINISH_PAYMENT' }>
              return { ...context.payment!, finish }
            },
          }),
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
          entry: [{ type: 'endPayment', params: canceled('The payment was cancelled') }, { type: 'dropCard', params: ({ context }) => context.payment?.cardRef }],
          invoke: { id: 'cancelPinpad', src: 'cancelPinpad', input: pinpadInput, onDone: 'ready', onError: '#device.unresponsive' },
        },

        /**
         * The customer's time passed: the step's actor was stopped (CAN); once the pinpad confirms
         * (EOT) the payment is answered with the timeout, and a card in the slot is asked back.
         */
        timingOut: {
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

/**
 * The step of the device that the outside world sees: the leaf of its state value, in the
 * payment's `steps` region; `processed` whole (waiting for the key, then hashing).
 */
export function deviceStep(value: unknown): string {
  if (typeof value === 'string') return value
  const v = value as Record<string, unknown>
  if ('processed' in v) return 'processed'
  if ('steps' in v) return deviceStep(v.steps)
  return deviceStep(Object.values(v)[0])
}
