/**
 * One actor per open pinpad: connect → initialized (tables in sync) → awaiting card → chip / PIN
 * → processed (card hash) → finishing → removing card → ready. Every pinpad step is an invoked
 * actor supplied by src/ through `.provide()`: leaving a state stops its actor, whose AbortSignal
 * cancels the command on the wire (CAN/EOT, §2.2.2.3).
 *
 * No wait is endless: what the customer does (present a card, type the PIN, take the card back)
 * has the payment's `timeout_milliseconds` (the pinpad's own SPE_TIMEOUT on 2.x, §3.7.1/§3.7.3,
 * and this machine's deadline a little beyond it); past it the command is cancelled on the wire,
 * and a pinpad that does not even answer the CAN is declared unresponsive and let go.
 */
import { assign, enqueueActions, fromCallback, fromPromise, setup, type AnyActorRef } from 'xstate'
import {
  acquirerApproved,
  DEFAULT_PAYMENT_TIMEOUT_MS,
  errorValue,
  type FinishResult,
  type ChipOutput,
  type ErrorValue,
  type FinishRequest,
  type PaymentRequest,
  type PaymentResult,
  type PinpadIdentity,
  type ReadCardOutput,
  type CardSummary,
} from './types.js'

export interface ConnectParams {
  encryptionKey: string
  /** Skip the EMV table sync (initialize's `simple_initialize`). */
  simpleInitialize?: boolean
  /** Fail when the port does not answer within this time (initialize's `timeout_milliseconds`). */
  timeoutMs?: number
  baudRate?: number
}

export type DeviceEvent =
  | ({ type: 'CONNECT' } & ConnectParams)
  | ({ type: 'PROCESS_PAYMENT' } & PaymentRequest)
  | ({ type: 'FINISH_PAYMENT' } & FinishRequest)
  | { type: 'CANCEL' }
  | { type: 'DISPLAY_MESSAGE'; message: string }
  | { type: 'CLOSE'; message?: string }
  /** From the link watcher: the port went away (unplugged, I/O error). */
  | { type: 'LINK.CLOSED'; reason: string }
  /** From the link watcher: an NTM notification or prompt of the pinpad (§2.3.3). */
  | { type: 'PINPAD.PROMPT'; message: string }

/** What the device tells its owner (the context actor). */
export type DeviceNotice =
  | { type: 'DEVICE.CONNECTED'; identity: PinpadIdentity; tablesVersion?: string }
  | { type: 'DEVICE.CONNECT_FAILED'; error: ErrorValue }
  | { type: 'DEVICE.PAYMENT_RESULT'; result: PaymentResult }
  | { type: 'DEVICE.FINISHED'; error?: ErrorValue; result?: FinishResult }
  | { type: 'DEVICE.DISPLAYED'; error?: ErrorValue }
  | { type: 'DEVICE.CLOSED' }
  /** The link is gone: unplugged (`error` absent) or closed because the pinpad stopped answering. */
  | { type: 'DEVICE.DISCONNECTED'; reason: string; error?: ErrorValue }
  | { type: 'DEVICE.PROMPT'; message: string }
  | { type: 'DEVICE.STATE'; state: string }

export interface PaymentState extends PaymentRequest {
  /** How long the customer may take (timeout_milliseconds, or the default). */
  timeoutMs: number
  /** finish_payment's request, while the chip finishes. */
  finish?: FinishRequest
  cardRef?: string
  card?: CardSummary
  chip?: ChipOutput
  /** The GCR was answered 020 once already (a second 020 is an error, not a loop). */
  tablesReloaded?: boolean
  result?: PaymentResult
}

export interface DeviceContext {
  deviceId: string
  owner?: AnyActorRef
  connect?: ConnectParams
  identity?: PinpadIdentity
  tablesVersion?: string
  payment?: PaymentState
  error?: ErrorValue
  disconnectReason?: string
}

export interface DeviceInput {
  deviceId: string
  owner?: AnyActorRef
}

// Inputs of the invoked actors.
export interface LinkInput {
  deviceId: string
}
export interface OpenInput extends LinkInput, ConnectParams {}
export interface SyncInput extends LinkInput {
  encryptionKey: string
  identity: PinpadIdentity
  /** Load even if the versions match (after GCR answered 020). */
  force: boolean
}
export interface ReadCardInput extends LinkInput {
  identity: PinpadIdentity
  encryptionKey: string
  payment: PaymentRequest
  /** Resume the GCR that answered 020 (an empty GCR, §3.6.1). */
  resume: boolean
}
export interface CardInput extends LinkInput {
  identity: PinpadIdentity
  cardRef: string
  amount: number
}
export interface HashInput extends LinkInput {
  cardRef: string
  encryptionKey: string
}
export interface FinishInput extends LinkInput {
  identity: PinpadIdentity
  cardRef: string
  contactless: boolean
  finish: FinishRequest
}
export interface MessageInput extends LinkInput {
  message: string
}


