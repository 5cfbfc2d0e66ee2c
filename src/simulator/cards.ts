/**
 * The virtual pinpad's named test cards, in the spirit of Stripe's test card numbers: a test (or the
 * CLI, `--card NAME`) picks the card a "cardholder" presents. Every card is synthetic: PANs come from
 * public scheme/processor test ranges (or an unassigned range), holders are invented.
 *
 * Also here: track 1/2 as a swipe (or the chip's Track 2 Equivalent) gives them, and the incomplete,
 * masked tracks that CEX/GCX return instead (§5.4.1, §6.3.4.1).
 */
import { ST, type ReturnCodeName } from '../abecs/return-codes.js'
import { InvalidFieldError, UnknownTestCardError } from '../errors.js'
import type { PaymentMethod } from '../card/captured-card.js'

/** How the card meets the pinpad; fixes the ABECS card type (§3.7.1 PP_CARDTYPE). */
export type CardInterface = 'chip' | 'magstripe' | 'contactless-emv' | 'contactless-magstripe'
export type CardBrand = 'visa' | 'mastercard' | 'maestro' | 'elo' | 'private-label'
/** The cardholder verification the card asks for. */
export type Cvm = 'online-pin' | 'offline-pin' | 'no-cvm' | 'signature'
/** Issuer Application Data (9F10) layout of the scheme. */
export type IadFormat = 'visa-cvn10' | 'mchip-cvn10'

/** What a faulty card makes the pinpad answer. */
export interface CardFault {
  /** RSP_STAT (§3.1.1). */
  status: number
  statusName: ReturnCodeName
  /** Every catalogued fault shows when the card is read: GCR/GCX ends with `status` (§6.8.1.2). */
  at: 'card-read'
  /**
   * GCR_STATCHIP / PP_ICCSTAT a swipe right after this failure reports (§6.8.1.1): "1" error allowing
   * fallback (060, 061, 076), "2" application not supported (070), "0" otherwise.
   */
  iccStat: '0' | '1' | '2'
}

/** The EMV application personalised on a chip or contactless card. */
export interface EmvProfile {
  /** AID, hex (4F, 84; also the terminal's 9F06). */
  aid: string
  /** Application Interchange Profile (82), hex. */
  aip: string
  /** Application Version Number on the card (9F08), hex. */
  appVersion: string
  /** Application Usage Control (9F07), hex. */
  auc: string
  iadFormat: IadFormat
  /** PIN Try Limit: the PIN Try Counter (9F17) a new card starts with. */
  pinTryLimit: number
  /** ATC (9F36) before the first transaction on the virtual pinpad. */
  initialAtc: number
  /** Language Preference (5F2D), ISO 639-1 codes concatenated: the pinpad picks its PIN screen language (§6.8.6.1). */
  languagePreference: string
  /** Application Effective Date (5F25), YYMMDD. */
  effectiveDate: string
}

export interface TestCard {
  /** Stable kebab-case name: tests and `--card NAME` use it. */
  readonly name: string
  readonly description: string
  readonly interface: CardInterface
  readonly brand: CardBrand
  /** Maps to T1_APPTYPE 1 (credit) / 2 (debit), see `appType()`. */
  readonly paymentMethod: PaymentMethod
  readonly pan: string
  /** Application PAN Sequence Number (5F34); 0 for magstripe-only cards. */
  readonly panSequenceNumber: number
  /** Application Expiration Date, YYMMDD (5F24, GCR_CARDEXP); the tracks carry its YYMM. */
  readonly expiry: string
  /** Three digits (5F30 and the tracks); first digit 2 or 6 = chip card, so a swipe must be refused or be a fallback. */
  readonly serviceCode: string
  /** As on the card: "LAST/FIRST", uppercase (5F20, track 1). */
  readonly holderName: string
  /** Application Label (50), A..16. Magstripe cards carry none: the label is what the brand's application would show. */
  readonly applicationLabel: string
  /** Issuer Country Code (5F28), ISO 3166 numeric: 076 for Brazil. */
  readonly issuerCountry: string
  /** The correct PIN, for offline verification by the chip and online PIN flows alike. */
  readonly pin: string
  readonly cvm: Cvm
  /** Discretionary data after the service code on track 1 and track 2 (also in the chip's Track 2 Equivalent). */
  readonly track1Discretionary: string
  readonly track2Discretionary: string
  /** Present on chip and contactless cards (contactless-magstripe included: it is selected by AID). */
  readonly emv?: EmvProfile
  /** Present on cards the pinpad refuses. */
  readonly fault?: CardFault
}

