/**
 * What both dialects do with the card a read gave: parse tracks (§3.1.3.2 nibbles, §5.4.1),
 * choose the payment method and the application from the tables, put the card in the vault and
 * hand the machine a summary without card data.
 */
import type { CapturedCard, PaymentMethod } from '../card/captured-card.js'
import type { CardVault } from '../card/vault.js'
import { cardHolderDisplayName } from '../card/card-hash.js'
import type { EmvTables } from '../tables/types.js'
import type { CardSummary, PaymentRequest, ReadCardOutput } from '../../machines/types.js'
import { ChipCardSwipedError, NoApplicationError, UnreadableCardError } from '../errors.js'

export const pad2 = (n: number) => String(n).padStart(2, '0')

/** SPE_TRNDATE/GCR_DATE (YYMMDD) and SPE_TRNTIME/GCR_TIME (HHMMSS). */
export function stamp(now: Date): { date: string; time: string } {
  const date = `${pad2(now.getFullYear() % 100)}${pad2(now.getMonth() + 1)}${pad2(now.getDate())}`
  const time = `${pad2(now.getHours())}${pad2(now.getMinutes())}${pad2(now.getSeconds())}`
  return { date, time }
}

/** "AARR" references of the AID records the caller allows (process_payment `applications`). */
export function allowedRecords(tables: EmvTables | undefined, request: PaymentRequest): string[] | undefined {
  if (!request.applications?.length || !tables) return undefined
  const refs = tables.applications
    .filter((a) => request.applications!.some((want) => want.brand.toLowerCase() === a.card_brand.toLowerCase() && want.payment_method === a.payment_method))
    .map((a) => `${pad2(a.acquirer_number)}${pad2(a.record_number)}`)
  if (!refs.length) throw new NoApplicationError(request.applications.map((a) => `${a.brand}/${a.payment_method}`).join(', '))
  return refs
}

export function application(tables: EmvTables | undefined, acquirer: number, record: number) {
  return tables?.applications.find((a) => a.acquirer_number === acquirer && a.record_number === record)
}

/** T1_APPTYPE (§4.1.1) as the original mapped it: 1 credit, 2 debit. */
export const methodOf = (appType: number): PaymentMethod => (appType === 2 ? 'debit_card' : 'credit_card')

export function parseTrack2(track2: string) {
  const m = /^(\d{12,19})[=D](\d{4})(\d{3})/.exec(track2)
  if (!m) throw new UnreadableCardError('track 2 is not readable')
  return { pan: m[1]!, expiration: m[2]!, serviceCode: m[3]! }
}

export const holderFromTrack1 = (track1: string | undefined) => track1?.split('^')[1]?.trim() || undefined

/** PP_TRACK2/PP_ENCPAN: one nibble per symbol, F padding (§3.1.3.2). */
export function fromNibbles(b: Buffer): string {
  const map: Record<string, string> = { a: ':', b: ';', c: '<', d: '=', e: '>', f: '' }
  return [...b.toString('hex')].map((c) => map[c] ?? c).join('')
}

/** A chip card swiped while its chip works must be inserted (service code 2xx/6xx, §6.8.1.1 status "0"). */
export function checkFallback(serviceCode: string, iccStatus: string | undefined): void {
  if (/^[26]/.test(serviceCode) && (iccStatus ?? '0') === '0') throw new ChipCardSwipedError()
}

/** Where the card's application sits in the tables (for the chip step's parameters and tag list). */
const selected = new WeakMap<CapturedCard, { acquirer: number; record: number }>()

export function selectedApplication(card: CapturedCard): { acquirer: number; record: number } | undefined {
  return selected.get(card)
}

/** The card goes into the vault; the machine gets a reference and a summary without card data. */
export function keep(vault: CardVault, card: CapturedCard, summary: Omit<CardSummary, 'holderName'>, where?: { acquirer: number; record: number }): ReadCardOutput {
  if (where) selected.set(card, where)
  const holderName = card.holderName ? cardHolderDisplayName(card.holderName) : undefined
  return { kind: 'card', cardRef: vault.put(card), card: { ...summary, ...(holderName ? { holderName } : {}) } }
}

export function cardOf(vault: CardVault, cardRef: string): CapturedCard {
  const card = vault.get(cardRef)
  if (!card) throw new UnreadableCardError('the card data is gone')
  return card
}

/** The chip data the acquirer needs when the tables do not say (GOX/GOC tag list). */
export const DEFAULT_EMV_TAGS = [
  '5F2A', '5F34', '82', '84', '95', '9A', '9C', '9F02', '9F03', '9F09', '9F10', '9F1A', '9F1E',
  '9F26', '9F27', '9F33', '9F34', '9F35', '9F36', '9F37', '9F41', '9F6E',
]

/** The EMV tags the chip step returns: the application's own list from the tables, or the default. */
export function emvTags(tables: EmvTables | undefined, card: CapturedCard): string[] {
  const where = selected.get(card)
  return (where && application(tables, where.acquirer, where.record)?.emv_tags) || DEFAULT_EMV_TAGS
}
