/** Card reading on the virtual pinpad: GCR (§6.8.1), GCX (§6.9.1), GED (§6.9.2); GTK is in tracks.ts. */
import { ST } from '../../abecs/return-codes.js'
import { isGcrResume, type GcrParams, type GcrResponse } from '../../abecs/commands/index.js'
import type { AidRecord } from '../../abecs/tables.js'
import type { PpData } from '../../abecs/params.js'
import { encryptPanField, encryptPanInTrack } from '../../abecs/pan-crypt.js'
import { cardType, incompleteTrack1, incompleteTrack2, maskedPan, track1, track2 } from '../cards.js'
import { cardPrompt, contactlessAllowed, readCard, type CardSession, type ReadRequest } from '../card-session.js'
import { ok, fail, MAX_EMV_DATA, type HandlerContext, type HandlerTable } from './types.js'

const pad2 = (n: number) => String(n).padStart(2, '0')

/** §6.8.1: candidate records for GCR. */
function gcrCandidates(aids: AidRecord[], p: GcrParams): AidRecord[] {
  return aids.filter((r) => {
    if (r.T1_ICCSTD !== '03') return false
    const type = Number(p.GCR_APPTYPREQ)
    if (type === 0) return p.GCR_IDAPP.includes(`${pad2(r.TAB_ACQ)}${r.TAB_RECIDX}`)
    if (type !== 99 && r.T1_APPTYPE !== type) return false
    if (p.GCR_ACQIDXREQ !== '00' && r.TAB_ACQ !== Number(p.GCR_ACQIDXREQ)) return false
    return true
  })
}

/** §6.9.1: candidate records for GCX. */
function gcxCandidates(aids: AidRecord[], p: { SPE_AIDLIST?: string[]; SPE_APPTYPE?: number[]; SPE_ACQREF?: number }): AidRecord[] {
  return aids.filter((r) => {
    if (r.T1_ICCSTD !== '03') return false
    if (p.SPE_AIDLIST) return p.SPE_AIDLIST.includes(`${pad2(r.TAB_ACQ)}${r.TAB_RECIDX}`)
    if (p.SPE_APPTYPE && !p.SPE_APPTYPE.includes(r.T1_APPTYPE)) return false
    if (p.SPE_ACQREF !== undefined && r.TAB_ACQ !== p.SPE_ACQREF) return false
    return true
  })
}

/** GCR_ACQRD for acquirers 01 and 02 (§3.6.1); none for the others. */
function acquirerData(s: CardSession): string {
  const aid = s.card.emv?.aid ?? ''
  if (s.aid?.TAB_ACQ === 1) {
    return `${pad2(aid.length / 2)}${aid.padEnd(32, 'F')}${s.card.applicationLabel.padEnd(16)}${s.card.applicationLabel.padEnd(16)}`
  }
  if (s.aid?.TAB_ACQ === 2) return `9F0702${s.card.emv?.auc ?? 'FF00'}`
  return ''
}

function gcrResponse(s: CardSession, statchip: string): GcrResponse {
  const mag = s.kind === 'magstripe' || s.kind === 'contactless-magstripe'
  const t1 = mag ? track1(s.card) : ''
  const t2 = track2(s.card)
  const chip = !mag || s.kind === 'contactless-magstripe'
  return {
    GCR_CARDTYPE: s.kind === 'magstripe' ? '00' : s.kind === 'contactless-magstripe' ? '05' : s.kind === 'chip' ? '03' : '06',
    GCR_STATCHIP: s.kind === 'magstripe' ? statchip : '0',
    GCR_APPTYPE: chip && s.aid ? pad2(s.aid.T1_APPTYPE) : '00',
    GCR_ACQIDX: chip && s.aid ? pad2(s.aid.TAB_ACQ) : '00',
    GCR_RECIDX: chip && s.aid ? s.aid.TAB_RECIDX : '00',
    GCR_TRK1LEN: t1.length,
    GCR_TRK1: t1,
    GCR_TRK2LEN: t2.length,
    GCR_TRK2: t2,
    GCR_TRK3LEN: 0,
    GCR_TRK3: '',
    GCR_PANLEN: chip ? s.card.pan.length : 0,
    GCR_PAN: chip ? s.card.pan : '',
    GCR_PANSEQNO: chip ? pad2(s.card.panSequenceNumber) : '00',
    GCR_APPLABEL: chip ? s.card.applicationLabel : '',
    GCR_SRVCODE: s.card.serviceCode,
    GCR_CHNAME: chip ? s.card.holderName : '',
    GCR_CARDEXP: chip ? s.card.expiry : '000000',
    GCR_RUF1: '0'.repeat(29),
    GCR_ISSCNTRY: chip ? s.card.issuerCountry : '000',
    GCR_ACQRD: chip ? acquirerData(s) : '',
  }
}