/** Placeholder for an actor src/ must provide; it fails loudly if someone forgot. */
const required = <I, O>(name: string) =>
  fromPromise<O, I>(async () => {
    throw Object.assign(new Error(`device actor "${name}" was not provided`), { code: 'MPOS_ERR_NOT_PROVIDED' })
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
  error: { code: 'MPOS_ERR_PAYMENT_TIMEOUT', message: `The customer did not complete the payment within ${timeoutMs} ms (012 ST_TIMEOUT)`, abecsStatus: TIMED_OUT },
})

/** The pinpad did not confirm a cancellation: it is declared unresponsive. */
const unresponsiveError = (): ErrorValue => ({
  code: 'MPOS_ERR_DEVICE_TIMEOUT',
  message: 'The pinpad stopped answering (no EOT to CAN): it was let go; initialize again once it is back',
})

/** State paths the payment's steps jump to. */
const PAYMENT_FAILED = '#device.connected.paymentFailed'
const PROCESSED = '#device.connected.payment.processed'

// Inputs of the invoked actors, built from the context.
const linkInput = ({ context }: { context: DeviceContext }): LinkInput => ({ deviceId: context.deviceId })
const cardInput = ({ context }: { context: DeviceContext }): CardInput => ({
  deviceId: context.deviceId,
  identity: context.identity!,
  cardRef: context.payment!.cardRef!,
  amount: context.payment!.amount,
})
const syncInput =
  (force: boolean) =>
  ({ context }: { context: DeviceContext }): SyncInput => ({
    deviceId: context.deviceId,
    encryptionKey: context.connect!.encryptionKey,
    identity: context.identity!,
    force,
  })

/** finish_payment without a chip step left: the acquirer's word decides, or the chip's offline decision. */
function finished(context: DeviceContext, event: DeviceEvent): DeviceNotice {
  const finish = event as Extract<DeviceEvent, { type: 'FINISH_PAYMENT' }>
  const chip = context.payment?.chip
  const approved = chip ? chip.decision === 'approved' : acquirerApproved(finish)
  return { type: 'DEVICE.FINISHED', result: { approved } }
}

/** FCX/FNC ran: the card's final decision; a refusal after the acquirer's approval must be reversed. */
function finishedOnChip(context: DeviceContext, approved: boolean): DeviceNotice {
  const finish = context.payment?.finish
  const cardDeclined = !approved && finish !== undefined && acquirerApproved(finish)
  return { type: 'DEVICE.FINISHED', result: { approved, ...(cardDeclined ? { card_declined: true } : {}) } }
}

