/**
 * A small model of the EMV application on a chip or contactless test card, enough for the virtual
 * pinpad to answer GCR/GCX, GOC/GOX, FNC/FCX and GED with data that hangs together: the ATC counts
 * transactions per card, the cryptogram is a real MAC over the transaction data, CID/CVR/TVR/TSI
 * follow the decisions taken.
 *
 * Limits (on purpose):
 * - No APDUs, files, CVM list, CDOL/PDOL parsing or offline data authentication: ODA is assumed to
 *   succeed whenever the AIP offers it; the caller (the pinpad) chooses the CVM and the cryptogram
 *   type to request, and the card grants it (no Card Action Analysis of its own;
 *   `recommendedDecision()` is a simplified terminal action analysis for the caller).
 * - One synthetic issuer master key for every card. Keys: EMV Book 2 A1.4.1 option A (ICC master key
 *   from PAN + PSN), A1.3 common session key (from the ATC), MAC: ISO 9797-1 algorithm 3 with padding
 *   method 2 (A1.2). Every scheme gets this one method (real Visa CVN 10 uses the master key itself
 *   and zero padding; M/Chip has its own session keys).
 * - Cryptogram data: the CDOL1 minimum set of Book 2 table 26 (9F02 9F03 9F1A 95 5F2A 9A 9C 9F37),
 *   then 82, 9F36 and the CVR from 9F10; the second GENERATE AC puts 8A first.
 * - 9F10 has the scheme's layout (VIS CVN 10: 06 DKI CVN 03 CVR; M/Chip: DKI CVN CVR(6) DAC counters)
 *   with the cryptogram-type and offline-PIN bits right; other CVR bits stay zero.
 * - Issuer authentication (91 = ARPC || ARC, ARPC method 1) is checked and recorded in TVR/TSI/CVR,
 *   but a failure does not make the card decline (real cards decide by their issuer action codes).
 * - Contactless: the whole card dialogue happens at the tap; there is no second GENERATE AC (§6.8.5.4).
 *   Contactless-magstripe (card type 05) has no GENERATE AC at all, only data for GED.
 */
import { randomBytes } from 'node:crypto'
import { buildEmv, type EmvObject } from '../abecs/emv-tlv.js'
import { desEncryptBlock, tdesEncryptEcb, xor } from '../crypto/des.js'
import { CryptoLengthError, EmvSequenceError, EmvTerminalDataError, NotEmvCardError } from '../errors.js'
import { track2Equivalent, type Cvm, type TestCard, type EmvProfile } from './cards.js'

/** Synthetic issuer master key for application cryptograms (the EMV literature's sample key pattern). */
export const TEST_ISSUER_MASTER_KEY = Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex')

/**
 * Objects never returned through a tag list (GOC/GOX/FNC/FCX/GED): §6.8.6.3 lists 5A, 9F1F, 9F20 and
 * 57; §3.7.1–3.7.4 word it as "objects holding card track data (or PAN)", which also covers the
 * contactless track images 56 (Track 1 Data) and 9F6B (Track 2 Data).
 */
export const PROTECTED_TAGS: ReadonlySet<string> = new Set(['5A', '57', '9F1F', '9F20', '56', '9F6B'])

/**
 * Card-originated objects (and TVR, TSI, CVM Results) the pinpad ignores when the SPE supplies them in
 * SPE_EMVDATA (§6.8.6.4).
 */
export const CARD_ORIGINATED_TAGS: ReadonlySet<string> = new Set(
  (
    '42 4F 50 57 5A 5F20 5F24 5F25 5F28 5F2D 5F30 5F34 5F50 5F53 5F54 5F55 5F56 61 6F 70 ' +
    '73 77 80 82 84 87 88 8C 8D 8E 8F 90 92 93 94 95 97 9B 9D 9F05 ' +
    '9F07 9F08 9F0B 9F0D 9F0E 9F0F 9F10 9F11 9F12 9F13 9F14 9F17 9F1F 9F20 9F23 9F26 9F27 9F2D 9F2E 9F2F ' +
    '9F32 9F34 9F36 9F38 9F3B 9F42 9F43 9F44 9F45 9F46 9F47 9F48 9F49 9F4A 9F4B 9F4C 9F4D 9F4F A5 BF0C'
  ).split(' '),
)