/**
 * "PAN Criptografado" (§5.3): GCR_PAN and the tracks' PAN under WKPAN; a track that no longer fits
 * its field once encoded counts as not read (§6.3.3).
 */
function withPanEncrypted(r: GcrResponse, wkpan: Buffer): GcrResponse {
  const track = (t: string, max: number) => {
    const sealed = t ? encryptPanInTrack(t, wkpan) : t
    return sealed.length <= max ? sealed : ''
  }
  const t1 = track(r.GCR_TRK1, 76)
  const t2 = track(r.GCR_TRK2, 37)
  const pan = r.GCR_PAN ? encryptPanField(r.GCR_PAN, wkpan) : ''
  return { ...r, GCR_TRK1: t1, GCR_TRK1LEN: t1.length, GCR_TRK2: t2, GCR_TRK2LEN: t2.length, GCR_PAN: pan, GCR_PANLEN: pan.length }
}

function gcxResponse(s: CardSession, statchip: string, panMask: string | undefined, tagList: string[] | undefined): PpData {
  if (s.kind === 'magstripe') {
    return {
      PP_CARDTYPE: '00',
      PP_ICCSTAT: statchip,
      PP_TRK1INC: incompleteTrack1(track1(s.card), panMask),
      PP_TRK2INC: incompleteTrack2(track2(s.card), panMask),
    }
  }
  const aid = s.aid!
  const out: PpData = {
    PP_CARDTYPE: cardType(s.card) === '05' ? '05' : s.kind === 'chip' ? '03' : '06',
    PP_AIDTABINFO: [`${pad2(aid.TAB_ACQ)}${aid.TAB_RECIDX}${pad2(aid.T1_APPTYPE)}`],
    PP_TRK2INC: incompleteTrack2(track2(s.card), panMask),
    PP_LABEL: s.card.applicationLabel,
  }
  if (s.kind !== 'contactless-magstripe') {
    Object.assign(out, {
      PP_PAN: maskedPan(s.card, panMask),
      PP_PANSEQNO: pad2(s.card.panSequenceNumber),
      PP_CHNAME: s.card.holderName,
      PP_ISSCNTRY: s.card.issuerCountry,
      PP_CARDEXP: s.card.expiry,
    })
  }
  if (s.kind !== 'chip') out.PP_DEVTYPE = '00'
  if (tagList) out.PP_EMVDATA = s.emv ? s.emv.tags(tagList) : Buffer.alloc(0)
  return out
}

/** Tracks GTK may return once (§5.4, §6.5.12): swiped tracks, or the chip's PAN and track 2 equivalent. */
function keepTracks(s: CardSession): void {
  if (s.kind === 'magstripe' || s.kind === 'contactless-magstripe') {
    s.tracksForGtk = { track1: track1(s.card), track2: track2(s.card) }
  } else {
    s.tracksForGtk = { pan: s.card.pan, track2: track2(s.card) }
  }
}

