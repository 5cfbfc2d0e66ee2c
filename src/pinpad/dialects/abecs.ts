/**
 * The TLV ("Abecs") dialect of 2.x pinpads: the tables' version from GIX (§3.2.4), the card read
 * with GCX and its complete tracks with GTK (§3.7.1, §3.3.12), the chip with GOX (§3.7.3) and FCX
 * (§3.7.4), free text with DEX (§3.3.4). The request builders are exported for the tests.
 */
import type { PpData, SpeParams } from '../../abecs/params.js'
import { tabVerId } from '../../abecs/params.js'
import type { CapturedCard } from '../../card/captured-card.js'
import type { ChipOutput, FinishRequest, PaymentRequest, ReadCardOutput } from '../../../machines/types.js'
import type { EmvTables } from '../../tables/types.js'
import type { Dialect } from '../dialect.js'
import type { Pinpad } from '../pinpad.js'
import { allowedRecords, application, checkFallback, emvTags, fromNibbles, holderFromTrack1, keep, methodOf, parseTrack2, selectedApplication, stamp } from '../card-data.js'
import { fitsDsp, toDexMessage } from '../display-text.js'
import { pinKeyIndex, showText } from '../steps.js'
import { UnreadableCardError } from '../../errors.js'

/** SPE_TIMEOUT is X1: whole seconds, 1 to 255 (§3.1.3); longer waits rest on the host's deadline. */
export const speTimeout = (seconds: number): number => Math.min(255, Math.max(1, Math.ceil(seconds)))

export interface GcxContext {
  now: Date
  tables?: EmvTables
  contactless: boolean
  /** Seconds the customer has, for the pinpad's own timeout. */
  customerSeconds?: number
}

/** GCX (§3.7.1): amount, date and time, contactless first, the allowed AID records, the customer's time. */
export function gcxRequest(payment: PaymentRequest, c: GcxContext): Partial<SpeParams> {
  const { date, time } = stamp(c.now)
  const aidList = allowedRecords(c.tables, payment)
  return {
    SPE_AMOUNT: payment.amount,
    SPE_TRNDATE: date,
    SPE_TRNTIME: time,
    // §3.7.1 Observação #1: contactless allowed first; the amount is shown while waiting.
    SPE_GCXOPT: c.contactless ? '10000' : '00000',
    ...(aidList ? { SPE_AIDLIST: aidList } : {}),
    ...(c.customerSeconds !== undefined ? { SPE_TIMEOUT: speTimeout(c.customerSeconds) } : {}),
  }
}

/** GOX (§3.7.3): the acquirer decides ("x1xxx"), DUKPT:TDES PIN, the tags to return, what is left of the customer's time. */
export function goxRequest(amount: number, c: { acquirer?: number; keyIndex: number; tags: string[]; customerSeconds?: number }): Partial<SpeParams> {
  return {
    SPE_ACQREF: c.acquirer ?? 1,
    SPE_AMOUNT: amount,
    SPE_GOXOPT: '01000',
    SPE_MTHDPIN: '3',
    SPE_KEYIDX: c.keyIndex,
    SPE_TAGLIST: c.tags,
    ...(c.customerSeconds !== undefined ? { SPE_TIMEOUT: speTimeout(c.customerSeconds) } : {}),
  }
}

/** FCX (§3.7.4): no answer (2000), approved (0000) or declined (1000) by the acquirer, with its ARC and issuer data. */
export function fcxRequest(finish: FinishRequest): Partial<SpeParams> {
  const arc = (finish.response_code ?? '').slice(-2).padStart(2, '0')
  const approved = finish.success && arc === '00'
  const issuerData = finish.emv_data ? Buffer.from(finish.emv_data, 'hex') : undefined
  return {
    SPE_FCXOPT: !finish.success ? '2000' : approved ? '0000' : '1000',
    ...(finish.success ? { SPE_ARC: arc } : {}),
    ...(issuerData?.length ? { SPE_EMVDATA: issuerData } : {}),
  }
}