export function isProtectedTag(tag: string): boolean {
  return PROTECTED_TAGS.has(tag.toUpperCase())
}

/** Drops the objects a tag list may never return (§6.8.6.3). */
export function withoutProtected(objects: Iterable<EmvObject>): EmvObject[] {
  return [...objects].filter((o) => !isProtectedTag(o.tag))
}

/** What the card keeps between transactions; the caller holds one per card and passes it to each session. */
export interface EmvCardState {
  /** Application Transaction Counter of the last transaction (9F36). */
  atc: number
  /** PIN Try Counter (9F17): 0 means the offline PIN is blocked. */
  pinTriesLeft: number
}

export function newCardState(card: TestCard): EmvCardState {
  const emv = requireEmv(card)
  return { atc: emv.initialAtc, pinTriesLeft: emv.pinTryLimit }
}

/** Terminal data of the transaction (GCR/GCX, then GOC/GOX may change amounts). */
export interface EmvTerminalData {
  /** Amount, authorised, in cents (9F02, 81). */
  amount: number
  /** Amount, other (cashback), in cents (9F03, 9F04). Default 0. */
  cashback?: number
  /** Transaction Currency Code (5F2A), n3. Default "986". */
  currency?: string
  /** Terminal Country Code (9F1A), n3. Default "076". */
  country?: string
  /** Transaction Date (9A), YYMMDD. */
  date: string
  /** Transaction Time (9F21), HHMMSS. */
  time: string
  /** Transaction Type (9C). Default 09h with cashback, else 00h (§6.8.4.1). */
  transactionType?: number
  /** Terminal Capabilities (9F33), hex. Default E0F8C8h (§3.7.1 example). */
  terminalCapabilities?: string
  /** Terminal Type (9F35), n2. Default "22" (attended, merchant, online with offline capability). */
  terminalType?: string
  /** Application Version Number of the terminal (9F09), hex. Default: the card's 9F08. */
  terminalAppVersion?: string
  /** Unpredictable Number (9F37), 4 bytes. Default: random. */
  unpredictableNumber?: Buffer
  /** GOC_EXCLIST / SPE_GOXOPT "1xxxx": the PAN is on the exception list (TVR byte 1 bit 5). */
  onExceptionList?: boolean
  /** Terminal floor limit in cents (GOC_FLRLIMIT, SPE_TRMPAR): a larger amount sets TVR byte 4 bit 8. */
  floorLimit?: number
  /** Interface Device Serial Number (9F1E, an8): the pinpad's serial. */
  ifdSerialNumber?: string
  /** Transaction Sequence Counter (9F41, n8): the pinpad counts its transactions. */
  sequenceCounter?: number
}

export type FirstAcDecision = 'online' | 'offline-approve' | 'decline'
export type CryptogramType = 'ARQC' | 'TC' | 'AAC'
export type CvmOutcome = 'successful' | 'failed' | 'unknown'

export interface SecondAcOptions {
  /**
   * Whether the acquirer approved. Default: ARC "00" (or "Y3", terminal approval when unable to go
   * online). Pass it for FNC_COMMST = "9" / SPE_FCXOPT "0xxx" with another ARC (§3.6.4, §3.7.4).
   */
  approved?: boolean
  /** The chip refuses anyway (outcome `card-declines-after-online`): AAC. */
  cardDeclines?: boolean
  /** FNC_COMMST = "1" / SPE_FCXOPT "2xxx": no answer from the acquirer (CVR "unable to go online"). */
  unableToGoOnline?: boolean
}

export interface OfflinePinResult {
  ok: boolean
  /** PIN Try Counter after this VERIFY. */
  triesLeft: number
  /** The counter is at 0: SW 6983h on later VERIFYs (§6.8.6.1, GOC_PBLOCKED). */
  blocked: boolean
}

const CID: Record<CryptogramType, number> = { AAC: 0x00, TC: 0x40, ARQC: 0x80 }
// CVR "AC type" codes (VIS and M/Chip alike): 00 AAC, 01 TC, 10 ARQC / not requested.
const AC_BITS: Record<CryptogramType, number> = { AAC: 0b00, TC: 0b01, ARQC: 0b10 }
const NOT_REQUESTED = 0b10