// The PIN every test card answers to (Stripe's physical test card uses the same).
const TEST_PIN = '1234'

const VISA_CREDIT_AID = 'A0000000031010'
const VISA_ELECTRON_AID = 'A0000000032010'
const MASTERCARD_AID = 'A0000000041010'
const MAESTRO_AID = 'A0000000043060'
const ELO_CREDIT_AID = 'A0000004941010'
// ISO/IEC 7816-5: a first RID nibble F means a proprietary, unregistered AID, so no real table holds it.
const PRIVATE_LABEL_AID = 'F0000000761010'

const visaEmv = (over: Partial<EmvProfile> = {}): EmvProfile => ({
  aid: VISA_CREDIT_AID,
  // DDA, cardholder verification, terminal risk management, issuer authentication.
  aip: '3C00',
  // VIS 1.4.0 = 140 = 008Ch.
  appVersion: '008C',
  auc: 'FF00',
  iadFormat: 'visa-cvn10',
  pinTryLimit: 3,
  initialAtc: 0x0011,
  languagePreference: 'pten',
  effectiveDate: '230101',
  ...over,
})

const mastercardEmv = (over: Partial<EmvProfile> = {}): EmvProfile => ({
  aid: MASTERCARD_AID,
  // DDA, cardholder verification, terminal risk management, CDA (M/Chip authenticates the issuer in GENERATE AC).
  aip: '3900',
  appVersion: '0002',
  auc: 'FF00',
  iadFormat: 'mchip-cvn10',
  pinTryLimit: 3,
  initialAtc: 0x0026,
  languagePreference: 'pten',
  effectiveDate: '230101',
  ...over,
})

const eloEmv = (over: Partial<EmvProfile> = {}): EmvProfile => ({
  aid: ELO_CREDIT_AID,
  aip: '3C00',
  appVersion: '0001',
  auc: 'FF00',
  // Elo's layout is modelled on VIS here (a simplification).
  iadFormat: 'visa-cvn10',
  pinTryLimit: 3,
  initialAtc: 0x0007,
  languagePreference: 'pt',
  effectiveDate: '240301',
  ...over,
})

const fault = (statusName: ReturnCodeName, iccStat: CardFault['iccStat']): CardFault => ({
  status: ST[statusName.slice(3) as keyof typeof ST],
  statusName,
  at: 'card-read',
  iccStat,
})

// Track 2 room: 37 characters. With a 19-digit PAN, 19 + '=' + YYMM + service code leaves 10.
const DISC2 = '0000012300'
const DISC1 = '0000000000123000000'

type CardInput = Omit<TestCard, 'pin' | 'issuerCountry' | 'track1Discretionary' | 'track2Discretionary'> &
  Partial<Pick<TestCard, 'pin' | 'issuerCountry' | 'track1Discretionary' | 'track2Discretionary'>>

const card = (c: CardInput): TestCard => {
  if (c.emv) Object.freeze(c.emv)
  if (c.fault) Object.freeze(c.fault)
  return Object.freeze({
    pin: TEST_PIN,
    issuerCountry: '076',
    track1Discretionary: DISC1,
    track2Discretionary: DISC2,
    ...c,
  })
}

