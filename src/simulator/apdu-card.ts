/**
 * A test card's chip as CHP (§3.3.2) and GEN/04 (§3.8.2–3.8.4) reach it: raw APDUs. A small EMV
 * application, enough for a host that drives a card itself: SELECT (PSE, PPSE, AID by partial name),
 * GET PROCESSING OPTIONS, READ RECORD, GET DATA (ATC, PIN Try Counter), VERIFY (plaintext PIN, format
 * 2), GENERATE AC (the card grants what P1 asks) and, for a contact card (T=0), GET RESPONSE: a command
 * with data to return answers 61xx first, as §6.5.2.3 leaves that to the host. Contact cards answer to
 * the EMV basic ATR for T=0; contactless ones to the PC/SC part 3 ATR of an ISO 14443-4 card.
 */
import { buildEmv, emvMap, type EmvObject } from '../abecs/emv-tlv.js'
import { iccMasterKey, retailMac, sessionKey, type EmvCardState } from './emv-card.js'
import { track2Equivalent, type TestCard } from './cards.js'

const PSE = Buffer.from('1PAY.SYS.DDF01', 'latin1')
const PPSE = Buffer.from('2PAY.SYS.DDF01', 'latin1')
const sw = (hex: string) => Buffer.from(hex, 'hex')
const tlv = (tag: string, value: Buffer): EmvObject => ({ tag, value })
const bcd = (digits: string) => Buffer.from(digits.length % 2 ? `${digits}F` : digits, 'hex')
/** CDOL1 of the test cards: amount, other amount, country, TVR, currency, date, type, UN (Book 2 table 26). */
const CDOL1 = Buffer.from('9F02069F03069F1A0295055F2A029A039C019F3704', 'hex')

export class ApduCard {
  readonly atr: Buffer
  #selected = false
  #pending: Buffer | undefined

  constructor(
    readonly card: TestCard,
    readonly contactless: boolean,
    readonly state: EmvCardState,
  ) {
    this.atr = contactless ? sw('3B8080010101') : sw('3B600000')
  }

  /** One C-APDU in, the R-APDU (data + SW1 SW2) out. */
  transmit(apdu: Buffer): Buffer {
    if (apdu.length < 4) return sw('6700')
    const [cla, ins, p1, p2] = apdu
    const lc = apdu.length > 5 ? apdu[4]! : 0
    const data = apdu.subarray(5, 5 + lc)
    if (cla === 0x00 && ins === 0xc0) return this.#getResponse()
    this.#pending = undefined
    if (cla !== 0x00 && cla !== 0x80) return sw('6E00')
    const answer = this.#dispatch(cla!, ins!, p1!, p2!, data)
    // T=0: data comes back through GET RESPONSE (§3.3.2 "Observações").
    if (!this.contactless && answer.length > 2 && answer.subarray(-2).equals(sw('9000'))) {
      this.#pending = answer.subarray(0, -2)
      return Buffer.of(0x61, Math.min(0xff, this.#pending.length))
    }
    return answer
  }

  #getResponse(): Buffer {
    const pending = this.#pending
    this.#pending = undefined
    return pending ? Buffer.concat([pending, sw('9000')]) : sw('6985')
  }

  #dispatch(cla: number, ins: number, p1: number, p2: number, data: Buffer): Buffer {
    const emv = this.card.emv
    if (!emv) return sw('6A81')
    if (cla === 0x00 && ins === 0xa4) return this.#select(p1, data)
    // GET PROCESSING OPTIONS, response format 1: AIP, then an AFL of one record in SFI 2.
    if (cla === 0x80 && ins === 0xa8) return this.#selected ? ok([tlv('80', Buffer.concat([Buffer.from(emv.aip, 'hex'), sw('10010100')]))]) : sw('6985')
    if (cla === 0x00 && ins === 0xb2) return this.#readRecord(p1, p2)
    if (cla === 0x80 && ins === 0xca) return this.#getData((p1 << 8) | p2)
    if (cla === 0x00 && ins === 0x20) return this.#verify(p2, data)
    if (cla === 0x80 && ins === 0xae) return this.#generateAc(p1, data)
    return sw('6D00')
  }

