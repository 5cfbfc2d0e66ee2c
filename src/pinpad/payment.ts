/**
 * The pinpad side of a payment, step by step, as the device machine invokes them: read the card
 * (GCX, or GCR on a 1.x pinpad), go on chip (GOX/GOC), capture a PIN (GPN), finish (FCX/FNC)
 * and wait for removal (RMC). Card data goes straight into the CardVault; the machine gets a
 * reference and a summary without card data.
 */
import type { PinpadClient, RequestOptions } from '../abecs/client.js'
import type { PpData } from '../abecs/params.js'
import { buildTagList } from '../abecs/emv-tlv.js'
import type { CapturedCard, PaymentMethod } from '../card/captured-card.js'
import type { CardVault } from '../card/vault.js'
import type { EmvTables } from '../tables/types.js'
import type { PinpadInfo } from './identify.js'
import type { CardSummary, ChipOutput, FinishRequest, PaymentRequest, ReadCardOutput } from '../../machines/types.js'
import { cardHolderDisplayName } from '../card/card-hash.js'
import { ChipCardSwipedError, NoApplicationError, UnreadableCardError } from './errors.js'

export interface PaymentDeps {
  client: PinpadClient
  identity: PinpadInfo
  vault: CardVault
  /** The EMV tables loaded in the pinpad (applications per brand and payment method), if known. */
  tables?: EmvTables
  now?: () => Date
  signal?: AbortSignal
  onPrompt?: (message: string) => void
  /** Seconds the customer has left, for the pinpad's own SPE_TIMEOUT (2.x). */
  customerSeconds?: () => number
}

/** SPE_TIMEOUT is X1: whole seconds, 1 to 255 (§3.1.3); longer waits rest on the host's deadline. */
export const speTimeout = (seconds: number): number => Math.min(255, Math.max(1, Math.ceil(seconds)))

/** The chip data the acquirer needs when the tables do not say (GOX/GOC tag list). */
export const DEFAULT_EMV_TAGS = [
  '5F2A', '5F34', '82', '84', '95', '9A', '9C', '9F02', '9F03', '9F09', '9F10', '9F1A', '9F1E',
  '9F26', '9F27', '9F33', '9F34', '9F35', '9F36', '9F37', '9F41', '9F6E',
]

const pad2 = (n: number) => String(n).padStart(2, '0')

function stamp(now: Date) {
  const d = `${pad2(now.getFullYear() % 100)}${pad2(now.getMonth() + 1)}${pad2(now.getDate())}`
  const t = `${pad2(now.getHours())}${pad2(now.getMinutes())}${pad2(now.getSeconds())}`
  return { date: d, time: t }
}

function requestOptions(deps: PaymentDeps): RequestOptions {
  return { ...(deps.signal ? { signal: deps.signal } : {}), ...(deps.onPrompt ? { onNotification: deps.onPrompt } : {}) }
}

/** "AARR" references of the AID records the caller allows (process_payment `applications`). */
function allowedRecords(tables: EmvTables | undefined, request: PaymentRequest): string[] | undefined {
  if (!request.applications?.length || !tables) return undefined
  const refs = tables.applications
    .filter((a) => request.applications!.some((want) => want.brand.toLowerCase() === a.card_brand.toLowerCase() && want.payment_method === a.payment_method))
    .map((a) => `${pad2(a.acquirer_number)}${pad2(a.record_number)}`)
  if (!refs.length) throw new NoApplicationError(request.applications.map((a) => `${a.brand}/${a.payment_method}`).join(', '))
  return refs
}

function application(tables: EmvTables | undefined, acquirer: number, record: number) {
  return tables?.applications.find((a) => a.acquirer_number === acquirer && a.record_number === record)
}

/** T1_APPTYPE (§4.1.1) as the original mapped it: 1 credit, 2 debit. */
const methodOf = (appType: number): PaymentMethod => (appType === 2 ? 'debit_card' : 'credit_card')