export const deviceMachine = setup({
  types: {
    context: {} as DeviceContext,
    events: {} as DeviceEvent,
    input: {} as DeviceInput,
  },
  actors: {
    /** Opens the port, CAN, OPN, GIN/GIX: who the pinpad is. */
    openLink: required<OpenInput, PinpadIdentity>('openLink'),
    /** Reports LINK.CLOSED and PINPAD.PROMPT while connected. */
    watchLink: fromCallback<DeviceEvent, LinkInput>(() => () => {}),
    /** Compares table versions and loads them (TLI/TLR/TLE) when they differ. */
    syncTables: required<SyncInput, { tablesVersion: string; loaded: boolean }>('syncTables'),
    showIdle: required<LinkInput, void>('showIdle'),
    /** GCX (or GCR on a 1.x pinpad) with amount and allowed applications. */
    readCard: required<ReadCardInput, ReadCardOutput>('readCard'),
    /** GOX/GOC: cardholder verification and the card's first decision. */
    goOnChip: required<CardInput, ChipOutput>('goOnChip'),
    /** GPN: online PIN for a magstripe card that needs one. */
    capturePin: required<CardInput, void>('capturePin'),
    /** Encrypts the card data for the acquirer and drops it. */
    buildCardHash: required<HashInput, { cardHash: string }>('buildCardHash'),
    /** FCX/FNC with the acquirer's answer. */
    finishChip: required<FinishInput, { approved: boolean }>('finishChip'),
    /** RMC: waits until the card leaves the slot. */
    removeCard: required<LinkInput, void>('removeCard'),
    /** Waits for the pinpad to confirm a cancellation (EOT) so the link is free again. */
    cancelPinpad: required<LinkInput, void>('cancelPinpad'),
    displayMessage: required<MessageInput, void>('displayMessage'),
    /** CLO with a message, then the port is closed (at once when abandoned). */
    closeLink: required<MessageInput, void>('closeLink'),
  },
  actions: {
    startPayment: assign({
      payment: ({ event }) => {
        const { type: _, ...request } = event as Extract<DeviceEvent, { type: 'PROCESS_PAYMENT' }>
        return { ...request, timeoutMs: request.timeout_milliseconds ?? DEFAULT_PAYMENT_TIMEOUT_MS }
      },
    }),
    notifyConnected: enqueueActions(({ context, enqueue }) => {
      if (!context.owner) return
      const notice: DeviceNotice = {
        type: 'DEVICE.CONNECTED',
        identity: context.identity!,
        ...(context.tablesVersion ? { tablesVersion: context.tablesVersion } : {}),
      }
      enqueue.sendTo(context.owner, notice)
    }),
    keepCard: assign({
      payment: ({ context, event }) => {
        const out = (event as unknown as { output: Extract<ReadCardOutput, { kind: 'card' }> }).output
        return { ...context.payment!, cardRef: out.cardRef, card: out.card }
      },
    }),
    /**
     * A failed step: 013 (cardholder CANCEL) is "canceled", 012 (SPE_TIMEOUT passed) the payment's
     * timeout, anything else "errored" with the ABECS code.
     */
    failPayment: assign({
      payment: ({ context, event }) => {
        const error = errorValue((event as unknown as { error: unknown }).error)
        const p = context.payment!
        if (error.abecsStatus === TIMED_OUT) return { ...p, result: timeoutResult(p.timeoutMs) }
        const result: PaymentResult = {
          status: error.abecsStatus === CANCELLED ? 'canceled' : 'errored',
          ...(error.abecsStatus !== undefined ? { error_code: error.abecsStatus } : {}),
          error,
        }
        return { ...p, result }
      },
    }),
    tellOwner: enqueueActions(({ context, enqueue }, notice: DeviceNotice) => {
      if (context.owner) enqueue.sendTo(context.owner, notice)
    }),
    reportPayment: enqueueActions(({ context, enqueue }, result: PaymentResult) => {
      if (context.owner) enqueue.sendTo(context.owner, { type: 'DEVICE.PAYMENT_RESULT', result } satisfies DeviceNotice)
    }),
    /** Provided by src/: closes the port of a pinpad that no longer answers, without a word to it. */
    abandonLink: enqueueActions((_, _deviceId: string) => {}),
    /** Provided by src/: forgets a card that never reached a card hash (an action: nothing to wait for). */
    dropCard: enqueueActions((_, _cardRef: string) => {}),
    announce: enqueueActions(({ context, enqueue }, state: string) => {
      if (context.owner) enqueue.sendTo(context.owner, { type: 'DEVICE.STATE', state } satisfies DeviceNotice)
    }),
  },
  guards: {
    isTablesOutdated: ({ event }) => (event as { output?: ReadCardOutput }).output?.kind === 'tables-outdated',
    alreadyReloaded: ({ context }) => context.payment?.tablesReloaded === true,
    skipsTableSync: ({ context }) => context.connect?.simpleInitialize === true,
    cardIsChip: ({ event }) => {
      const out = (event as { output?: ReadCardOutput }).output
      return out?.kind === 'card' && out.card.chip
    },
    cardNeedsPin: ({ event }) => {
      const out = (event as { output?: ReadCardOutput }).output
      return out?.kind === 'card' && out.card.needsPin
    },
    chipWentOnline: ({ context }) => context.payment?.chip?.decision === 'online',
    cardInSlot: ({ context }) => context.payment?.card?.chip === true && !context.payment.card.contactless,
  },
  delays: {
    /** The customer's time, then the grace for the pinpad's own ST_TIMEOUT. */
    customerDeadline: ({ context }) => (context.payment?.timeoutMs ?? DEFAULT_PAYMENT_TIMEOUT_MS) + DEADLINE_GRACE_MS,
  },
}).createMachine({
  id: 'device',
  context: ({ input }) => ({ deviceId: input.deviceId, ...(input.owner ? { owner: input.owner } : {}) }),
  initial: 'disconnected',
  states: {
    disconnected: {
      entry: { type: 'announce', params: 'disconnected' },
      on: {
        CONNECT: {
          target: 'connecting',
          actions: assign({
            connect: ({ event }) => {
              const { type: _, ...params } = event
              return params
            },
            error: undefined,
            disconnectReason: undefined,
          }),
        },
      },
    },

    connecting: {
      entry: { type: 'announce', params: 'connecting' },
      invoke: {
        id: 'openLink',
        src: 'openLink',
        input: ({ context }) => ({ deviceId: context.deviceId, ...context.connect! }),
        onDone: {
          target: 'connected',
          actions: assign({ identity: ({ event }) => event.output }),
        },
        onError: {
          target: 'disconnected',
          actions: [
            assign({ error: ({ event }) => errorValue(event.error) }),
            { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.CONNECT_FAILED', error: errorValue(event.error) }) },
          ],
        },
      },
      // Closed (shutdown) while the port is still being opened: stopping openLink cancels it; without
      // this the CLOSE was dropped and the owner waited for a DEVICE.CLOSED that never came.
      on: { CLOSE: 'closing' },
    },

    connected: {
      invoke: {
        id: 'watchLink',
        src: 'watchLink',
        input: linkInput,
      },
      on: {
        // Unplugged in any state: whatever ran fails, the device waits to be connected again.
        'LINK.CLOSED': {
          target: 'disconnected',
          actions: [
            enqueueActions(({ context, event, enqueue }) => {
              const payment = context.payment
              if (payment && !payment.result) {
                enqueue({
                  type: 'reportPayment',
                  params: { status: 'errored', error: { code: 'MPOS_ERR_LINK_CLOSED', message: `The pinpad was disconnected: ${event.reason}` } },
                })
              }
              if (payment?.cardRef) enqueue({ type: 'dropCard', params: payment.cardRef })
            }),
            assign({ disconnectReason: ({ event }) => event.reason, payment: undefined }),
            { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.DISCONNECTED', reason: event.reason }) },
          ],
        },
        'PINPAD.PROMPT': {
          actions: { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.PROMPT', message: event.message }) },
        },
        // close at any time (bridge-facts): a payment in flight is cancelled on the way out.
        CLOSE: {
          target: 'closing',
          actions: enqueueActions(({ context, enqueue }) => {
            const p = context.payment
            if (p && !p.result) {
              enqueue({ type: 'reportPayment', params: { status: 'canceled', error: { code: 'MPOS_ERR_PAYMENT_CANCELED', message: 'The context was closed' } } })
            }
            if (p?.cardRef) enqueue({ type: 'dropCard', params: p.cardRef })
          }),
        },
      },
      initial: 'syncingTables',
      states: {
        syncingTables: {
          entry: { type: 'announce', params: 'syncingTables' },
          always: { guard: 'skipsTableSync', target: 'ready', actions: 'notifyConnected' },
          invoke: {
            id: 'syncTables',
            src: 'syncTables',
            input: syncInput(false),
            onDone: {
              target: 'ready',
              actions: [assign({ tablesVersion: ({ event }) => event.output.tablesVersion }), 'notifyConnected'],
            },
            onError: {
              target: '#device.closing',
              actions: [
                assign({ error: ({ event }) => errorValue(event.error) }),
                { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.CONNECT_FAILED', error: errorValue(event.error) }) },
              ],
            },
          },
        },

        ready: {
          entry: [{ type: 'announce', params: 'ready' }, assign({ payment: undefined })],
          invoke: { id: 'showIdle', src: 'showIdle', input: linkInput, onError: {} },
          on: {
            PROCESS_PAYMENT: { target: 'payment', actions: 'startPayment' },
            DISPLAY_MESSAGE: 'displaying',
          },
        },

        displaying: {
          entry: { type: 'announce', params: 'displaying' },
          invoke: {
            id: 'displayMessage',
            src: 'displayMessage',
            input: ({ context, event }) => ({ deviceId: context.deviceId, message: (event as { message: string }).message }),
            onDone: { target: 'idle', actions: { type: 'tellOwner', params: { type: 'DEVICE.DISPLAYED' } } },
            onError: {
              target: 'idle',
              actions: { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.DISPLAYED', error: errorValue(event.error) }) },
            },
          },
        },

        /** Like ready, but the message just shown stays on the display. */
        idle: {
          entry: { type: 'announce', params: 'ready' },
          on: {
            PROCESS_PAYMENT: { target: 'payment', actions: 'startPayment' },
            DISPLAY_MESSAGE: 'displaying',
          },
        },

        /** From the card read to the card hash: CANCEL at any step cancels on the wire (CAN/EOT). */
        payment: {
          on: { CANCEL: '#device.connected.cancelling' },
          initial: 'cardholder',
          states: {
            /** The steps that wait for the customer: bounded by the payment's timeout. */
            cardholder: {
              after: { customerDeadline: '#device.connected.timingOut' },
              initial: 'awaitingCard',
              states: {
                awaitingCard: {
                  entry: { type: 'announce', params: 'awaitingCard' },
                  invoke: {
                    id: 'readCard',
                    src: 'readCard',
                    input: ({ context }) => ({
                      deviceId: context.deviceId,
                      identity: context.identity!,
                      encryptionKey: context.connect!.encryptionKey,
                      payment: context.payment!,
                      resume: context.payment!.tablesReloaded === true,
                    }),
                    onDone: [
                      { guard: 'isTablesOutdated', target: 'reloadingTables' },
                      { guard: 'cardIsChip', target: 'onChip', actions: 'keepCard' },
                      { guard: 'cardNeedsPin', target: 'awaitingPin', actions: 'keepCard' },
                      { target: PROCESSED, actions: 'keepCard' },
                    ],
                    onError: { target: PAYMENT_FAILED, actions: 'failPayment' },
                  },
                },

                /** GCR answered 020: load the tables, then resume the same GCR (§3.6.1, §6.8.1.2). */
                reloadingTables: {
                  entry: { type: 'announce', params: 'reloadingTables' },
                  always: {
                    guard: 'alreadyReloaded',
                    target: PAYMENT_FAILED,
                    actions: assign({
                      payment: ({ context }) => ({
                        ...context.payment!,
                        result: {
                          status: 'errored',
                          error_code: 20,
                          error: { code: 'MPOS_ERR_TABLES_OUTDATED', message: 'The pinpad still reports other EMV tables after a reload (020)', abecsStatus: 20 },
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
                    onError: { target: PAYMENT_FAILED, actions: 'failPayment' },
                  },
                },

                onChip: {
                  entry: { type: 'announce', params: 'onChip' },
                  invoke: {
                    id: 'goOnChip',
                    src: 'goOnChip',
                    input: cardInput,
                    onDone: {
                      target: PROCESSED,
                      actions: assign({ payment: ({ context, event }) => ({ ...context.payment!, chip: event.output }) }),
                    },
                    onError: { target: PAYMENT_FAILED, actions: 'failPayment' },
                  },
                },

                awaitingPin: {
                  entry: { type: 'announce', params: 'awaitingPin' },
                  invoke: {
                    id: 'capturePin',
                    src: 'capturePin',
                    input: cardInput,
                    onDone: PROCESSED,
                    onError: { target: PAYMENT_FAILED, actions: 'failPayment' },
                  },
                },
              },
            },

            /** The card data is read: it leaves as the card hash, and the payment is answered. */
            processed: {
              entry: { type: 'announce', params: 'processed' },
              invoke: {
                id: 'buildCardHash',
                src: 'buildCardHash',
                input: ({ context }) => ({
                  deviceId: context.deviceId,
                  cardRef: context.payment!.cardRef!,
                  encryptionKey: context.connect!.encryptionKey,
                }),
                onDone: {
                  target: '#device.connected.awaitingFinish',
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
                onError: { target: PAYMENT_FAILED, actions: 'failPayment' },
              },
            },
          },
        },

        /** finish_payment is obligatory (bridge-facts): it completes the chip transaction. */
        awaitingFinish: {
          entry: { type: 'announce', params: 'awaitingFinish' },
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
            { type: 'announce', params: 'finishing' },
            assign({
              payment: ({ context, event }) => {
                const { type: _, ...finish } = event as Extract<DeviceEvent, { type: 'FINISH_PAYMENT' }>
                return { ...context.payment!, finish }
              },
            }),
          ],
          invoke: {
            id: 'finishChip',
            src: 'finishChip',
            input: ({ context, event }) => {
              const { type: _, ...finish } = event as Extract<DeviceEvent, { type: 'FINISH_PAYMENT' }>
              return {
                deviceId: context.deviceId,
                identity: context.identity!,
                cardRef: context.payment!.cardRef!,
                contactless: context.payment!.card!.contactless,
                finish,
              }
            },
            onDone: [
              { guard: 'cardInSlot', target: 'removingCard', actions: { type: 'tellOwner', params: ({ context, event }) => finishedOnChip(context, event.output.approved) } },
              { target: 'ready', actions: { type: 'tellOwner', params: ({ context, event }) => finishedOnChip(context, event.output.approved) } },
            ],
            onError: [
              {
                guard: 'cardInSlot',
                target: 'removingCard',
                actions: { type: 'tellOwner', params: ({ event }) => ({ type: 'DEVICE.FINISHED', error: errorValue(event.error) }) },
              },
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
          entry: { type: 'announce', params: 'removingCard' },
          invoke: {
            id: 'removeCard',
            src: 'removeCard',
            input: linkInput,
            onDone: 'ready',
            onError: 'ready',
          },
          // A card left in the slot: RMC is cancelled (the next read uses or refuses it, §6.8.1).
          after: { customerDeadline: 'cancelling' },
          on: { CANCEL: 'cancelling' },
        },

        /** A payment ended without a card hash: answer it, drop the card, show idle. */
        paymentFailed: {
          entry: [
            { type: 'announce', params: 'paymentFailed' },
            enqueueActions(({ context, enqueue }) => {
              const p = context.payment
              if (p?.result) enqueue({ type: 'reportPayment', params: p.result })
              if (p?.cardRef) enqueue({ type: 'dropCard', params: p.cardRef })
            }),
          ],
          // RMC returns at once when no card is in the slot (§6.5.14), so it is always safe.
          always: 'removingCard',
        },

        /**
         * Leaving the blocking state stopped its actor, which sent CAN; this waits for the EOT so
         * the link is free before the idle screen (§2.2.2.3).
         */
        cancelling: {
          entry: [
            { type: 'announce', params: 'cancelling' },
            enqueueActions(({ context, enqueue }) => {
              const p = context.payment
              if (p && !p.result) {
                const result: PaymentResult = { status: 'canceled', error: { code: 'MPOS_ERR_PAYMENT_CANCELED', message: 'The payment was cancelled' } }
                enqueue({ type: 'reportPayment', params: result })
                enqueue.assign({ payment: { ...p, result } })
              }
              if (p?.cardRef) enqueue({ type: 'dropCard', params: p.cardRef })
            }),
          ],
          invoke: {
            id: 'cancelPinpad',
            src: 'cancelPinpad',
            input: linkInput,
            onDone: 'ready',
            onError: '#device.unresponsive',
          },
        },

        /**
         * The customer's time passed: the step's actor was stopped (CAN); once the pinpad confirms
         * (EOT) the payment is answered with the timeout, and a card in the slot is asked back.
         */
        timingOut: {
          entry: { type: 'announce', params: 'timingOut' },
          invoke: {
            id: 'cancelPinpad',
            src: 'cancelPinpad',
            input: linkInput,
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
        { type: 'announce', params: 'unresponsive' },
        { type: 'abandonLink', params: ({ context }) => context.deviceId },
        enqueueActions(({ context, enqueue }) => {
          const p = context.payment
          if (p && !p.result) {
            const result: PaymentResult = { status: 'errored', error: unresponsiveError() }
            enqueue({ type: 'reportPayment', params: result })
            enqueue.assign({ payment: { ...p, result } })
          }
          if (p?.cardRef) enqueue({ type: 'dropCard', params: p.cardRef })
        }),
      ],
      always: {
        target: 'disconnected',
        actions: [
          assign({ payment: undefined, error: () => unresponsiveError(), disconnectReason: 'the pinpad stopped answering' }),
          { type: 'tellOwner', params: () => ({ type: 'DEVICE.DISCONNECTED', reason: 'the pinpad stopped answering', error: unresponsiveError() }) },
        ],
      },
    },

    closing: {
      entry: { type: 'announce', params: 'closing' },
      invoke: {
        id: 'closeLink',
        src: 'closeLink',
        input: ({ context, event }) => ({ deviceId: context.deviceId, message: (event as { message?: string }).message ?? '' }),
        onDone: 'closed',
        onError: 'closed',
      },
      on: { 'LINK.CLOSED': 'closed' },
    },

    closed: {
      type: 'final',
      entry: [{ type: 'announce', params: 'closed' }, { type: 'tellOwner', params: { type: 'DEVICE.CLOSED' } }],
    },
  },
})
