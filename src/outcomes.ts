/**
 * Test outcomes chosen by the cents of the amount, in the spirit of Stripe's simulated reader:
 * the virtual pinpad and the sandbox acquirer both read this table, so a test (or a person at a
 * demo) picks what happens by typing an amount. Any cents not listed behave as 00 (approved).
 */

/** What the virtual pinpad does differently. */
export type PinpadBehaviour =
  /** Nobody presents a card: GCR/GCX ends with 012 (ST_TIMEOUT). */
  | 'no-card'
  /** The cardholder presses CANCEL on the keypad: the running command ends with 013 (ST_CANCEL). */
  | 'cardholder-cancel'
  /** Chip cards verify the PIN offline (GOC_PINOFF / PP_GOXRES "xx1xxx"). */
  | 'offline-pin'
  /** Every card asks for an online PIN, magstripe included (GPN / GOC_PINONL). */
  | 'online-pin'
  /** The chip declines in GOC/GOX (decision 1). */
  | 'card-declines'
  /** The chip declines in FNC/FCX even though the acquirer approved. */
  | 'card-declines-after-online'
  /** Offline PIN: the card counts the wrong tries down to blocked (GOC_PBLOCKED 1) and declines. */
  | 'pin-tries-exceeded'
  /** Chip reading fails in a way that allows fallback: GCR/GCX ends with 076 (ST_ERRFALLBACK). */
  | 'chip-fallback'

export interface AmountOutcome {
  cents: number
  name: string
  description: string
  pinpad?: PinpadBehaviour
  /**
   * How the sandbox acquirer answers an authorization: its 4-digit `acquirer_response_code`
   * (ISO 8583 code, zero-padded; the last two digits are the EMV ARC sent to the chip).
   */
  acquirerResponseCode: string
}

export const AMOUNT_OUTCOMES: readonly AmountOutcome[] = [
  { cents: 0, name: 'approved', description: 'Approved online', acquirerResponseCode: '0000' },
  { cents: 1, name: 'call_issuer', description: 'Declined by the acquirer: refer to issuer', acquirerResponseCode: '0001' },
  { cents: 2, name: 'offline_pin', description: 'Chip cards verify the PIN offline; approved', pinpad: 'offline-pin', acquirerResponseCode: '0000' },
  { cents: 3, name: 'online_pin', description: 'Every card asks for an online PIN; approved', pinpad: 'online-pin', acquirerResponseCode: '0000' },
  { cents: 5, name: 'generic_decline', description: 'Declined by the acquirer: do not honour', acquirerResponseCode: '0005' },
  { cents: 12, name: 'no_card', description: 'Nobody presents a card: the pinpad times out (012)', pinpad: 'no-card', acquirerResponseCode: '0000' },
  { cents: 13, name: 'cardholder_cancel', description: 'The cardholder presses CANCEL on the pinpad (013)', pinpad: 'cardholder-cancel', acquirerResponseCode: '0000' },
  { cents: 51, name: 'insufficient_funds', description: 'Declined by the acquirer: insufficient funds', acquirerResponseCode: '0051' },
  { cents: 55, name: 'incorrect_pin', description: 'Online PIN asked; declined by the acquirer: incorrect PIN', pinpad: 'online-pin', acquirerResponseCode: '0055' },
  { cents: 65, name: 'withdrawal_limit', description: 'Declined by the acquirer: exceeds withdrawal limit', acquirerResponseCode: '0061' },
  { cents: 70, name: 'card_declines', description: 'The chip declines offline in GOC/GOX', pinpad: 'card-declines', acquirerResponseCode: '0000' },
  { cents: 71, name: 'card_declines_after_online', description: 'Approved online, then the chip declines in FNC/FCX', pinpad: 'card-declines-after-online', acquirerResponseCode: '0000' },
  { cents: 75, name: 'pin_tries_exceeded', description: 'Offline PIN tries exhausted: the chip blocks the PIN and declines', pinpad: 'pin-tries-exceeded', acquirerResponseCode: '0075' },
  { cents: 76, name: 'chip_fallback', description: 'Chip read fails with fallback to magstripe allowed (076)', pinpad: 'chip-fallback', acquirerResponseCode: '0000' },
  { cents: 91, name: 'issuer_unavailable', description: 'Declined by the acquirer: issuer unavailable', acquirerResponseCode: '0091' },
]

const BY_CENTS = new Map(AMOUNT_OUTCOMES.map((o) => [o.cents, o]))

export function outcomeForAmount(amount: number): AmountOutcome {
  return BY_CENTS.get(Math.abs(Math.trunc(amount)) % 100) ?? AMOUNT_OUTCOMES[0]!
}