export const TEST_CARDS: readonly TestCard[] = Object.freeze([
  card({
    name: 'visa-credit',
    description: 'Visa credit, chip; online PIN',
    interface: 'chip',
    brand: 'visa',
    paymentMethod: 'credit_card',
    pan: '4761739001010010',
    panSequenceNumber: 1,
    expiry: '301231',
    serviceCode: '201',
    holderName: 'SILVA/ANA',
    applicationLabel: 'VISA CREDITO',
    cvm: 'online-pin',
    emv: visaEmv(),
  }),
  card({
    name: 'mastercard-credit',
    description: 'Mastercard credit, chip; online PIN',
    interface: 'chip',
    brand: 'mastercard',
    paymentMethod: 'credit_card',
    pan: '5413330089600010',
    panSequenceNumber: 1,
    expiry: '291130',
    serviceCode: '201',
    holderName: 'SOUZA/JOAO',
    applicationLabel: 'MASTERCARD',
    cvm: 'online-pin',
    emv: mastercardEmv(),
  }),
  card({
    name: 'elo-credit',
    description: 'Elo credit, chip; online PIN',
    interface: 'chip',
    brand: 'elo',
    paymentMethod: 'credit_card',
    pan: '6362970000457013',
    panSequenceNumber: 0,
    expiry: '310630',
    serviceCode: '201',
    holderName: 'OLIVEIRA/MARIA',
    applicationLabel: 'ELO CREDITO',
    cvm: 'online-pin',
    emv: eloEmv(),
  }),
  card({
    name: 'visa-electron-debit',
    description: 'Visa Electron debit, chip; online PIN',
    interface: 'chip',
    brand: 'visa',
    paymentMethod: 'debit_card',
    pan: '4917300000000008',
    panSequenceNumber: 1,
    expiry: '300930',
    // IC card, online authorisation, PIN required.
    serviceCode: '220',
    holderName: 'PEREIRA/CARLOS',
    applicationLabel: 'VISA ELECTRON',
    cvm: 'online-pin',
    emv: visaEmv({ aid: VISA_ELECTRON_AID, initialAtc: 0x0042 }),
  }),
  card({
    name: 'maestro-debit',
    description: 'Maestro debit, chip, 19-digit PAN; online PIN',
    interface: 'chip',
    brand: 'maestro',
    paymentMethod: 'debit_card',
    pan: '6799990100000000019',
    panSequenceNumber: 2,
    expiry: '290531',
    serviceCode: '220',
    holderName: 'COSTA/LUCAS',
    applicationLabel: 'MAESTRO',
    cvm: 'online-pin',
    emv: mastercardEmv({ aid: MAESTRO_AID, initialAtc: 0x0103 }),
  }),
  card({
    name: 'visa-credit-offline-pin',
    description: 'Visa credit, chip; the chip verifies the PIN offline (plaintext), 3 tries',
    interface: 'chip',
    brand: 'visa',
    paymentMethod: 'credit_card',
    // Stripe's offline-PIN test number.
    pan: '4001007020000002',
    panSequenceNumber: 1,
    expiry: '301031',
    serviceCode: '201',
    holderName: 'ALMEIDA/BEATRIZ',
    applicationLabel: 'VISA CREDITO',
    cvm: 'offline-pin',
    emv: visaEmv({ initialAtc: 0x0009 }),
  }),
  card({
    name: 'magstripe-credit',
    description: 'Mastercard credit, magnetic stripe only; signature',
    interface: 'magstripe',
    brand: 'mastercard',
    paymentMethod: 'credit_card',
    pan: '5555555555554444',
    panSequenceNumber: 0,
    expiry: '291231',
    // International, normal authorisation, no restrictions.
    serviceCode: '101',
    holderName: 'RODRIGUES/PAULO',
    applicationLabel: 'MASTERCARD',
    cvm: 'signature',
  }),
  card({
    name: 'magstripe-debit',
    description: 'Visa debit, magnetic stripe only; online PIN captured with GPN',
    interface: 'magstripe',
    brand: 'visa',
    paymentMethod: 'debit_card',
    // Stripe's Visa debit test number.
    pan: '4000056655665556',
    panSequenceNumber: 0,
    expiry: '300430',
    // International, online authorisation, PIN required.
    serviceCode: '120',
    holderName: 'FERREIRA/JULIA',
    applicationLabel: 'VISA DEBITO',
    cvm: 'online-pin',
  }),
  card({
    name: 'mastercard-contactless',
    description: 'Mastercard credit, contactless EMV (PayPass M/Chip, card type 06); no CVM below the limit',
    interface: 'contactless-emv',
    brand: 'mastercard',
    paymentMethod: 'credit_card',
    pan: '5413330089020011',
    panSequenceNumber: 0,
    expiry: '310131',
    serviceCode: '201',
    holderName: 'LIMA/FERNANDA',
    applicationLabel: 'MASTERCARD',
    cvm: 'no-cvm',
    // AIP of a PayPass M/Chip card: byte 2 bit 8 = EMV mode supported.
    emv: mastercardEmv({ aip: '1980', initialAtc: 0x01ec }),
  }),
  card({
    name: 'visa-contactless',
    description: 'Visa credit, contactless EMV (payWave qVSDC, card type 06); no CVM below the limit',
    interface: 'contactless-emv',
    brand: 'visa',
    paymentMethod: 'credit_card',
    pan: '4761739001010119',
    panSequenceNumber: 1,
    expiry: '300831',
    serviceCode: '201',
    holderName: 'GOMES/RAFAEL',
    applicationLabel: 'VISA CREDITO',
    cvm: 'no-cvm',
    emv: visaEmv({ aip: '2000', initialAtc: 0x0030 }),
  }),
  card({
    name: 'mastercard-contactless-magstripe',
    description: 'Mastercard credit, contactless simulating a stripe (PayPass Mag Stripe, card type 05)',
    interface: 'contactless-magstripe',
    brand: 'mastercard',
    paymentMethod: 'credit_card',
    pan: '5413330089010434',
    panSequenceNumber: 0,
    expiry: '300228',
    serviceCode: '201',
    holderName: 'RIBEIRO/BRUNO',
    applicationLabel: 'MASTERCARD',
    cvm: 'no-cvm',
    // Mag-stripe-only PayPass: no EMV mode, no offline data authentication.
    emv: mastercardEmv({ aip: '0000', initialAtc: 0x0055 }),
  }),
  card({
    name: 'expired-card',
    description: 'Visa credit, chip, expired in December 2022: the chip flags it (TVR) and declines offline',
    interface: 'chip',
    brand: 'visa',
    paymentMethod: 'credit_card',
    // Stripe's expired-card test number.
    pan: '4000000000000069',
    panSequenceNumber: 1,
    expiry: '221231',
    serviceCode: '201',
    holderName: 'MARTINS/CLARA',
    applicationLabel: 'VISA CREDITO',
    cvm: 'online-pin',
    emv: visaEmv({ effectiveDate: '191201' }),
  }),
  card({
    name: 'blocked-card',
    description: 'Mastercard credit, chip blocked by the issuer: SELECT answers 6A81h, 079 ST_CARDBLOCKED',
    interface: 'chip',
    brand: 'mastercard',
    paymentMethod: 'credit_card',
    pan: '5413330089600028',
    panSequenceNumber: 1,
    expiry: '300630',
    serviceCode: '201',
    holderName: 'CARVALHO/DIEGO',
    applicationLabel: 'MASTERCARD',
    cvm: 'online-pin',
    emv: mastercardEmv(),
    fault: fault('ST_CARDBLOCKED', '0'),
  }),
  card({
    name: 'dumb-card',
    description: 'Visa credit whose chip does not answer: 060 ST_DUMBCARD; a swipe may follow as fallback',
    interface: 'chip',
    brand: 'visa',
    paymentMethod: 'credit_card',
    pan: '4761739001010036',
    panSequenceNumber: 1,
    expiry: '300131',
    serviceCode: '201',
    holderName: 'ARAUJO/PEDRO',
    applicationLabel: 'VISA CREDITO',
    cvm: 'online-pin',
    emv: visaEmv(),
    fault: fault('ST_DUMBCARD', '1'),
  }),
  card({
    name: 'chip-error-card',
    description: 'Visa credit whose chip fails mid-dialogue: 061 ST_ERRCARD; a swipe may follow as fallback',
    interface: 'chip',
    brand: 'visa',
    paymentMethod: 'credit_card',
    pan: '4761739001010135',
    panSequenceNumber: 1,
    expiry: '300331',
    serviceCode: '201',
    holderName: 'BARBOSA/LIVIA',
    applicationLabel: 'VISA CREDITO',
    cvm: 'online-pin',
    emv: visaEmv(),
    fault: fault('ST_ERRCARD', '1'),
  }),
  card({
    name: 'fallback-card',
    description: 'Visa credit whose GET PROCESSING OPTIONS answers a non-EMV status: 076 ST_ERRFALLBACK, then swipe',
    interface: 'chip',
    brand: 'visa',
    paymentMethod: 'credit_card',
    pan: '4761739001010150',
    panSequenceNumber: 1,
    expiry: '301130',
    serviceCode: '201',
    holderName: 'ROCHA/TIAGO',
    applicationLabel: 'VISA CREDITO',
    cvm: 'online-pin',
    emv: visaEmv(),
    fault: fault('ST_ERRFALLBACK', '1'),
  }),
  card({
    name: 'unsupported-aid-card',
    description: 'Private-label chip card whose AID is in no AID table: 070 ST_CARDAPPNAV',
    interface: 'chip',
    brand: 'private-label',
    paymentMethod: 'credit_card',
    // Major industry identifier 9 (national use): no scheme issues in this range.
    pan: '9076000000000018',
    panSequenceNumber: 0,
    expiry: '300731',
    serviceCode: '201',
    holderName: 'DIAS/MARCOS',
    applicationLabel: 'LOJA CARTAO',
    cvm: 'online-pin',
    emv: visaEmv({ aid: PRIVATE_LABEL_AID }),
    fault: fault('ST_CARDAPPNAV', '2'),
  }),
  card({
    name: 'swiped-chip-card',
    description: 'Visa credit chip card swiped: service code 201 says "use the chip", so fallback rules apply',
    interface: 'magstripe',
    brand: 'visa',
    paymentMethod: 'credit_card',
    pan: '4761739001010267',
    panSequenceNumber: 0,
    expiry: '301231',
    serviceCode: '201',
    holderName: 'TEIXEIRA/RENATA',
    applicationLabel: 'VISA CREDITO',
    cvm: 'online-pin',
  }),
])

