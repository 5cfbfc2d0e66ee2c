/**
 * The classic dialect of 1.x pinpads: the tables' version from GTS (§3.5.1), the card read with
 * GCR (§3.6.1, and its 020 "reload the tables, then GCR again"), the chip with GOC (§3.6.3) and
 * FNC (§3.6.4); free text only through DSP. The request builders are exported for the tests.
 */
import type { GcrParams } from '../../abecs/commands/card-classic.js'
import { buildTagList } from '../../abecs/emv-tlv.js'
import { ST } from '../../abecs/return-codes.js'
import { PinpadStatusError } from '../../abecs/status-error.js'
import type { CapturedCard } from '../../card/captured-card.js'
import type { ChipOutput, FinishRequest, PaymentRequest, ReadCardOutput } from '../../../machines/types.js'
import type { EmvTables } from '../../tables/types.js'
import type { Dialect } from '../dialect.js'
import type { Pinpad } from '../pinpad.js'
import { allowedRecords, application, checkFallback, emvTags, holderFromTrack1, keep, methodOf, parseTrack2, selectedApplication, stamp } from '../card-data.js'
import { pinKeyIndex, showText } from '../steps.js'
import { UnreadableCardError } from '../../errors.js'

/** GCR (§3.6.1) for all acquirers: amount, date and time, the tables' version, the allowed AID records. */
export function gcrRequest(payment: PaymentRequest, c: { now: Date; tables?: EmvTables; tablesVersion: string; contactless: boolean }): GcrParams {
  const { date, time } = stamp(c.now)
  const aidList = allowedRecords(c.tables, payment)
  return {
    GCR_ACQIDXREQ: '00',
    GCR_APPTYPREQ: aidList ? '00' : '99',
    GCR_AMOUNT: payment.amount,
    GCR_DATE: date,
    GCR_TIME: time,
    // A10, space-padded like the TLI_TABVER the tables were loaded with: padding a version
    // shorter than 10 with "0" made every GCR answer 020, and reloading did not help.
    GCR_TABVER: c.tablesVersion.slice(0, 10),
    GCR_IDAPP: aidList ?? [],
    GCR_CTLSON: c.contactless ? '1' : '0',
  }
}

/** GOC (§3.6.3): online decision (GOC_CONNECT 1), DUKPT:TDES PIN, the acquirer's own data, the tags to return. */
export function gocRequest(amount: number, c: { acquirer: number; keyIndex: number; tags: string[] }) {
  return {
    GOC_AMOUNT: amount,
    GOC_CASHBACK: 0,
    GOC_EXCLIST: '0',
    GOC_CONNECT: '1',
    GOC_RUF1: '0',
    GOC_METHOD: '3',
    GOC_KEYIDX: c.keyIndex,
    GOC_WKENC: '0'.repeat(32),
    GOC_RISKMAN: '0',
    GOC_FLRLIMIT: '00000000',
    GOC_TPBRS: 0,
    GOC_TVBRS: '00000000',
    GOC_MTPBRS: 0,
    // §3.6.3: acquirer 01 wants transaction type + PIN bypass, 02 the PIN screen message.
    GOC_ACQPR: c.acquirer === 1 ? '000' : c.acquirer === 2 ? 'DIGITE A SENHA'.padEnd(32) : '',
    GOC_TAGS1: buildTagList(c.tags).toString('hex').toUpperCase(),
    GOC_TAGS2: '',
  }
}

/** FNC (§3.6.4): whether the acquirer answered, its ARC and issuer data. */
export function fncRequest(finish: FinishRequest) {
  const arc = (finish.response_code ?? '').slice(-2).padStart(2, '0')
  const issuerData = finish.emv_data ? Buffer.from(finish.emv_data, 'hex') : undefined
  return {
    FNC_COMMST: finish.success ? '0' : '1',
    FNC_ISSMODE: '0',
    FNC_ARC: finish.success ? arc : '00',
    FNC_ISSDAT: finish.success && issuerData ? issuerData.toString('hex').toUpperCase() : '',
    FNC_ACQPR: '',
    FNC_TAGS: '',
  }
}

async function tablesVersion(pinpad: Pinpad, signal?: AbortSignal): Promise<string> {
  return (await pinpad.client.call('GTS', { GTS_ACQIDX: '00' }, pinpad.options(signal))).GTS_TABVER.trim()
}