async function startRead(ctx: HandlerContext, abecs: boolean, read: Omit<ReadRequest, 'abecs'>) {
  const { pad } = ctx
  // §6.9.1: a new GCX drops tracks kept for GTK and any card being processed (the card stays inserted).
  pad.endCardSession()
  const statchip = pad.lastIccStatus
  const result = await readCard(ctx, { ...read, abecs })
  if (result !== 'aborted' && 'session' in result) {
    pad.session = result.session
    if (result.session.kind === 'magstripe') pad.lastIccStatus = '0'
  }
  return { result, statchip }
}

/** GCR parameters kept when it answered ST_TABVERDIF, for the empty GCR that follows (§3.6.1). */
const pendingGcr = new WeakMap<object, GcrParams>()

export const cardReadHandlers: HandlerTable = {
  GCR: async (request, ctx) => {
    const { pad } = ctx
    const params = isGcrResume(request) ? pendingGcr.get(pad) : request
    if (!params) return fail(ST.INVCALL)
    pendingGcr.delete(pad)
    const candidates = gcrCandidates(pad.tables.aids, params)
    const contactless = pad.identity.contactless && params.GCR_CTLSON !== '0' && contactlessAllowed(candidates, params.GCR_AMOUNT)
    // §6.8.1.2: the table version is checked once a chip card is in; magstripe needs no tables.
    const versionDiffers = pad.tables.version(Number(params.GCR_ACQIDXREQ)) !== params.GCR_TABVER
    const { result, statchip } = await startRead(ctx, false, {
      candidates,
      contactless,
      amount: params.GCR_AMOUNT,
      cashback: 0,
      date: params.GCR_DATE,
      time: params.GCR_TIME,
      prompt: cardPrompt(contactless),
      tablesOutdated: versionDiffers,
    })
    if (result === 'aborted') return 'aborted'
    if ('status' in result) {
      // §6.8.1.2: the parameters are kept for the empty GCR that follows the table reload.
      if (result.status === ST.TABVERDIF) pendingGcr.set(pad, params)
      return fail(result.status)
    }
    // A contactless card is processed at the tap; its tables are checked once it is read.
    if (versionDiffers && result.session.kind !== 'magstripe') {
      pendingGcr.set(pad, params)
      pad.endCardSession()
      return fail(ST.TABVERDIF)
    }
    const response = gcrResponse(result.session, statchip)
    return ok(pad.wkpan ? withPanEncrypted(response, pad.wkpan) : response)
  },

  GCX: async (p, ctx) => {
    const { pad } = ctx
    const candidates = gcxCandidates(pad.tables.aids, p)
    const amount = p.SPE_AMOUNT ?? 0
    const contactless = pad.identity.contactless && p.SPE_GCXOPT?.[0] === '1' && contactlessAllowed(candidates, amount)
    const showAmount = p.SPE_GCXOPT?.[1] !== '1' && amount > 0
    const { result, statchip } = await startRead(ctx, true, {
      candidates,
      contactless,
      amount,
      cashback: p.SPE_CASHBACK ?? 0,
      date: p.SPE_TRNDATE!,
      time: p.SPE_TRNTIME!,
      ...(p.SPE_TIMEOUT ? { timeoutS: p.SPE_TIMEOUT } : {}),
      prompt: p.SPE_DSPMSG ? p.SPE_DSPMSG.split('\r') : cardPrompt(contactless, showAmount ? amount : undefined),
    })
    if (result === 'aborted') return 'aborted'
    if ('status' in result) return fail(result.status)
    keepTracks(result.session)
    const response = gcxResponse(result.session, statchip, p.SPE_PANMASK, p.SPE_TAGLIST)
    if ((response.PP_EMVDATA?.length ?? 0) > MAX_EMV_DATA) return fail(ST.RSPOVRFL)
    return ok(response)
  },

  GED: (p, { pad }) => {
    const s = pad.session
    if (!s?.abecs || s.kind === 'magstripe') return fail(ST.INVCALL)
    const data = s.emv ? s.emv.tags(p.SPE_TAGLIST!) : Buffer.alloc(0)
    return data.length > MAX_EMV_DATA ? fail(ST.RSPOVRFL) : ok({ PP_EMVDATA: data })
  },
}