const BY_NAME = new Map(TEST_CARDS.map((c) => [c.name, c]))

export function cardNames(): string[] {
  return TEST_CARDS.map((c) => c.name)
}

/** The catalogued card called `name`; UnknownTestCardError (with the valid names) otherwise. */
export function findCard(name: string): TestCard {
  const found = BY_NAME.get(name)
  if (!found) throw new UnknownTestCardError(name, cardNames().join(', '))
  return found
}

/** ABECS T1_APPTYPE of the card's application (§4.1.1): 1 credit, 2 debit. */
export function appType(card: TestCard): 1 | 2 {
  return card.paymentMethod === 'debit_card' ? 2 : 1
}

/** ABECS card type (§3.7.1 PP_CARDTYPE) the card reads as. */
export function cardType(card: TestCard): '00' | '03' | '05' | '06' {
  switch (card.interface) {
    case 'magstripe':
      return '00'
    case 'chip':
      return '03'
    case 'contactless-magstripe':
      return '05'
    case 'contactless-emv':
      return '06'
  }
}

// Luhn (ISO/IEC 7812-1 annex B)

function luhnSum(digits: string, doubleFirst: boolean): number {
  let sum = 0
  let double = doubleFirst
  for (let i = digits.length - 1; i >= 0; i--) {
    let n = digits.charCodeAt(i) - 48
    if (double) {
      n *= 2
      if (n > 9) n -= 9
    }
    sum += n
    double = !double
  }
  return sum
}