// TVR (EMV Book 3 annex C5): [byte index, bit mask]
const TVR = {
  odaNotPerformed: [0, 0x80],
  exceptionFile: [0, 0x10],
  differentVersions: [1, 0x80],
  expired: [1, 0x40],
  notYetEffective: [1, 0x20],
  cvmNotSuccessful: [2, 0x80],
  pinTryLimitExceeded: [2, 0x20],
  onlinePinEntered: [2, 0x04],
  floorLimitExceeded: [3, 0x80],
  issuerAuthFailed: [4, 0x40],
} as const satisfies Record<string, readonly [number, number]>

// TSI (Book 3 annex C6), byte 1.
const TSI_ODA = 0x80
const TSI_CVM = 0x40
const TSI_CRM = 0x20
const TSI_ISSUER_AUTH = 0x10
const TSI_TRM = 0x08

// AIP byte 1 (Book 3 annex C1).
const AIP_SDA = 0x40
const AIP_DDA = 0x20
const AIP_CVM = 0x10
const AIP_TRM = 0x08
const AIP_CDA = 0x01

function requireEmv(card: TestCard): EmvProfile {
  if (!card.emv) throw new NotEmvCardError(card.name, card.interface)
  return card.emv
}

const bcd = (digits: string, bytes: number): Buffer => Buffer.from(digits.padStart(bytes * 2, '0'), 'hex')

function checkDigits(field: string, value: string, length: number): void {
  if (!new RegExp(`^\\d{${length}}$`).test(value)) throw new EmvTerminalDataError(field, `expected ${length} digits`)
}

function checkAmount(field: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > 999_999_999_999) {
    throw new EmvTerminalDataError(field, 'expected whole cents from 0 to 999999999999')
  }
}

function checkHex(field: string, value: string, bytes: number): void {
  if (!new RegExp(`^[0-9A-Fa-f]{${bytes * 2}}$`).test(value)) {
    throw new EmvTerminalDataError(field, `expected ${bytes} bytes of hex`)
  }
}

function withOddParity(key: Buffer): Buffer {
  const out = Buffer.from(key)
  for (let i = 0; i < out.length; i++) {
    let b = out[i]! & 0xfe
    let ones = 0
    for (let v = b; v; v >>= 1) ones += v & 1
    if (ones % 2 === 0) b |= 1
    out[i] = b
  }
  return out
}

/** ICC master key, EMV Book 2 A1.4.1 option A: Y = rightmost 16 digits of PAN || PSN. */
export function iccMasterKey(account: { pan: string; panSequenceNumber: number }, imk = TEST_ISSUER_MASTER_KEY): Buffer {
  const y = `${account.pan}${String(account.panSequenceNumber).padStart(2, '0')}`.slice(-16).padStart(16, '0')
  const yBytes = Buffer.from(y, 'hex')
  const zl = tdesEncryptEcb(imk, yBytes)
  const zr = tdesEncryptEcb(imk, xor(yBytes, Buffer.alloc(8, 0xff)))
  return withOddParity(Buffer.concat([zl, zr]))
}

/** Application cryptogram session key, EMV Book 2 A1.3.1 (common session key) from the ATC. */
export function sessionKey(masterKey: Buffer, atc: number): Buffer {
  const r = Buffer.alloc(8)
  r.writeUInt16BE(atc & 0xffff, 0)
  const left = Buffer.from(r)
  left[2] = 0xf0
  const right = Buffer.from(r)
  right[2] = 0x0f
  return Buffer.concat([tdesEncryptEcb(masterKey, left), tdesEncryptEcb(masterKey, right)])
}

/**
 * ISO/IEC 9797-1 MAC algorithm 3 (single-DES CBC, 3DES on the last block), padding method 2 as EMV uses
 * it (Book 2 A1.2.1); `padding: 'none'` takes data already a multiple of 8 bytes (ANSI X9.19 style).
 */
export function retailMac(key: Buffer, data: Buffer, padding: 'method-2' | 'none' = 'method-2'): Buffer {
  const padded =
    padding === 'none' ? data : Buffer.concat([data, Buffer.of(0x80), Buffer.alloc((8 - ((data.length + 1) % 8)) % 8)])
  if (padded.length === 0 || padded.length % 8) {
    throw new CryptoLengthError('MAC data', 'a non-empty multiple of 8', padded.length)
  }
  const kl = key.subarray(0, 8)
  let h: Buffer = Buffer.alloc(8)
  const blocks = padded.length / 8
  for (let i = 0; i < blocks - 1; i++) h = desEncryptBlock(kl, xor(h, padded.subarray(i * 8, i * 8 + 8)))
  // Two-key TDES E(KL) D(KR) E(KL) on the last block = its CBC step under KL, then algorithm 3's D(KR), E(KL).
  return tdesEncryptEcb(key, xor(h, padded.subarray(padded.length - 8)))
}

