/**
 * What the pinpad told us about the card, kept only until the card hash is built
 * (see src/card/card-hash.ts). Never logged, never put in an event, error or snapshot.
 */
export type CaptureMethod = 'emv' | 'magstripe'
export type PaymentMethod = 'credit_card' | 'debit_card'

export interface CapturedPin {
  mode: 'online' | 'offline'
  /** Encrypted PIN block, hex (16 digits), online PIN only. */
  block?: string
  /** DUKPT KSN, hex (20 digits), online PIN only. */
  ksn?: string
}

export interface CapturedCard {
  /** `emv` for chip and contactless EMV; `magstripe` for swiped cards and contactless-as-magstripe. */
  captureMethod: CaptureMethod
  contactless: boolean
  paymentMethod: PaymentMethod
  pan: string
  /** Application expiration date as the pinpad gives it: YYMMDD (GCR_CARDEXP/PP_CARDEXP) or YYMM (track 2). */
  expiration: string
  /** Application PAN Sequence Number (5F34), as a number; 0 when the card has none. */
  panSequenceNumber: number
  /** Track 2 (or its chip equivalent, tag 57), without sentinels. */
  track2: string
  track1?: string
  track3?: string
  /** As on the card: "LAST/FIRST". */
  holderName?: string
  /** EMV data for the acquirer, hex TLV (EMV only). */
  emvData?: string
  /** Present when a PIN was captured. */
  pin?: CapturedPin
  /** Card brand as the tables name it (visa, mastercard, elo…), when known. */
  brand?: string
  applicationLabel?: string
}