  #select(p1: number, name: Buffer): Buffer {
    if (p1 !== 0x04) return sw('6A86')
    const emv = this.card.emv!
    const aid = Buffer.from(emv.aid, 'hex')
    const entry = tlv('61', buildEmv([tlv('4F', aid), tlv('50', Buffer.from(this.card.applicationLabel, 'latin1')), tlv('87', Buffer.of(1))]))
    if (name.equals(PSE) && !this.contactless) return ok([tlv('84', PSE), tlv('A5', buildEmv([tlv('88', Buffer.of(1))]))], '6F')
    if (name.equals(PPSE) && this.contactless) return ok([tlv('84', PPSE), tlv('A5', buildEmv([tlv('BF0C', buildEmv([entry]))]))], '6F')
    // Partial name selection (EMV Book 1 §12.3.3): the AID starts with what was asked for.
    if (name.length >= 5 && aid.subarray(0, name.length).equals(name)) {
      this.#selected = true
      const fci = buildEmv([tlv('50', Buffer.from(this.card.applicationLabel, 'latin1')), tlv('87', Buffer.of(1)), tlv('5F2D', Buffer.from(emv.languagePreference, 'latin1'))])
      return ok([tlv('84', aid), tlv('A5', fci)], '6F')
    }
    return sw('6A82')
  }

  #readRecord(record: number, p2: number): Buffer {
    const sfi = p2 >> 3
    const emv = this.card.emv!
    if ((p2 & 7) !== 4) return sw('6A86')
    if (sfi === 1 && record === 1 && !this.contactless) {
      const entry = buildEmv([tlv('4F', Buffer.from(emv.aid, 'hex')), tlv('50', Buffer.from(this.card.applicationLabel, 'latin1')), tlv('87', Buffer.of(1))])
      return ok([tlv('61', entry)], '70')
    }
    if (sfi !== 2 || record !== 1 || !this.#selected) return sw('6A83')
    const c = this.card
    return ok(
      [
        tlv('57', track2Equivalent(c)),
        tlv('5A', bcd(c.pan)),
        tlv('5F20', Buffer.from(c.holderName, 'latin1')),
        tlv('5F24', Buffer.from(c.expiry, 'hex')),
        tlv('5F25', Buffer.from(emv.effectiveDate, 'hex')),
        tlv('5F28', Buffer.from(c.issuerCountry.padStart(4, '0'), 'hex')),
        tlv('5F30', Buffer.from(c.serviceCode.padStart(4, '0'), 'hex')),
        tlv('5F34', Buffer.of(c.panSequenceNumber)),
        tlv('9F07', Buffer.from(emv.auc, 'hex')),
        tlv('9F08', Buffer.from(emv.appVersion, 'hex')),
        tlv('8C', CDOL1),
      ],
      '70',
    )
  }

  #getData(tag: number): Buffer {
    if (tag === 0x9f36) return ok([tlv('9F36', Buffer.of(this.state.atc >> 8, this.state.atc & 0xff))])
    if (tag === 0x9f17) return ok([tlv('9F17', Buffer.of(this.state.pinTriesLeft))])
    return sw('6A88')
  }

  /** VERIFY, plaintext offline PIN (P2 80h, block 2L PP…PF…). */
  #verify(p2: number, block: Buffer): Buffer {
    if (p2 !== 0x80) return sw('6A86')
    const nibbles = block.toString('hex').toUpperCase()
    const length = parseInt(nibbles[1] ?? '0', 16)
    const pin = nibbles.slice(2, 2 + length)
    if (block.length !== 8 || nibbles[0] !== '2' || length < 4 || length > 12 || !/^\d+$/.test(pin) || !/^F*$/.test(nibbles.slice(2 + length))) return sw('6A80')
    if (this.state.pinTriesLeft <= 0) return sw('6983')
    if (pin === this.card.pin) {
      this.state.pinTriesLeft = this.card.emv!.pinTryLimit
      return sw('9000')
    }
    this.state.pinTriesLeft--
    return Buffer.of(0x63, 0xc0 | this.state.pinTriesLeft)
  }

  /** GENERATE AC: the card grants the cryptogram type P1 asks for, a MAC over CDOL1 data, AIP and ATC. */
  #generateAc(p1: number, cdolData: Buffer): Buffer {
    if (!this.#selected) return sw('6985')
    const cid = p1 & 0xc0
    this.state.atc = (this.state.atc + 1) & 0xffff
    const atc = Buffer.of(this.state.atc >> 8, this.state.atc & 0xff)
    const key = sessionKey(iccMasterKey(this.card), this.state.atc)
    const ac = retailMac(key, Buffer.concat([cdolData, Buffer.from(this.card.emv!.aip, 'hex'), atc]))
    return ok([tlv('9F27', Buffer.of(cid)), tlv('9F36', atc), tlv('9F26', ac), tlv('9F10', Buffer.from('06010A03000000', 'hex'))], '77')
  }
}

function ok(objects: EmvObject[], template?: string): Buffer {
  const body = buildEmv(objects)
  return Buffer.concat([template ? buildEmv([tlv(template, body)]) : body, sw('9000')])
}

/** The tags of an R-APDU's data (tests and hosts reading what came back). */
export const apduData = (rapdu: Buffer): Map<string, Buffer> => emvMap(rapdu.subarray(0, -2))