/** The CVR inside Issuer Application Data (9F10), as the cryptogram covers it. */
function cvrOf(iad: Buffer): Buffer {
  // VIS: 06 DKI CVN | 03 CVR(3): the CVR with its length byte.
  if (iad.length === 7 && iad[0] === 0x06) return iad.subarray(3, 7)
  // M/Chip: DKI CVN | CVR(6) | ...
  if (iad.length === 18) return iad.subarray(2, 8)
  return iad
}

function mustGet(tags: ReadonlyMap<string, Buffer>, tag: string): Buffer {
  const v = tags.get(tag)
  if (!v) throw new EmvSequenceError(`tag ${tag} is missing for the application cryptogram`)
  return v
}

/**
 * Application cryptogram (9F26) from transaction data as DE 55 carries it, so the sandbox acquirer can
 * check an ARQC with the same function the card uses. `arc` (8A) makes it a second-GENERATE-AC cryptogram.
 */
export function computeApplicationCryptogram(
  account: { pan: string; panSequenceNumber: number },
  tags: ReadonlyMap<string, Buffer>,
  arc?: string,
): Buffer {
  const atc = mustGet(tags, '9F36')
  const data = Buffer.concat([
    ...(arc === undefined ? [] : [Buffer.from(arc, 'latin1')]),
    ...['9F02', '9F03', '9F1A', '95', '5F2A', '9A', '9C', '9F37', '82', '9F36'].map((t) => mustGet(tags, t)),
    cvrOf(mustGet(tags, '9F10')),
  ])
  return retailMac(sessionKey(iccMasterKey(account), atc.readUInt16BE(0)), data)
}

/** ARPC method 1 (Book 2 8.2.1): 3DES(SK)[ARQC ⊕ (ARC || 00…)]. */
export function arpc(account: { pan: string; panSequenceNumber: number }, atc: number, arqc: Buffer, arc: string): Buffer {
  const arcBytes = Buffer.concat([Buffer.from(arc.padEnd(2).slice(0, 2), 'latin1'), Buffer.alloc(6)])
  return tdesEncryptEcb(sessionKey(iccMasterKey(account), atc), xor(arqc, arcBytes))
}

/** Issuer Authentication Data (91) the acquirer returns: ARPC || ARC. */
export function issuerAuthenticationData(
  account: { pan: string; panSequenceNumber: number },
  atc: number,
  arqc: Buffer,
  arc: string,
): Buffer {
  return Buffer.concat([arpc(account, atc, arqc, arc), Buffer.from(arc.padEnd(2).slice(0, 2), 'latin1')])
}

/** The EMV application of one card during one transaction. */
export class EmvCardSession {
  readonly card: TestCard
  readonly emv: EmvProfile
  /** ATC of this transaction (incremented in the card state at GET PROCESSING OPTIONS, i.e. now). */
  readonly atc: number

  private readonly state: EmvCardState
  private cryptogram: CryptogramType | undefined
  private pinFailures = 0
  private blockedNow = false
  private cvm: { cvm: Cvm; outcome: CvmOutcome } | undefined
  private readonly data = new Map<string, Buffer>()
  private readonly tvr = Buffer.alloc(5)
  private readonly tsi = Buffer.alloc(2)
  private cvr: Buffer
  private generateAcCount = 0
  private terminal: EmvTerminalData

  constructor(card: TestCard, terminal: EmvTerminalData, state: EmvCardState) {
    this.card = card
    this.emv = requireEmv(card)
    this.state = state
    this.atc = (state.atc + 1) & 0xffff
    this.cvr = this.emv.iadFormat === 'visa-cvn10' ? Buffer.from('03000000', 'hex') : Buffer.alloc(6)
    this.terminal = terminal
    this.loadCard()
    this.setTerminal(terminal)
    // Counted only once the terminal data is accepted.
    state.atc = this.atc
  }

