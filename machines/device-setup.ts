/**
 * The device machine's setup: its types, the invoked actors src/ supplies (placeholders that fail
 * loudly until provided), and the actions, guards and delays its chart (device.machine.ts) names.
 */
import { assign, enqueueActions, fromCallback, setup } from 'xstate'
import {
  DEFAULT_PAYMENT_TIMEOUT_MS,
  DEFAULT_PROMPT_TIMEOUT_MS,
  type ChipOutput,
  type InputResult,
  type MenuResult,
  type PaymentResult,
  type PinpadHandle,
  type ReadCardOutput,
  type CardHashKeyRef,
} from './types.js'
import type {
  CardInput,
  DeviceContext,
  DeviceEnd,
  DeviceEvent,
  DeviceInput,
  DeviceNotice,
  FinishInput,
  HashInput,
  InputPromptInput,
  KeyInput,
  MenuInput,
  MessageInput,
  OpenInput,
  PinpadInput,
  PublicStep,
  ReadCardInput,
  SyncInput,
} from './device-types.js'
import { DEADLINE_GRACE_MS, failedResult, required } from './device-values.js'


export const deviceSetup = setup({
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
    /** MNU: the customer picks an option (pinpad_menu). */
    chooseOption: required<MenuInput, MenuResult>('chooseOption'),
    /** GCD: the customer types clear data under a fixed message (pinpad_input). */
    enterData: required<InputPromptInput, InputResult>('enterData'),
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
    /** A prompt starts: its request and the customer's time (the payment's is gone in ready). */
    startPrompt: assign({
      prompt: ({ event }) => {
        if (event.type === 'PROMPT_MENU') {
          const { type: _, ...menu } = event
          return { kind: 'menu' as const, ...menu, timeoutMs: menu.timeout_milliseconds ?? DEFAULT_PROMPT_TIMEOUT_MS }
        }
        const { type: _, ...input } = event as Extract<DeviceEvent, { type: 'PROMPT_INPUT' }>
        return { kind: 'input' as const, ...input, timeoutMs: input.timeout_milliseconds ?? DEFAULT_PROMPT_TIMEOUT_MS }
      },
    }),
    keepCard: assign({
      payment: ({ context, event }) => {
        const out = (event as unknown as { output: Extract<ReadCardOutput, { kind: 'card' }> }).output
        return { ...context.payment!, cardRef: out.cardRef, card: out.card }
      },
    }),
    /** The payment takes the key kept from an earlier one (see `keyKept`). */
    useKeptKey: assign({ payment: ({ context }) => ({ ...context.payment!, key: context.cardHashKey! }) }),
    failPayment: assign({
      payment: ({ context, event }) => ({ ...context.payment!, result: failedResult(context.payment!, (event as unknown as { error: unknown }).error) }),
    }),
    tellOwner: enqueueActions(({ context, enqueue }, notice: DeviceNotice) => {
      if (context.owner) enqueue.sendTo(context.owner, notice)
    }),
    /** Tells the owner the step it now rests in: the last action of the entry (see DEVICE.STEP). */
    tellStep: enqueueActions(({ context, enqueue }, step: PublicStep) => {
      if (context.owner) enqueue.sendTo(context.owner, { type: 'DEVICE.STEP', step } satisfies DeviceNotice)
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
    /**
     * Provided by src/: the key kept from an earlier payment may still be used (the acquirer's keys
     * are short-lived; one a card hash could not be made with is never used again). Without src/,
     * never: each payment fetches its key.
     */
    keyKept: () => false,
    chipWentOnline: ({ context }) => context.payment?.chip?.decision === 'online',
    cardInSlot: ({ context }) => context.payment?.card?.chip === true && !context.payment.card.contactless,
  },
  delays: {
    /**
     * The customer's time (the payment's, or the prompt's while one runs: ready forgets the
     * payment), then the grace for the pinpad's own ST_TIMEOUT.
     */
    customerDeadline: ({ context }) => (context.payment?.timeoutMs ?? context.prompt?.timeoutMs ?? DEFAULT_PAYMENT_TIMEOUT_MS) + DEADLINE_GRACE_MS,
  },
})