/** True when `pan` is all digits (at least two) and its last digit is the Luhn check digit. */
export function luhnValid(pan: string): boolean {
  return /^\d{2,}$/.test(pan) && luhnSum(pan, false) % 10 === 0
}

/** The check digit to append to `partial` (digits only). */
export function luhnCheckDigit(partial: string): string {
  if (!/^\d+$/.test(partial)) throw new InvalidFieldError('PAN', 'only digits are allowed')
  return String((10 - (luhnSum(partial, true) % 10)) % 10)
}

// Tracks (ISO/IEC 7813), without sentinels or LRC, as GCR_TRK1/GCR_TRK2 carry them (§3.6.1)

const yymm = (card: TestCard): string => card.expiry.slice(0, 4)

/** Track 1, format B: `B<PAN>^<NAME>^<YYMM><service code><discretionary>`. */
export function track1(card: TestCard): string {
  return `B${card.pan}^${card.holderName}^${yymm(card)}${card.serviceCode}${card.track1Discretionary}`
}

/** Track 2: `<PAN>=<YYMM><service code><discretionary>`. */
export function track2(card: TestCard): string {
  return `${card.pan}=${yymm(card)}${card.serviceCode}${card.track2Discretionary}`
}

/** Track 2 Equivalent Data (tag 57): track 2 in BCD, separator D, padded with F to whole bytes. */
export function track2Equivalent(card: TestCard): Buffer {
  const nibbles = track2(card).replace('=', 'D')
  return Buffer.from(nibbles.length % 2 ? `${nibbles}F` : nibbles, 'hex')
}