function parseTrack2(track2: string) {
  const m = /^(\d{12,19})[=D](\d{4})(\d{3})/.exec(track2)
  if (!m) throw new UnreadableCardError('track 2 is not readable')
  return { pan: m[1]!, expiration: m[2]!, serviceCode: m[3]! }
}

const holderFromTrack1 = (track1: string | undefined) => track1?.split('^')[1]?.trim() || undefined

/** PP_TRACK2/PP_ENCPAN: one nibble per symbol, F padding (§3.1.3.2). */
function fromNibbles(b: Buffer): string {
  const map: Record<string, string> = { a: ':', b: ';', c: '<', d: '=', e: '>', f: '' }
  return [...b.toString('hex')].map((c) => map[c] ?? c).join('')
}

/** A chip card swiped while its chip works must be inserted (service code 2xx/6xx, §6.8.1.1 status "0"). */
function checkFallback(serviceCode: string, iccStatus: string | undefined): void {
  if (/^[26]/.test(serviceCode) && (iccStatus ?? '0') === '0') throw new ChipCardSwipedError()
}

export async function readCard(deps: PaymentDeps, request: PaymentRequest, resume: boolean, tablesVersion?: string): Promise<ReadCardOutput> {
  return deps.identity.abecs ? readCardAbecs(deps, request) : readCardClassic(deps, request, resume, tablesVersion)
}

