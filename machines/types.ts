/**
 * Plain data shared by the machines. No I/O types: the machines only see values, and card data
 * never enters them (a payment carries an opaque `cardRef` to the card, kept by src/).
 */
import { INTERNAL_ERROR_CODE } from '../src/errors.js'

/** A failure as a value: stable code, message, and the ABECS status when the pinpad gave one. */
export interface ErrorValue {
  code: string
  message: string
  /** RSP_STAT of the pinpad (§3.1.1), wire value. */
  abecsStatus?: number
}

export interface PinpadIdentity {
  manufacturer: string
  model: string
  serialNumber: string
  firmwareVersion: string
  specVersion: string
  contactless: boolean
  dukptKeys: number[]
  /** Speaks the "Abecs" TLV commands (spec 2.x): GCX/GOX/FCX instead of GCR/GOC/FNC. */
  abecs: boolean
}

/** The open pinpad as the machines see it: src/ keeps its link, client and dialect behind this. */
export interface PinpadHandle {
  readonly deviceId: number
  readonly identity: PinpadIdentity
}

/** The acquirer's public key for a card hash (public: no secret in it). */
export interface CardHashKeyRef {
  id: number | string
  /** RSA public key, PEM. */
  publicKey: string
}

export type PaymentMethod = 'credit_card' | 'debit_card'

export interface Application {
  brand: string
  payment_method: PaymentMethod
}

export interface PaymentRequest {
  amount: number
  applications?: Application[]
  magstripe_payment_method?: PaymentMethod
  /** How long the customer may take to present a card and type the PIN (5000–600000 ms). */
  timeout_milliseconds?: number
}

/** process_payment's `timeout_milliseconds` when absent. */
export const DEFAULT_PAYMENT_TIMEOUT_MS = 60_000

/**
 * pinpad_menu: a menu of 1–20 options (S..24 each, §3.1.3 SPE_MNUOPT) under an optional title
 * (SPE_DSPMSG, S..128), for the customer to pick one on the pinpad (MNU, §3.3.13).
 */
export interface MenuRequest {
  title?: string
  options: string[]
  /** How long the customer may take (1000–600000 ms, default 60000). */
  timeout_milliseconds?: number
}

/**
 * pinpad_input: clear data typed on the pinpad's keypad under one of the fixed messages of GCD's
 * table (§3.3.8), chosen by name — never free text (PCI).
 */
export interface InputRequest {
  /** The message's name (src/abecs/gcd-messages.ts, GCD_PROMPTS). */
  prompt: string
  /** SPE_MINDIG / SPE_MAXDIG: how many digits (0–32, default 0 and 32). */
  min_digits?: number
  max_digits?: number
  timeout_milliseconds?: number
}

/** pinpad_menu's answer: the option picked, by its index in `options` (from 0) and its text. */
export interface MenuResult {
  index: number
  option: string
}

/** pinpad_input's answer: what the customer typed (never logged, never kept in a machine's context). */
export interface InputResult {
  value: string
}

/** A prompt's `timeout_milliseconds` when absent. */
export const DEFAULT_PROMPT_TIMEOUT_MS = 60_000

export type PaymentStatus = 'accepted' | 'rejected' | 'errored' | 'canceled'

/** What process_payment answers (bridge-facts: status, card_hash, card_holder_name, payment_method, is_online_pin, error_code). */
export interface PaymentResult {
  status: PaymentStatus
  card_hash?: string
  card_holder_name?: string
  payment_method?: PaymentMethod
  is_online_pin?: boolean
  error_code?: number
  /** Why it failed, for errored/canceled (never card data). */
  error?: ErrorValue
}

export interface FinishRequest {
  /** Whether the acquirer answered. */
  success: boolean
  /** The acquirer's response code, e.g. "0000"; its last two characters are the EMV ARC. */
  response_code?: string
  /** Issuer EMV data (hex TLV: 91, 71, 72). */
  emv_data?: string
}

/** finish_payment's answer: did the transaction end approved, and did the chip refuse an approval. */
export interface FinishResult {
  approved: boolean
  /** The acquirer approved but the chip declined (FNC/FCX): the shop must reverse the authorization. */
  card_declined?: boolean
}

/** The acquirer approved when it answered with a code whose EMV ARC (its last two characters) is "00". */
export const acquirerApproved = (finish: FinishRequest): boolean => finish.success && (finish.response_code ?? '').slice(-2) === '00'

/** What the card read told us, without card data. */
export interface CardSummary {
  paymentMethod: PaymentMethod
  holderName?: string
  brand?: string
  contactless: boolean
  /** The card went through the chip (GOX/GOC and FCX/FNC apply). */
  chip: boolean
  /** A PIN must be captured with GPN (magstripe debit). */
  needsPin: boolean
}

export type ReadCardOutput =
  | { kind: 'card'; cardRef: string; card: CardSummary }
  /** GCR answered ST_TABVERDIF (020): reload the tables, then send GCR again (§3.6.1). */
  | { kind: 'tables-outdated' }

export interface ChipOutput {
  /** First GENERATE AC: approved offline, declined by the card, or go online. */
  decision: 'approved' | 'declined' | 'online'
  pin: 'online' | 'offline' | 'none'
}

/** A coded error of the catalog (src/errors.ts) as the plain value machines keep and send. */
export const coded = (e: Error & { code: string }): ErrorValue => ({ code: e.code, message: e.message })

export const errorValue = (err: unknown): ErrorValue => {
  const e = err as { code?: unknown; message?: unknown; status?: unknown }
  return {
    code: typeof e?.code === 'string' ? e.code : INTERNAL_ERROR_CODE,
    message: typeof e?.message === 'string' ? e.message : String(err),
    ...(typeof e?.status === 'number' ? { abecsStatus: e.status } : {}),
  }
}