async function readCard(pinpad: Pinpad, payment: PaymentRequest, _resume: boolean, signal?: AbortSignal): Promise<ReadCardOutput> {
  const { client, vault, tables } = pinpad
  const seconds = pinpad.customerSeconds()
  const gcx: PpData = await client.call(
    'GCX',
    gcxRequest(payment, { now: pinpad.now(), contactless: pinpad.identity.contactless, ...(tables ? { tables } : {}), ...(seconds !== undefined ? { customerSeconds: seconds } : {}) }),
    pinpad.options(signal),
  )
  // §3.3.12: the complete tracks (and the chip's PAN) come once, through GTK, in clear.
  const gtk: PpData = await client.call('GTK', {}, pinpad.options(signal))
  const track2 = gtk.PP_TRACK2 ? fromNibbles(gtk.PP_TRACK2) : undefined
  const track1 = gtk.PP_TRACK1?.toString('latin1')
  const track3 = gtk.PP_TRACK3 ? fromNibbles(gtk.PP_TRACK3) : undefined
  const type = gcx.PP_CARDTYPE!
  const info = gcx.PP_AIDTABINFO?.[0]
  const acquirer = info ? Number(info.slice(0, 2)) : 0
  const record = info ? Number(info.slice(2, 4)) : 0
  const app = application(tables, acquirer, record)

  if (type === '00') {
    if (!track2) throw new UnreadableCardError('no track could be read')
    const t = parseTrack2(track2)
    checkFallback(t.serviceCode, gcx.PP_ICCSTAT)
    const paymentMethod = payment.magstripe_payment_method ?? 'credit_card'
    const holder = holderFromTrack1(track1)
    return keep(
      vault,
      {
        captureMethod: 'magstripe', contactless: false, paymentMethod, pan: t.pan, expiration: t.expiration, panSequenceNumber: 0, track2,
        ...(track1 ? { track1 } : {}), ...(track3 ? { track3 } : {}), ...(holder ? { holderName: holder } : {}),
      },
      { paymentMethod, contactless: false, chip: false, needsPin: paymentMethod === 'debit_card' },
    )
  }
  const paymentMethod = methodOf(info ? Number(info.slice(4, 6)) : 0)
  if (type === '05') {
    // Contactless simulating a stripe: tracks, no chip steps (§3.7.5). GTK gives track 1 too: it
    // goes into the card hash with the holder's name, as GCR's type 05 on a 1.x pinpad does.
    if (!track2) throw new UnreadableCardError('the contactless card gave no track 2')
    const t = parseTrack2(track2)
    const holder = holderFromTrack1(track1)
    return keep(
      vault,
      {
        captureMethod: 'magstripe', contactless: true, paymentMethod, pan: t.pan, expiration: t.expiration, panSequenceNumber: 0, track2,
        ...(track1 ? { track1 } : {}), ...(holder ? { holderName: holder } : {}), ...(app ? { brand: app.card_brand } : {}),
      },
      { paymentMethod, contactless: true, chip: false, needsPin: false, ...(app ? { brand: app.card_brand } : {}) },
    )
  }
  const pan = gtk.PP_ENCPAN ? fromNibbles(gtk.PP_ENCPAN) : gcx.PP_PAN!
  const holder = gcx.PP_CHNAME?.trim() || undefined
  const card: CapturedCard = {
    captureMethod: 'emv',
    contactless: type === '06',
    paymentMethod,
    pan,
    expiration: gcx.PP_CARDEXP ?? (track2 ? parseTrack2(track2).expiration : ''),
    panSequenceNumber: Number(gcx.PP_PANSEQNO ?? 0),
    track2: track2 ?? '',
    ...(holder ? { holderName: holder } : {}),
    ...(app ? { brand: app.card_brand } : {}),
    ...(gcx.PP_LABEL ? { applicationLabel: gcx.PP_LABEL } : {}),
  }
  return keep(vault, card, { paymentMethod, contactless: type === '06', chip: true, needsPin: false, ...(app ? { brand: app.card_brand } : {}) }, { acquirer, record })
}

async function goOnChip(pinpad: Pinpad, card: CapturedCard, amount: number, signal?: AbortSignal): Promise<ChipOutput> {
  const seconds = pinpad.customerSeconds()
  const where = selectedApplication(card)
  const gox: PpData = await pinpad.client.call(
    'GOX',
    goxRequest(amount, {
      ...(where ? { acquirer: where.acquirer } : {}),
      keyIndex: pinKeyIndex(pinpad),
      tags: emvTags(pinpad.tables, card),
      ...(seconds !== undefined ? { customerSeconds: seconds } : {}),
    }),
    pinpad.options(signal),
  )
  const decision = gox.PP_GOXRES![0]!
  const pinDigit = gox.PP_GOXRES![2]!
  card.emvData = (gox.PP_EMVDATA ?? Buffer.alloc(0)).toString('hex').toUpperCase()
  const pin: ChipOutput['pin'] = pinDigit === '2' ? 'online' : pinDigit === '1' ? 'offline' : 'none'
  if (pin === 'online' && gox.PP_PINBLK && gox.PP_KSN) card.pin = { mode: 'online', block: gox.PP_PINBLK.toString('hex').toUpperCase(), ksn: gox.PP_KSN.toString('hex').toUpperCase() }
  else if (pin === 'offline') card.pin = { mode: 'offline' }
  return { decision: decision === '0' ? 'approved' : decision === '1' ? 'declined' : 'online', pin }
}

export const abecsDialect: Dialect = {
  name: 'abecs',
  async tablesVersion(pinpad, signal) {
    const gix = await pinpad.client.call('GIX', { SPE_IDLIST: [tabVerId(0)] }, pinpad.options(signal))
    return (gix.PP_TABVER00 ?? '0000000000').trim()
  },
  readCard,
  goOnChip,
  async finishChip(pinpad, contactless, finish, signal) {
    const fcx: PpData = await pinpad.client.call('FCX', fcxRequest(finish), { ...pinpad.options(signal), contactlessReread: contactless })
    return { approved: fcx.PP_FCXRES?.[0] === '0' }
  },
  async display(pinpad, text, signal) {
    if (fitsDsp(text)) return showText(pinpad, text, signal)
    await pinpad.client.call('DEX', { DEX_MSG: toDexMessage(text) }, pinpad.options(signal))
  },
}