async function readCard(pinpad: Pinpad, payment: PaymentRequest, resume: boolean, signal?: AbortSignal): Promise<ReadCardOutput> {
  const { client, vault, tables } = pinpad
  let result
  try {
    // simple_initialize skipped the sync, so the bridge has no version of its own: the pinpad's
    // tables are taken as they are (zeros made GCR answer 020 for a version it never loads).
    const version = resume ? '' : (tables?.version ?? (await tablesVersion(pinpad, signal)))
    result = await client.request(
      'GCR',
      resume ? { resume: true } : gcrRequest(payment, { now: pinpad.now(), ...(tables ? { tables } : {}), tablesVersion: version, contactless: pinpad.identity.contactless }),
      pinpad.options(signal),
    )
  } catch (err) {
    // §3.6.1: 020 means "reload the tables, then GCR again".
    if (err instanceof PinpadStatusError && err.status === ST.TABVERDIF) return { kind: 'tables-outdated' }
    throw err
  }
  const gcr = result.response
  const track1 = gcr.GCR_TRK1.slice(0, gcr.GCR_TRK1LEN) || undefined
  const track2 = gcr.GCR_TRK2.slice(0, gcr.GCR_TRK2LEN)
  const track3 = gcr.GCR_TRK3.slice(0, gcr.GCR_TRK3LEN) || undefined
  const acquirer = Number(gcr.GCR_ACQIDX)
  const record = Number(gcr.GCR_RECIDX)
  const app = application(tables, acquirer, record)
  if (gcr.GCR_CARDTYPE === '00' || gcr.GCR_CARDTYPE === '05') {
    if (!track2) throw new UnreadableCardError('no track could be read')
    const t = parseTrack2(track2)
    const contactless = gcr.GCR_CARDTYPE === '05'
    if (!contactless) checkFallback(t.serviceCode, gcr.GCR_STATCHIP)
    const paymentMethod = contactless ? methodOf(Number(gcr.GCR_APPTYPE)) : (payment.magstripe_payment_method ?? 'credit_card')
    const holder = holderFromTrack1(track1)
    return keep(
      vault,
      {
        captureMethod: 'magstripe', contactless, paymentMethod, pan: t.pan, expiration: t.expiration, panSequenceNumber: 0, track2,
        ...(track1 ? { track1 } : {}), ...(track3 ? { track3 } : {}), ...(holder ? { holderName: holder } : {}),
      },
      { paymentMethod, contactless, chip: false, needsPin: !contactless && paymentMethod === 'debit_card' },
    )
  }
  const paymentMethod = methodOf(Number(gcr.GCR_APPTYPE))
  const holder = gcr.GCR_CHNAME.trim() || undefined
  return keep(
    vault,
    {
      captureMethod: 'emv',
      contactless: gcr.GCR_CARDTYPE === '06',
      paymentMethod,
      pan: gcr.GCR_PAN.slice(0, gcr.GCR_PANLEN),
      expiration: gcr.GCR_CARDEXP,
      panSequenceNumber: Number(gcr.GCR_PANSEQNO),
      track2,
      ...(track1 ? { track1 } : {}),
      ...(holder ? { holderName: holder } : {}),
      ...(app ? { brand: app.card_brand } : {}),
      ...(gcr.GCR_APPLABEL ? { applicationLabel: gcr.GCR_APPLABEL } : {}),
    },
    { paymentMethod, contactless: gcr.GCR_CARDTYPE === '06', chip: true, needsPin: false, ...(app ? { brand: app.card_brand } : {}) },
    { acquirer, record },
  )
}

async function goOnChip(pinpad: Pinpad, card: CapturedCard, amount: number, signal?: AbortSignal): Promise<ChipOutput> {
  const goc = await pinpad.client.call(
    'GOC',
    gocRequest(amount, { acquirer: selectedApplication(card)?.acquirer ?? 0, keyIndex: pinKeyIndex(pinpad), tags: emvTags(pinpad.tables, card) }),
    pinpad.options(signal),
  )
  const pinDigit = goc.GOC_PINONL === '1' ? '2' : goc.GOC_PINOFF === '1' ? '1' : '0'
  card.emvData = Buffer.from(goc.GOC_EMVDAT, 'hex').toString('hex').toUpperCase()
  const pin: ChipOutput['pin'] = pinDigit === '2' ? 'online' : pinDigit === '1' ? 'offline' : 'none'
  const hex = (h: string) => Buffer.from(h, 'hex').toString('hex').toUpperCase()
  if (pin === 'online') card.pin = { mode: 'online', block: hex(goc.GOC_PINBLK), ksn: hex(goc.GOC_KSN) }
  else if (pin === 'offline') card.pin = { mode: 'offline' }
  return { decision: goc.GOC_DECISION === '0' ? 'approved' : goc.GOC_DECISION === '1' ? 'declined' : 'online', pin }
}

export const classicDialect: Dialect = {
  name: 'classic',
  tablesVersion,
  readCard,
  goOnChip,
  async finishChip(pinpad, _contactless, finish, signal) {
    const fnc = await pinpad.client.call('FNC', fncRequest(finish), pinpad.options(signal))
    return { approved: fnc.FNC_DECISION === '0' }
  },
  display: (pinpad, text, signal) => showText(pinpad, text, signal),
}
