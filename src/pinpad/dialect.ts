/**
 * The two ABECS dialects behind one interface, chosen once from the pinpad's identity: the
 * classic commands of 1.x pinpads (GTS, GCR, GOC, FNC, §3.5–3.6) and the TLV ("Abecs") commands
 * of 2.x (GIX, GCX + GTK, GOX, FCX, §3.2.4, §3.7). What both share (GPN, RMC, table load, DSP)
 * lives in steps.ts.
 */
import type { ChipOutput, FinishRequest, PaymentRequest, ReadCardOutput } from '../../machines/types.js'
import type { CapturedCard } from '../card/captured-card.js'
import type { PinpadInfo } from './identify.js'
import type { Pinpad } from './pinpad.js'
import { classicDialect } from './dialects/classic.js'
import { abecsDialect } from './dialects/abecs.js'

export interface Dialect {
  readonly name: 'classic' | 'abecs'
  /** The version of the unified table set ("00", §4.2.1) the pinpad holds. */
  tablesVersion(pinpad: Pinpad, signal?: AbortSignal): Promise<string>
  /** Waits for a card and reads it into the vault; 020 (classic only) is `tables-outdated`. */
  readCard(pinpad: Pinpad, payment: PaymentRequest, resume: boolean, signal?: AbortSignal): Promise<ReadCardOutput>
  /** Cardholder verification and the card's first decision (GOX/GOC). */
  goOnChip(pinpad: Pinpad, card: CapturedCard, amount: number, signal?: AbortSignal): Promise<ChipOutput>
  /** The acquirer's answer to the chip (FCX/FNC): the card's final decision. */
  finishChip(pinpad: Pinpad, contactless: boolean, finish: FinishRequest, signal?: AbortSignal): Promise<{ approved: boolean }>
  /** Free text on the display: DSP, or DEX where it exists and the text needs it. */
  display(pinpad: Pinpad, text: string, signal?: AbortSignal): Promise<void>
}

export const dialectFor = (identity: PinpadInfo): Dialect => (identity.abecs ? abecsDialect : classicDialect)