// Incomplete tracks and PAN masking (§5.4.1, §6.3.4.1)

const INCOMPLETE_FALLBACK = 19
const AFTER_SEPARATOR = 7 // YYMM + service code

/** Keeps the track up to the 7th character after the n-th `sep`; the first 19 characters when there is no such separator. */
function truncateAfter(track: string, sep: string, nth: number): string {
  let idx = -1
  for (let i = 0; i < nth; i++) {
    idx = track.indexOf(sep, idx + 1)
    if (idx < 0) return track.slice(0, INCOMPLETE_FALLBACK)
  }
  // A separator with fewer than 7 characters after it yields what there is.
  return track.slice(0, idx + 1 + AFTER_SEPARATOR)
}

/**
 * Masks the PAN in `field` per SPE_PANMASK "eedd" (§3.1.3: ee digits kept on the left, dd on the
 * right, §5.4.1). The PAN is the first run of digits (blanks inside it allowed and kept, not
 * counted); when ee + dd exceeds its digit count nothing is masked; other digits become `*`.
 */
export function maskPan(field: string, panMask: string): string {
  if (!/^\d{4}$/.test(panMask)) throw new InvalidFieldError('SPE_PANMASK', 'expected four digits "eedd"')
  const left = Number(panMask.slice(0, 2))
  const right = Number(panMask.slice(2))
  const start = field.search(/\d/)
  if (start < 0) return field
  let end = start
  while (end < field.length && /[\d ]/.test(field[end]!)) end++
  const run = field.slice(start, end)
  const count = run.replace(/ /g, '').length
  if (left + right > count) return field
  let seen = 0
  const masked = run.replace(/\d/g, (d) => {
    const pos = seen++
    return pos < left || pos >= count - right ? d : '*'
  })
  return field.slice(0, start) + masked + field.slice(end)
}

/** PP_TRK1INC: up to 7 characters after the second `^`, else the first 19 (§5.4.1); PAN masked if `panMask`. */
export function incompleteTrack1(track: string, panMask?: string): string {
  const inc = truncateAfter(track, '^', 2)
  return panMask === undefined ? inc : maskPan(inc, panMask)
}

/** PP_TRK2INC: up to 7 characters after `=`, else the first 19 (§5.4.1); PAN masked if `panMask`. */
export function incompleteTrack2(track: string, panMask?: string): string {
  const inc = truncateAfter(track, '=', 1)
  return panMask === undefined ? inc : maskPan(inc, panMask)
}

/** PP_TRK3INC: always the first 19 characters (§5.4.1); PAN masked if `panMask`. */
export function incompleteTrack3(track: string, panMask?: string): string {
  const inc = track.slice(0, INCOMPLETE_FALLBACK)
  return panMask === undefined ? inc : maskPan(inc, panMask)
}

/** PP_PAN: the PAN, masked if `panMask` (§5.4.1: the masking also applies to GCX's PP_PAN). */
export function maskedPan(card: TestCard, panMask?: string): string {
  return panMask === undefined ? card.pan : maskPan(card.pan, panMask)
}