  /** Cryptogram type of the last GENERATE AC, if any. */
  get lastCryptogram(): CryptogramType | undefined {
    return this.cryptogram
  }

  /** Wrong offline PINs presented in this transaction (GOC_ERRPINOFF). */
  get offlinePinFailures(): number {
    return this.pinFailures
  }

  /** The offline PIN got blocked in this transaction (GOC_PBLOCKED). */
  get pinBlockedNow(): boolean {
    return this.blockedNow
  }

  /** Which CVM was performed and how (GOC_SIGNAT, GOC_PINOFF, PP_GOXRES digits 2–3 follow from it). */
  get cvmPerformed(): { cvm: Cvm; outcome: CvmOutcome } | undefined {
    return this.cvm && { ...this.cvm }
  }

  /** GOC/GOX may bring new amounts, the exception-list answer, risk parameters… (§6.8.4.1). */
  updateTerminal(changes: Partial<EmvTerminalData>): void {
    if (this.generateAcCount) throw new EmvSequenceError('terminal data cannot change after GENERATE AC')
    this.setTerminal({ ...this.terminal, ...changes })
  }

  get pinTriesLeft(): number {
    return this.state.pinTriesLeft
  }

  /**
   * VERIFY with a plaintext offline PIN (CVM 01h/41h). A wrong PIN counts the PIN Try Counter down;
   * at 0 the PIN stays blocked for this card state (as on a real card, until an issuer script resets it).
   */
  verifyOfflinePin(pin: string): OfflinePinResult {
    this.assertBeforeAc('VERIFY')
    if (this.state.pinTriesLeft <= 0) {
      this.recordCvm('offline-pin', 'failed')
      this.setTvr(TVR.pinTryLimitExceeded)
      return { ok: false, triesLeft: 0, blocked: true }
    }
    if (pin === this.card.pin) {
      this.state.pinTriesLeft = this.emv.pinTryLimit
      this.data.set('9F17', Buffer.of(this.state.pinTriesLeft))
      this.recordCvm('offline-pin', 'successful')
      return { ok: true, triesLeft: this.state.pinTriesLeft, blocked: false }
    }
    this.state.pinTriesLeft--
    this.pinFailures++
    const blocked = this.state.pinTriesLeft === 0
    if (blocked) {
      this.blockedNow = true
      this.setTvr(TVR.pinTryLimitExceeded)
    }
    this.recordCvm('offline-pin', 'failed')
    this.data.set('9F17', Buffer.of(this.state.pinTriesLeft))
    return { ok: false, triesLeft: this.state.pinTriesLeft, blocked }
  }

  /**
   * Records the CVM performed: 9F34, TVR byte 3, CVR offline-PIN bits. Without a call, the first
   * GENERATE AC records the card's own CVM as performed successfully (the happy path).
   */
  recordCvm(cvm: Cvm, outcome: CvmOutcome = cvm === 'online-pin' || cvm === 'signature' ? 'unknown' : 'successful'): void {
    this.assertBeforeAc('cardholder verification')
    this.cvm = { cvm, outcome }
    const contactless = this.card.interface !== 'chip'
    // Byte 1: CVM code (40h = apply the next rule if unsuccessful); byte 2: condition 03h "if the terminal
    // supports the CVM" (00h "always" for No CVM on contact); byte 3: 00 unknown, 01 failed, 02 successful.
    const result = outcome === 'successful' ? 0x02 : outcome === 'failed' ? 0x01 : 0x00
    const cvmr: Record<Cvm, [number, number]> = {
      'online-pin': [0x42, 0x03],
      'offline-pin': [0x41, 0x03],
      signature: [0x1e, 0x03],
      'no-cvm': [0x1f, contactless ? 0x03 : 0x00],
    }
    const [code, condition] = cvmr[cvm]
    this.data.set('9F34', Buffer.of(code, condition, result))
    if (cvm === 'online-pin') this.setTvr(TVR.onlinePinEntered)
    if (outcome === 'failed') this.setTvr(TVR.cvmNotSuccessful)
    else this.clearTvr(TVR.cvmNotSuccessful)
    if (cvm === 'offline-pin') this.setOfflinePinCvr(outcome === 'successful')
  }

