/**
 * The device machine's values: the results it reports (timeouts, cancellations, failed steps,
 * finishes), the inputs it hands its invoked actors, and the step the outside world sees.
 */
import { fromPromise } from 'xstate'
import { acquirerApproved, coded, errorValue, type ErrorValue, type FinishRequest, type PaymentResult } from './types.js'
import type { CardInput, DeviceContext, DeviceNotice, InputPromptInput, MenuInput, PaymentState, PinpadInput, PromptState, SyncInput } from './device-types.js'
import { DeviceUnresponsiveError, NotProvidedError, PaymentCanceledError, PaymentTimeoutError, PromptCanceledError, PromptTimeoutError } from '../src/errors.js'

/** Placeholder for an actor src/ must provide; it fails loudly if someone forgot. */
export const required = <I, O>(name: string) =>
  fromPromise<O, I>(async () => {
    throw new NotProvidedError(name)
  })

export const CANCELLED = 13 // ST_CANCEL (§3.1.1): the cardholder pressed CANCEL
export const TIMED_OUT = 12 // ST_TIMEOUT (§3.1.1): SPE_TIMEOUT passed without the cardholder's action

/**
 * The host's deadline runs this much beyond the customer's time, so that a 2.x pinpad reports
 * ST_TIMEOUT itself first (SPE_TIMEOUT is whole seconds, rounded up).
 */
export const DEADLINE_GRACE_MS = 2000

/** The payment ran out of the customer's time (by the pinpad's ST_TIMEOUT or the host's deadline). */
export const timeoutResult = (timeoutMs: number): PaymentResult => ({
  status: 'errored',
  error_code: TIMED_OUT,
  error: { ...coded(new PaymentTimeoutError(timeoutMs)), abecsStatus: TIMED_OUT },
})

/** The pinpad did not confirm a cancellation: it is declared unresponsive. */
export const unresponsiveError = (): ErrorValue => coded(new DeviceUnresponsiveError())

export const canceled = (message: string): PaymentResult => ({ status: 'canceled', error: coded(new PaymentCanceledError(message)) })

/** A failed step: 013 (cardholder CANCEL) is "canceled", 012 the payment's timeout, else "errored" with the ABECS code. */
export function failedResult(p: PaymentState, err: unknown): PaymentResult {
  const error = errorValue(err)
  if (error.abecsStatus === TIMED_OUT) return timeoutResult(p.timeoutMs)
  return {
    status: error.abecsStatus === CANCELLED ? 'canceled' : 'errored',
    ...(error.abecsStatus !== undefined ? { error_code: error.abecsStatus } : {}),
    error,
  }
}

/** finish_payment without a chip step left: the acquirer's word decides, or the chip's offline decision. */
export function finished(context: DeviceContext, finish: FinishRequest): DeviceNotice {
  const chip = context.payment?.chip
  return { type: 'DEVICE.FINISHED', result: { approved: chip ? chip.decision === 'approved' : acquirerApproved(finish) } }
}

/** FCX/FNC ran: the card's final decision; a refusal after the acquirer's approval must be reversed. */
export function finishedOnChip(context: DeviceContext, approved: boolean): DeviceNotice {
  const finish = context.payment?.finish
  const cardDeclined = !approved && finish !== undefined && acquirerApproved(finish)
  return { type: 'DEVICE.FINISHED', result: { approved, ...(cardDeclined ? { card_declined: true } : {}) } }
}

// Customer prompts (pinpad_menu: MNU §3.3.13; pinpad_input: GCD §3.3.8).

type Prompt = PromptState & { timeoutMs: number }
const promptWhat = (p: Prompt | undefined) => (p?.kind === 'input' ? 'prompt' : 'menu')
const promptCommand = (p: Prompt | undefined) => (p?.kind === 'input' ? 'GCD' : 'MNU')

/** The customer's time for the prompt ran out (the pinpad's ST_TIMEOUT, or the host's deadline). */
export function promptTimeout(p: Prompt | undefined): DeviceNotice {
  return { type: 'DEVICE.PROMPTED', error: { ...coded(new PromptTimeoutError(promptWhat(p), p?.timeoutMs ?? 0)), abecsStatus: TIMED_OUT } }
}

/** The prompt was cancelled from the POS (`cancel`): the command is cancelled on the wire. */
export function promptCancelled(p: Prompt | undefined): DeviceNotice {
  return { type: 'DEVICE.PROMPTED', error: coded(new PromptCanceledError(`The ${promptWhat(p)} was cancelled by a cancel request (CAN sent to the pinpad)`)) }
}

/** The prompt's command failed: 013 is the customer's CANCELA, 012 the timeout, anything else as it is. */
export function promptFailed(p: Prompt | undefined, err: unknown): DeviceNotice {
  const error = errorValue(err)
  if (error.abecsStatus === TIMED_OUT) return promptTimeout(p)
  if (error.abecsStatus === CANCELLED) {
    const message = `The customer pressed CANCELA on the pinpad (${promptCommand(p)} answered 013 ST_CANCEL)`
    return { type: 'DEVICE.PROMPTED', error: { ...coded(new PromptCanceledError(message)), abecsStatus: CANCELLED } }
  }
  return { type: 'DEVICE.PROMPTED', error }
}

// Inputs of the invoked actors, built from the context.
export const pinpadInput = ({ context }: { context: DeviceContext }): PinpadInput => ({ pinpad: context.pinpad! })
export const cardInput = ({ context }: { context: DeviceContext }): CardInput => ({ pinpad: context.pinpad!, cardRef: context.payment!.cardRef!, amount: context.payment!.amount })
export const syncInput =
  (force: boolean) =>
  ({ context }: { context: DeviceContext }): SyncInput => ({ pinpad: context.pinpad!, encryptionKey: context.connect.encryptionKey, force })

export const menuInput = ({ context }: { context: DeviceContext }): MenuInput => {
  const { kind: _, ...menu } = context.prompt as Extract<Prompt, { kind: 'menu' }>
  return { pinpad: context.pinpad!, menu }
}
export const inputPromptInput = ({ context }: { context: DeviceContext }): InputPromptInput => {
  const { kind: _, ...input } = context.prompt as Extract<Prompt, { kind: 'input' }>
  return { pinpad: context.pinpad!, input }
}

/** Where the payment's steps jump to. */
export const PAYMENT_FAILED = '#device.connected.paymentFailed'
export const PROCESSED = '#device.connected.payment.steps.processed'
export const AWAITING_FINISH = '#device.connected.awaitingFinish'


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