async function readCardAbecs(deps: PaymentDeps, request: PaymentRequest): Promise<ReadCardOutput> {
  const { client, vault } = deps
  const { date, time } = stamp(deps.now?.() ?? new Date())
  const aidList = allowedRecords(deps.tables, request)
  const gcx: PpData = await client.call(
    'GCX',
    {
      SPE_AMOUNT: request.amount,
      SPE_TRNDATE: date,
      SPE_TRNTIME: time,
      // §3.7.1 Observação #1: contactless allowed first; the amount is shown while waiting.
      SPE_GCXOPT: deps.identity.contactless ? '10000' : '00000',
      ...(aidList ? { SPE_AIDLIST: aidList } : {}),
      // §3.7.1: the pinpad ends the wait for a card with ST_TIMEOUT itself.
      ...(deps.customerSeconds ? { SPE_TIMEOUT: speTimeout(deps.customerSeconds()) } : {}),
    },
    requestOptions(deps),
  )
  // §3.3.12: the complete tracks (and the chip's PAN) come once, through GTK, in clear.
  const gtk: PpData = await client.call('GTK', {}, requestOptions(deps))
  const track2 = gtk.PP_TRACK2 ? fromNibbles(gtk.PP_TRACK2) : undefined
  const track1 = gtk.PP_TRACK1?.toString('latin1')
  const track3 = gtk.PP_TRACK3 ? fromNibbles(gtk.PP_TRACK3) : undefined
  const type = gcx.PP_CARDTYPE!
  const info = gcx.PP_AIDTABINFO?.[0]
  const acquirer = info ? Number(info.slice(0, 2)) : 0
  const record = info ? Number(info.slice(2, 4)) : 0
  const appType = info ? Number(info.slice(4, 6)) : 0
  const app = application(deps.tables, acquirer, record)

  if (type === '00') {
    if (!track2) throw new UnreadableCardError('no track could be read')
    const t = parseTrack2(track2)
    checkFallback(t.serviceCode, gcx.PP_ICCSTAT)
    const paymentMethod = request.magstripe_payment_method ?? 'credit_card'
    const holder = holderFromTrack1(track1)
    return keep(vault, {
      captureMethod: 'magstripe', contactless: false, paymentMethod, pan: t.pan, expiration: t.expiration, panSequenceNumber: 0, track2,
      ...(track1 ? { track1 } : {}), ...(track3 ? { track3 } : {}), ...(holder ? { holderName: holder } : {}),
    }, {
      paymentMethod,
      contactless: false,
      chip: false,
      needsPin: paymentMethod === 'debit_card',
    })
  }
  const paymentMethod = methodOf(appType)
  if (type === '05') {
    // Contactless simulating a stripe: tracks, no chip steps (§3.7.5). GTK gives track 1 too: it
    // goes into the card hash with the holder's name, as GCR's type 05 on a 1.x pinpad does.
    if (!track2) throw new UnreadableCardError('the contactless card gave no track 2')
    const t = parseTrack2(track2)
    const holder = holderFromTrack1(track1)
    return keep(vault, {
      captureMethod: 'magstripe', contactless: true, paymentMethod, pan: t.pan, expiration: t.expiration, panSequenceNumber: 0, track2,
      ...(track1 ? { track1 } : {}), ...(holder ? { holderName: holder } : {}), ...(app ? { brand: app.card_brand } : {}),
    }, {
      paymentMethod,
      contactless: true,
      chip: false,
      needsPin: false,
      ...(app ? { brand: app.card_brand } : {}),
    })
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
  return keep(vault, card, {
    paymentMethod,
    contactless: type === '06',
    chip: true,
    needsPin: false,
    ...(app ? { brand: app.card_brand } : {}),
  }, { acquirer, record })
}

async function readCardClassic(deps: PaymentDeps, request: PaymentRequest, resume: boolean, tablesVersion?: string): Promise<ReadCardOutput> {
  const { client, vault } = deps
  const { date, time } = stamp(deps.now?.() ?? new Date())
  const aidList = allowedRecords(deps.tables, request)
  // simple_initialize skipped the sync, so the bridge has no version of its own: the pinpad's
  // tables are taken as they are. Zeros made GCR answer 020, and the reload that followed loaded
  // another version than GCR_TABVER announced, so the resumed GCR answered 020 again.
  const version = resume ? '' : (tablesVersion ?? (await client.call('GTS', { GTS_ACQIDX: '00' }, requestOptions(deps))).GTS_TABVER)
  const result = await client.request(
    'GCR',
    resume
      ? { resume: true }
      : {
          GCR_ACQIDXREQ: '00',
          GCR_APPTYPREQ: aidList ? '00' : '99',
          GCR_AMOUNT: request.amount,
          GCR_DATE: date,
          GCR_TIME: time,
          // A10, space-padded like the TLI_TABVER the tables were loaded with: padding a version
          // shorter than 10 with "0" made every GCR answer 020, and reloading did not help.
          GCR_TABVER: version.slice(0, 10),
          GCR_IDAPP: aidList ?? [],
          GCR_CTLSON: deps.identity.contactless ? '1' : '0',
        },
    requestOptions(deps),
  )
  const gcr = result.response
  const track1 = gcr.GCR_TRK1.slice(0, gcr.GCR_TRK1LEN) || undefined
  const track2 = gcr.GCR_TRK2.slice(0, gcr.GCR_TRK2LEN)
  const track3 = gcr.GCR_TRK3.slice(0, gcr.GCR_TRK3LEN) || undefined
  const acquirer = Number(gcr.GCR_ACQIDX)
  const record = Number(gcr.GCR_RECIDX)
  const app = application(deps.tables, acquirer, record)
  if (gcr.GCR_CARDTYPE === '00' || gcr.GCR_CARDTYPE === '05') {
    if (!track2) throw new UnreadableCardError('no track could be read')
    const t = parseTrack2(track2)
    const contactless = gcr.GCR_CARDTYPE === '05'
    if (!contactless) checkFallback(t.serviceCode, gcr.GCR_STATCHIP)
    const paymentMethod = contactless ? methodOf(Number(gcr.GCR_APPTYPE)) : (request.magstripe_payment_method ?? 'credit_card')
    const holder = holderFromTrack1(track1)
    return keep(vault, {
      captureMethod: 'magstripe', contactless, paymentMethod, pan: t.pan, expiration: t.expiration, panSequenceNumber: 0, track2,
      ...(track1 ? { track1 } : {}), ...(track3 ? { track3 } : {}), ...(holder ? { holderName: holder } : {}),
    }, { paymentMethod, contactless, chip: false, needsPin: !contactless && paymentMethod === 'debit_card' })
  }
  const paymentMethod = methodOf(Number(gcr.GCR_APPTYPE))
  const holder = gcr.GCR_CHNAME.trim() || undefined
  return keep(vault, {
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
  }, { paymentMethod, contactless: gcr.GCR_CARDTYPE === '06', chip: true, needsPin: false, ...(app ? { brand: app.card_brand } : {}) }, { acquirer, record })
}

/** Where the card's application sits in the tables (for the GOX/GOC parameters and tag list). */
const selected = new WeakMap<CapturedCard, { acquirer: number; record: number }>()

function keep(vault: CardVault, card: CapturedCard, summary: Omit<CardSummary, 'holderName'>, where?: { acquirer: number; record: number }): ReadCardOutput {
  if (where) selected.set(card, where)
  const holderName = card.holderName ? cardHolderDisplayName(card.holderName) : undefined
  return { kind: 'card', cardRef: vault.put(card), card: { ...summary, ...(holderName ? { holderName } : {}) } }
}

function cardOf(vault: CardVault, cardRef: string): CapturedCard {
  const card = vault.get(cardRef)
  if (!card) throw new UnreadableCardError('the card data is gone')
  return card
}

const keyIndex = (identity: PinpadInfo) => identity.dukptKeys[0] ?? 1

export async function goOnChip(deps: PaymentDeps, cardRef: string, amount: number): Promise<ChipOutput> {
  const { client, identity, vault } = deps
  const card = cardOf(vault, cardRef)
  const where = selected.get(card)
  const tags = (where && application(deps.tables, where.acquirer, where.record)?.emv_tags) || DEFAULT_EMV_TAGS
  let decision: string
  let pinDigit: string
  let emvData: Buffer
  let pinBlock: Buffer | undefined
  let ksn: Buffer | undefined
  if (identity.abecs) {
    const gox: PpData = await client.call(
      'GOX',
      {
        SPE_ACQREF: where?.acquirer ?? 1,
        SPE_AMOUNT: amount,
        // "x1xxx": the transaction cannot be approved offline; the acquirer decides (§3.1.3 SPE_GOXOPT).
        SPE_GOXOPT: '01000',
        SPE_MTHDPIN: '3',
        SPE_KEYIDX: keyIndex(identity),
        SPE_TAGLIST: tags,
        // §3.7.3: inactivity on the PIN screen; what is left of the customer's time.
        ...(deps.customerSeconds ? { SPE_TIMEOUT: speTimeout(deps.customerSeconds()) } : {}),
      },
      requestOptions(deps),
    )
    decision = gox.PP_GOXRES![0]!
    pinDigit = gox.PP_GOXRES![2]!
    emvData = gox.PP_EMVDATA ?? Buffer.alloc(0)
    pinBlock = gox.PP_PINBLK
    ksn = gox.PP_KSN
  } else {
    const acquirer = where?.acquirer ?? 0
    const goc = await client.call(
      'GOC',
      {
        GOC_AMOUNT: amount,
        GOC_CASHBACK: 0,
        GOC_EXCLIST: '0',
        GOC_CONNECT: '1',
        GOC_RUF1: '0',
        GOC_METHOD: '3',
        GOC_KEYIDX: keyIndex(identity),
        GOC_WKENC: '0'.repeat(32),
        GOC_RISKMAN: '0',
        GOC_FLRLIMIT: '00000000',
        GOC_TPBRS: 0,
        GOC_TVBRS: '00000000',
        GOC_MTPBRS: 0,
        // §3.6.3: acquirer 01 wants transaction type + PIN bypass, 02 the PIN screen message.
        GOC_ACQPR: acquirer === 1 ? '000' : acquirer === 2 ? 'DIGITE A SENHA'.padEnd(32) : '',
        GOC_TAGS1: buildTagList(tags).toString('hex').toUpperCase(),
        GOC_TAGS2: '',
      },
      requestOptions(deps),
    )
    decision = goc.GOC_DECISION
    pinDigit = goc.GOC_PINONL === '1' ? '2' : goc.GOC_PINOFF === '1' ? '1' : '0'
    emvData = Buffer.from(goc.GOC_EMVDAT, 'hex')
    if (goc.GOC_PINONL === '1') {
      pinBlock = Buffer.from(goc.GOC_PINBLK, 'hex')
      ksn = Buffer.from(goc.GOC_KSN, 'hex')
    }
  }
  card.emvData = emvData.toString('hex').toUpperCase()
  const pin: ChipOutput['pin'] = pinDigit === '2' ? 'online' : pinDigit === '1' ? 'offline' : 'none'
  if (pin === 'online' && pinBlock && ksn) card.pin = { mode: 'online', block: pinBlock.toString('hex').toUpperCase(), ksn: ksn.toString('hex').toUpperCase() }
  else if (pin === 'offline') card.pin = { mode: 'offline' }
  return { decision: decision === '0' ? 'approved' : decision === '1' ? 'declined' : 'online', pin }
}

/** GPN for a magstripe card: DUKPT:TDES, PAN of the card read (§3.3.11). */
export async function capturePin(deps: PaymentDeps, cardRef: string, amount: number): Promise<void> {
  const { client, identity, vault } = deps
  const card = cardOf(vault, cardRef)
  const value = (amount / 100).toLocaleString('pt-BR', { minimumFractionDigits: 2 })
  const gpn = await client.call(
    'GPN',
    {
      GPN_METHOD: '3',
      GPN_KEYIDX: keyIndex(identity),
      GPN_WKENC: '0'.repeat(32),
      GPN_PANLEN: card.pan.length,
      GPN_PAN: card.pan,
      entries: [{ GPN_MIN: 4, GPN_MAX: 12, GPN_MSG: `VALOR ${value}`.padEnd(16).slice(0, 16) + 'SENHA:' }],
    },
    requestOptions(deps),
  )
  card.pin = { mode: 'online', block: gpn.GPN_PINBLK, ksn: gpn.GPN_KSN }
}

/** The acquirer's answer to the chip (FCX/FNC, §3.7.4/§3.6.4). The ARC is the response code's last two characters. */
export async function finishChip(deps: PaymentDeps, contactless: boolean, finish: FinishRequest): Promise<{ approved: boolean }> {
  const { client, identity } = deps
  const arc = (finish.response_code ?? '').slice(-2).padStart(2, '0')
  const approved = finish.success && arc === '00'
  const issuerData = finish.emv_data ? Buffer.from(finish.emv_data, 'hex') : undefined
  if (identity.abecs) {
    const fcx: PpData = await client.call(
      'FCX',
      {
        SPE_FCXOPT: !finish.success ? '2000' : approved ? '0000' : '1000',
        ...(finish.success ? { SPE_ARC: arc } : {}),
        ...(issuerData?.length ? { SPE_EMVDATA: issuerData } : {}),
      },
      { ...requestOptions(deps), contactlessReread: contactless },
    )
    return { approved: fcx.PP_FCXRES?.[0] === '0' }
  }
  const fnc = await client.call(
    'FNC',
    {
      FNC_COMMST: finish.success ? '0' : '1',
      FNC_ISSMODE: '0',
      FNC_ARC: finish.success ? arc : '00',
      FNC_ISSDAT: finish.success && issuerData ? issuerData.toString('hex').toUpperCase() : '',
      FNC_ACQPR: '',
      FNC_TAGS: '',
    },
    requestOptions(deps),
  )
  return { approved: fnc.FNC_DECISION === '0' }
}

/** RMC: shows the message and waits until the card leaves the slot (§3.3.14). */
export async function removeCard(deps: PaymentDeps, message: string): Promise<void> {
  await deps.client.call('RMC', { RMC_MSG: message.padEnd(32).slice(0, 32) }, requestOptions(deps))
}