  /** A simplified terminal action analysis: decline what TAC-Denial usually catches, else go online. */
  recommendedDecision(): FirstAcDecision {
    const denial = [TVR.expired, TVR.notYetEffective, TVR.exceptionFile, TVR.pinTryLimitExceeded] as const
    return denial.some(([i, m]) => (this.tvr[i]! & m) !== 0) ? 'decline' : 'online'
  }

  /** First GENERATE AC: ARQC (online), TC (offline approval) or AAC (decline). Returns every tag the card/kernel knows. */
  firstGenerateAc(decision: FirstAcDecision): Map<string, Buffer> {
    if (this.card.interface === 'contactless-magstripe') {
      throw new EmvSequenceError('a contactless mag-stripe card has no GENERATE AC')
    }
    if (this.generateAcCount) throw new EmvSequenceError('first GENERATE AC was already done')
    if (!this.cvm) this.recordCvm(this.card.cvm)
    const type: CryptogramType = decision === 'online' ? 'ARQC' : decision === 'offline-approve' ? 'TC' : 'AAC'
    this.setAcTypeBits(NOT_REQUESTED, AC_BITS[type])
    const aip = this.data.get('82')![0]!
    let tsi = TSI_CRM
    if (aip & (AIP_SDA | AIP_DDA | AIP_CDA)) tsi |= TSI_ODA
    if (aip & AIP_CVM) tsi |= TSI_CVM
    if (aip & AIP_TRM) tsi |= TSI_TRM
    this.tsi[0]! |= tsi
    this.generate(type)
    return this.all()
  }

  /**
   * Second GENERATE AC after the acquirer's answer: TC if approved, else AAC. `issuerAuthData` is tag 91
   * (ARPC || ARC, see issuerAuthenticationData): it is checked and the result recorded, never enforced.
   */
  secondGenerateAc(arc: string, issuerAuthData?: Buffer, options: SecondAcOptions = {}): Map<string, Buffer> {
    if (this.card.interface !== 'chip') {
      throw new EmvSequenceError('contactless cards have no second GENERATE AC: FNC/FCX only echo the decision (§6.8.5.4)')
    }
    if (this.generateAcCount !== 1 || this.cryptogram !== 'ARQC') {
      throw new EmvSequenceError('second GENERATE AC needs a first GENERATE AC that returned an ARQC')
    }
    if (!/^[\x20-\x7e]{2}$/.test(arc)) throw new EmvTerminalDataError('ARC (8A)', 'expected two characters')
    const arqc = this.data.get('9F26')!
    if (issuerAuthData && !options.unableToGoOnline) {
      this.tsi[0]! |= TSI_ISSUER_AUTH
      const expected = arpc(this.card, this.atc, arqc, issuerAuthData.subarray(8, 10).toString('latin1'))
      const ok = issuerAuthData.length >= 10 && issuerAuthData.subarray(0, 8).equals(expected)
      if (!ok) {
        this.setTvr(TVR.issuerAuthFailed)
        this.setIssuerAuthFailedCvr()
      }
    }
    if (options.unableToGoOnline) this.setUnableToGoOnlineCvr()
    const approved = options.approved ?? (arc === '00' || arc === 'Y3')
    const type: CryptogramType = approved && !options.cardDeclines ? 'TC' : 'AAC'
    this.data.set('8A', Buffer.from(arc, 'latin1'))
    this.setAcTypeBits(AC_BITS[type], AC_BITS.ARQC)
    this.generate(type, arc)
    return this.all()
  }

  /** A copy of one object's value, protected tags included (for the pinpad's own fields: PP_PAN, PP_TRK2INC…). */
  get(tag: string): Buffer | undefined {
    const v = this.data.get(tag.toUpperCase())
    return v && Buffer.from(v)
  }

  /** A copy of every object known now, protected tags included. */
  all(): Map<string, Buffer> {
    return new Map([...this.data].map(([tag, v]) => [tag, Buffer.from(v)]))
  }

  /**
   * The requested objects as BER-TLV, in the order asked (a tag asked twice comes twice), skipping
   * unknown tags and the protected ones (§6.8.6.3): GOC_EMVDAT, FNC_EMVDAT, PP_EMVDATA.
   */
  tags(list: readonly string[]): Buffer {
    const out: EmvObject[] = []
    for (const raw of list) {
      const tag = raw.toUpperCase()
      const value = this.data.get(tag)
      if (value && !isProtectedTag(tag)) out.push({ tag, value })
    }
    return buildEmv(out)
  }

  private loadCard(): void {
    const c = this.card
    const e = this.emv
    const d = this.data
    d.set('5A', bcd(c.pan.length % 2 ? `${c.pan}F` : c.pan, Math.ceil(c.pan.length / 2)))
    d.set('57', track2Equivalent(c))
    d.set('5F20', Buffer.from(c.holderName, 'latin1'))
    d.set('5F24', bcd(c.expiry, 3))
    d.set('5F25', bcd(e.effectiveDate, 3))
    d.set('5F28', bcd(c.issuerCountry, 2))
    d.set('5F30', bcd(c.serviceCode, 2))
    d.set('5F34', Buffer.of(c.panSequenceNumber))
    d.set('5F2D', Buffer.from(e.languagePreference, 'latin1'))
    d.set('4F', Buffer.from(e.aid, 'hex'))
    d.set('84', Buffer.from(e.aid, 'hex'))
    d.set('9F06', Buffer.from(e.aid, 'hex'))
    d.set('50', Buffer.from(c.applicationLabel, 'latin1'))
    d.set('82', Buffer.from(e.aip, 'hex'))
    d.set('9F07', Buffer.from(e.auc, 'hex'))
    d.set('9F08', Buffer.from(e.appVersion, 'hex'))
    d.set('9F17', Buffer.of(this.state.pinTriesLeft))
    d.set('9F36', Buffer.of(this.atc >> 8, this.atc & 0xff))
    d.set('95', this.tvr)
    d.set('9B', this.tsi)
    // Contactless mag-stripe-only cards offer no ODA (AIP 0000).
    const aip = d.get('82')![0]!
    if (!(aip & (AIP_SDA | AIP_DDA | AIP_CDA))) this.setTvr(TVR.odaNotPerformed)
  }

  private setTerminal(t: EmvTerminalData): void {
    const cashback = t.cashback ?? 0
    checkAmount('amount (9F02)', t.amount)
    checkAmount('cashback (9F03)', cashback)
    checkDigits('date (9A)', t.date, 6)
    checkDigits('time (9F21)', t.time, 6)
    const currency = t.currency ?? '986'
    const country = t.country ?? '076'
    checkDigits('currency (5F2A)', currency, 3)
    checkDigits('country (9F1A)', country, 3)
    const terminalType = t.terminalType ?? '22'
    checkDigits('terminal type (9F35)', terminalType, 2)
    const capabilities = t.terminalCapabilities ?? 'E0F8C8'
    checkHex('terminal capabilities (9F33)', capabilities, 3)
    const version = t.terminalAppVersion ?? this.emv.appVersion
    checkHex('application version (9F09)', version, 2)
    const type = t.transactionType ?? (cashback ? 0x09 : 0x00)
    if (!Number.isInteger(type) || type < 0 || type > 0xff) {
      throw new EmvTerminalDataError('transaction type (9C)', 'expected one byte')
    }
    const un = t.unpredictableNumber ?? this.data.get('9F37') ?? randomBytes(4)
    if (un.length !== 4) throw new EmvTerminalDataError('unpredictable number (9F37)', 'expected 4 bytes')
    this.terminal = t

    const d = this.data
    d.set('9F02', bcd(String(t.amount), 6))
    d.set('9F03', bcd(String(cashback), 6))
    // Binary amounts exist only up to FFFFFFFFh (§6.8.6.2).
    for (const [tag, value] of [['81', t.amount], ['9F04', cashback]] as const) {
      if (value > 0xffffffff) d.delete(tag)
      else d.set(tag, Buffer.alloc(4)).get(tag)!.writeUInt32BE(value)
    }
    d.set('5F2A', bcd(currency, 2))
    d.set('5F36', Buffer.of(0x02))
    d.set('9F1A', bcd(country, 2))
    d.set('9A', bcd(t.date, 3))
    d.set('9F21', bcd(t.time, 3))
    d.set('9C', Buffer.of(type))
    d.set('9F33', Buffer.from(capabilities, 'hex'))
    d.set('9F35', bcd(terminalType, 1))
    d.set('9F09', Buffer.from(version, 'hex'))
    // Kernel data the acquirers ask for (the default tables' tag list includes them).
    if (t.ifdSerialNumber !== undefined) d.set('9F1E', Buffer.from(t.ifdSerialNumber.padStart(8, '0').slice(-8), 'latin1'))
    if (t.sequenceCounter !== undefined) d.set('9F41', bcd(String(t.sequenceCounter % 100_000_000), 4))
    d.set('9F37', Buffer.from(un))

    this.toggleTvr(TVR.exceptionFile, t.onExceptionList === true)
    this.toggleTvr(TVR.floorLimitExceeded, t.floorLimit !== undefined && t.amount > t.floorLimit)
    this.processingRestrictions()
  }

  /** Processing restrictions (Book 3 10.4): versions, effective and expiry dates against 9A. */
  private processingRestrictions(): void {
    const date = this.terminal.date
    const version = this.terminal.terminalAppVersion
    this.toggleTvr(TVR.differentVersions, version !== undefined && version.toUpperCase() !== this.emv.appVersion.toUpperCase())
    // YYMMDD strings compare as dates within one century, which test cards stay in.
    this.toggleTvr(TVR.expired, date > this.card.expiry)
    this.toggleTvr(TVR.notYetEffective, date < this.emv.effectiveDate)
  }

  private generate(type: CryptogramType, arc?: string): void {
    this.generateAcCount++
    this.cryptogram = type
    this.data.set('9F27', Buffer.of(CID[type]))
    this.data.set('9F10', this.iad())
    this.data.set('9F17', Buffer.of(this.state.pinTriesLeft))
    this.data.set('9F26', computeApplicationCryptogram(this.card, this.data, arc))
  }

  private iad(): Buffer {
    if (this.emv.iadFormat === 'visa-cvn10') return Buffer.concat([Buffer.of(0x06, 0x01, 0x0a), this.cvr])
    // DKI 01, CVN 10h, CVR, DAC/IDN, counters (last byte FFh as M/Chip cards send it).
    return Buffer.concat([Buffer.of(0x01, 0x10), this.cvr, Buffer.alloc(2), Buffer.from('00000000000000FF', 'hex')])
  }

  // CVR byte holding the AC types: VIS byte 2 (after the length), M/Chip byte 1.
  private get acByte(): number {
    return this.emv.iadFormat === 'visa-cvn10' ? 1 : 0
  }

  private setAcTypeBits(second: number, first: number): void {
    const i = this.acByte
    this.cvr[i] = (this.cvr[i]! & 0x0f) | (second << 6) | (first << 4)
  }

  private setOfflinePinCvr(ok: boolean): void {
    if (this.emv.iadFormat === 'visa-cvn10') {
      // VIS CVR byte 2: bit 3 offline PIN performed, bit 2 offline PIN failed.
      this.cvr[1] = (this.cvr[1]! & ~0x06) | 0x04 | (ok ? 0 : 0x02)
    } else {
      // M/Chip CVR byte 2: bit 8 offline PIN performed, bit 6 offline PIN successful.
      this.cvr[1] = (this.cvr[1]! & ~0xa0) | 0x80 | (ok ? 0x20 : 0)
    }
  }

  private setIssuerAuthFailedCvr(): void {
    // VIS CVR byte 2 bit 4; M/Chip CVR byte 2 bit 2 (issuer authentication performed, here failed).
    if (this.emv.iadFormat === 'visa-cvn10') this.cvr[1]! |= 0x08
    else this.cvr[1]! |= 0x02
  }

  private setUnableToGoOnlineCvr(): void {
    // VIS CVR byte 2 bit 1; M/Chip CVR byte 4 bit 4 ("unable to go online").
    if (this.emv.iadFormat === 'visa-cvn10') this.cvr[1]! |= 0x01
    else this.cvr[3]! |= 0x08
  }

  private assertBeforeAc(what: string): void {
    if (this.generateAcCount) throw new EmvSequenceError(`${what} after GENERATE AC`)
  }

  private setTvr([i, m]: readonly [number, number]): void {
    this.tvr[i]! |= m
  }

  private clearTvr([i, m]: readonly [number, number]): void {
    this.tvr[i]! &= ~m
  }

  private toggleTvr(bit: readonly [number, number], on: boolean): void {
    if (on) this.setTvr(bit)
    else this.clearTvr(bit)
  }
}
