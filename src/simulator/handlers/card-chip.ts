/**
 * Chip processing on the virtual pinpad: GOC/GOX (§6.8.4, §6.9.3: cardholder verification, risk
 * management, first GENERATE AC) and FNC/FCX (§6.8.5, §6.9.4: the acquirer's answer, second
 * GENERATE AC). The card's EMV application is modelled by EmvCardSession.
 */
import { ST } from '../../abecs/return-codes.js'
import { emvMap, parseEmv, parseTagList } from '../../abecs/emv-tlv.js'
import type { FirstAcDecision } from '../emv-card.js'
import type { CardSession } from '../card-session.js'
import { ok, fail, MAX_EMV_DATA, type HandlerContext, type HandlerTable } from './types.js'
import type { Cvm } from '../cards.js'
import { within } from '../within.js'
import { applyCng } from './cng.js'

interface ChipParams {
  amount: number
  cashback: number
  exceptionList: boolean
  floorLimit?: number
  /** GOC_CONNECT "1" / SPE_GOXOPT "x1xxx": the card may not be asked for a TC (§6.8.4.1, §6.9.3.1). */
  noOffline: boolean
  pinMethod: string
  keyIndex: number
  /** The working key under the PIN MK (MK/WK methods only). */
  wkenc?: Buffer
  pinMessage: string
  /** Inactivity allowed on a PIN screen: SPE_TIMEOUT (GOX), else 1 minute (§6.8.4, §6.9.3). */
  pinTimeoutMs: number
}

interface ChipResult {
  decision: FirstAcDecision
  cvm: Cvm
  pinOfflineOk: boolean
  pinBlock?: Buffer
  ksn?: Buffer
}

const DECISION_DIGIT: Record<FirstAcDecision, string> = { 'offline-approve': '0', decline: '1', online: '2' }

function chipSession(ctx: HandlerContext): CardSession | undefined {
  const s = ctx.pad.session
  return s?.emv && !s.firstAc ? s : undefined
}

/** The CVM the card asks for, unless the amount's outcome says otherwise (src/simulator/outcomes.ts). */
function chosenCvm(s: CardSession): Cvm {
  switch (s.outcome.pinpad) {
    case 'offline-pin':
    case 'pin-tries-exceeded':
      return s.kind === 'chip' ? 'offline-pin' : s.card.cvm
    case 'online-pin':
      return 'online-pin'
    default:
      return s.card.cvm
  }
}

async function processChip(ctx: HandlerContext, s: CardSession, p: ChipParams): Promise<ChipResult | number | 'aborted'> {
  const { pad } = ctx
  const emv = s.emv!
  emv.updateTerminal({
    amount: p.amount,
    cashback: p.cashback,
    onExceptionList: p.exceptionList,
    ...(p.floorLimit !== undefined ? { floorLimit: p.floorLimit } : {}),
  })
  const cvm = chosenCvm(s)
  const result: ChipResult = { decision: 'online', cvm, pinOfflineOk: false }
  if (cvm === 'online-pin') {
    const key = { method: p.pinMethod, index: p.keyIndex, ...(p.wkenc ? { wkenc: p.wkenc } : {}) }
    const keyStatus = pad.pinKeyStatus(key)
    if (keyStatus !== ST.OK) return keyStatus
    ctx.notify('SOLICITE A SENHA'.padEnd(32))
    const pin = await pad.capturePin(ctx, p.pinMessage, 4, 12, s.card.pan, key, p.pinTimeoutMs)
    pad.display.clear('PIN')
    if (pin === 'aborted' || typeof pin === 'number') return pin
    emv.recordCvm('online-pin')
    result.pinBlock = pin.pinBlock
    result.ksn = pin.ksn
  } else if (cvm === 'offline-pin') {
    ctx.notify('SOLICITE A SENHA'.padEnd(32))
    for (;;) {
      pad.display.show2x16(p.pinMessage, 'PIN')
      const action = await within(pad.clock, p.pinTimeoutMs, ctx.signal, (signal) => pad.cardholder.waitForPin(signal))
      pad.display.clear('PIN')
      if (action === 'aborted') return 'aborted'
      if (action === 'timeout') return ST.TIMEOUT
      if (action.type === 'key') return action.key === 'cancel' ? ST.CANCEL : ST.TIMEOUT
      const typed = s.outcome.pinpad === 'pin-tries-exceeded' ? (s.card.pin === '0000' ? '9999' : '0000') : action.pin
      const verify = emv.verifyOfflinePin(typed)
      if (verify.ok) {
        result.pinOfflineOk = true
        break
      }
      if (verify.blocked) break
      pad.display.show2x16('SENHA INVALIDA', 'PIN')
    }
  } else {
    emv.recordCvm(cvm)
  }
  const decision: FirstAcDecision =
    s.outcome.pinpad === 'card-declines' || emv.pinBlockedNow ? 'decline' : terminalActionAnalysis(s, p.noOffline)
  emv.firstGenerateAc(decision)
  s.firstAc = decision
  result.decision = decision
  return result
}

/**
 * Terminal Action Analysis (§6.8.4.1, §6.9.3.1), simplified: what TAC-Denial usually catches
 * declines; for a contact chip, a TVR bit in the AID record's T1_TACONL — or the host forbidding
 * offline approval — goes online, and anything else is approved offline (TC). With the table's
 * floor limit (0 by default) every amount exceeds it and goes online; a floor limit from the host
 * (SPE_TRMPAR, GOC_RISKMAN) makes offline approval possible. A tap always goes online here.
 */
function terminalActionAnalysis(s: CardSession, noOffline: boolean): FirstAcDecision {
  const emv = s.emv!
  if (emv.recommendedDecision() === 'decline') return 'decline'
  if (noOffline || s.kind !== 'chip' || !s.aid) return 'online'
  const tacOnline = Buffer.from(s.aid.T1_TACONL, 'hex')
  const tvr = emv.get('95') ?? Buffer.alloc(5)
  return tvr.some((b, i) => (b & tacOnline[i]!) !== 0) ? 'online' : 'offline-approve'
}

/** The acquirer's data for the card (§6.8.5, §6.9.4): the ARPC (91) and the issuer scripts (71/72). */
interface IssuerData {
  arpc?: Buffer
  /** Each script's identifier (9F18; empty when it has none), in order. */
  scriptIds: Buffer[]
}

/**
 * Reads FNC_ISSDAT / SPE_EMVDATA (EMV TLV, §7.1) before anything changes: data that is not TLV,
 * or a script that is not, is a bad parameter (ST_INVPARM), not an internal error.
 */
function readIssuerData(data: Buffer | undefined): IssuerData | undefined {
  if (!data) return { scriptIds: [] }
  try {
    const objects = parseEmv(data)
    const arpc = objects.find((o) => o.tag === '91')?.value
    const scriptIds = objects.filter((o) => o.tag === '71' || o.tag === '72').map((script) => emvMap(script.value).get('9F18') ?? Buffer.alloc(0))
    return { ...(arpc ? { arpc } : {}), scriptIds }
  } catch {
    return undefined
  }
}

/** GOC_TAGS1/2, FNC_TAGS (hex tag lists, §3.6.3–3.6.4); undefined when they are not BER tags (ST_INVPARM). */
function readTagLists(...hex: string[]): string[] | undefined {
  try {
    return hex.flatMap((h) => parseTagList(Buffer.from(h, 'hex')))
  } catch {
    return undefined
  }
}

/** §6.8.5/§6.9.4: the second GENERATE AC (contact chip) or the echo of the decision (contactless). */
function finishChip(s: CardSession, answer: { approved: boolean; commsFailed: boolean; arc: string; issuer: IssuerData }) {
  const emv = s.emv!
  if (s.firstAc !== 'online') return { approved: s.firstAc === 'offline-approve', byCard: s.firstAc === 'decline' }
  if (s.kind !== 'chip') return { approved: answer.approved, byCard: false }
  const arc = answer.commsFailed ? 'Z3' : answer.arc
  emv.secondGenerateAc(arc, answer.issuer.arpc, {
    approved: answer.approved,
    cardDeclines: s.outcome.pinpad === 'card-declines-after-online',
    unableToGoOnline: answer.commsFailed,
  })
  const approved = emv.lastCryptogram === 'TC'
  // Without the acquirer's word (no communication) a refusal is the card's.
  return { approved, byCard: !approved && (answer.approved || answer.commsFailed) }
}

/** At most 10 Issuer Script Results: PP_ISRESULTS is B..50 (§3.1.3.2), FNC_ISR H..100 (§3.6.4). */
const MAX_SCRIPT_RESULTS = 10

/**
 * PP_ISRESULTS / FNC_ISR: 5 bytes per issuer script (71/72): result 20h "processed", then its id
 * (9F18). Scripts past the 10th get no result: the field holds no more.
 */
function scriptResults(issuer: IssuerData): Buffer {
  return Buffer.concat(
    issuer.scriptIds.slice(0, MAX_SCRIPT_RESULTS).map((scriptId) => {
      // The Script Identifier is 4 bytes, zeros when the script has none (or an empty 9F18).
      const id = Buffer.concat([scriptId, Buffer.alloc(4)])
      return Buffer.concat([Buffer.of(0x20), id.subarray(0, 4)])
    }),
  )
}

const hexOr = (b: Buffer | undefined, length: number) => (b ? b.toString('hex').toUpperCase() : '0'.repeat(length))

export const cardChipHandlers: HandlerTable = {
  GOC: async (p, ctx) => {
    const s = chipSession(ctx)
    if (!s || s.abecs) return fail(ST.INVCALL)
    const tags = readTagLists(p.GOC_TAGS1, p.GOC_TAGS2)
    if (!tags) return fail(ST.INVPARM)
    applyCng(s)
    const r = await processChip(ctx, s, {
      amount: p.GOC_AMOUNT,
      cashback: p.GOC_CASHBACK,
      exceptionList: p.GOC_EXCLIST === '1',
      ...(p.GOC_RISKMAN === '1' ? { floorLimit: parseInt(p.GOC_FLRLIMIT, 16) } : {}),
      noOffline: p.GOC_CONNECT === '1',
      pinMethod: p.GOC_METHOD,
      keyIndex: p.GOC_KEYIDX,
      wkenc: Buffer.from(p.GOC_WKENC, 'hex'),
      pinMessage: s.aid?.TAB_ACQ === 2 && p.GOC_ACQPR ? p.GOC_ACQPR : 'DIGITE A SENHA',
      pinTimeoutMs: ctx.pad.timings.pinIdleMs,
    })
    if (r === 'aborted') return 'aborted'
    if (typeof r === 'number') return fail(r)
    const emvData = s.emv!.tags(tags)
    if (emvData.length > MAX_EMV_DATA) return fail(ST.RSPOVRFL)
    return ok({
      GOC_DECISION: DECISION_DIGIT[r.decision],
      GOC_SIGNAT: r.cvm === 'signature' ? '1' : '0',
      GOC_PINOFF: r.pinOfflineOk ? '1' : '0',
      GOC_ERRPINOFF: Math.min(9, s.emv!.offlinePinFailures),
      GOC_PBLOCKED: s.emv!.pinBlockedNow ? '1' : '0',
      GOC_PINONL: r.pinBlock ? '1' : '0',
      GOC_PINBLK: hexOr(r.pinBlock, 16),
      GOC_KSN: hexOr(r.ksn, 20),
      GOC_EMVDAT: emvData.toString('hex').toUpperCase(),
      GOC_ACQRD: '',
    })
  },

  GOX: async (p, ctx) => {
    const s = chipSession(ctx)
    if (!s || !s.abecs) return fail(ST.INVCALL)
    const floorLimit = p.SPE_TRMPAR ? p.SPE_TRMPAR.readUInt32BE(0) : undefined
    const r = await processChip(ctx, s, {
      amount: p.SPE_AMOUNT ?? s.amount,
      cashback: p.SPE_CASHBACK ?? 0,
      exceptionList: p.SPE_GOXOPT?.[0] === '1',
      ...(floorLimit !== undefined ? { floorLimit } : {}),
      noOffline: p.SPE_GOXOPT?.[1] === '1',
      pinMethod: p.SPE_MTHDPIN!,
      keyIndex: p.SPE_KEYIDX!,
      ...(p.SPE_WKENC ? { wkenc: p.SPE_WKENC } : {}),
      pinMessage: p.SPE_DSPMSG ?? 'DIGITE A SENHA',
      pinTimeoutMs: p.SPE_TIMEOUT ? p.SPE_TIMEOUT * 1000 : ctx.pad.timings.pinIdleMs,
    })
    if (r === 'aborted') return 'aborted'
    if (typeof r === 'number') return fail(r)
    const pin = r.pinBlock ? '2' : r.pinOfflineOk ? '1' : '0'
    const emvData = p.SPE_TAGLIST ? s.emv!.tags(p.SPE_TAGLIST) : undefined
    if (emvData && emvData.length > MAX_EMV_DATA) return fail(ST.RSPOVRFL)
    return ok({
      PP_GOXRES: `${DECISION_DIGIT[r.decision]}${r.cvm === 'signature' ? '1' : '0'}${pin}000`,
      ...(r.pinBlock ? { PP_PINBLK: r.pinBlock, PP_KSN: r.ksn! } : {}),
      ...(emvData ? { PP_EMVDATA: emvData } : {}),
    })
  },

  FNC: (p, { pad }) => {
    const s = pad.session
    if (!s?.emv || !s.firstAc || s.abecs || s.finished) return fail(ST.INVCALL)
    const tags = readTagLists(p.FNC_TAGS)
    const issuer = readIssuerData(p.FNC_ISSDAT ? Buffer.from(p.FNC_ISSDAT, 'hex') : undefined)
    if (!tags || !issuer) return fail(ST.INVPARM)
    s.finished = true
    // §6.8.5.1: after an offline decision FNC only repeats GOC_DECISION, with no EMV data.
    if (s.firstAc !== 'online') return ok({ FNC_DECISION: s.firstAc === 'offline-approve' ? '0' : '1', FNC_EMVDAT: '', FNC_ISR: '', FNC_ACQRD: '' })
    const commsFailed = p.FNC_COMMST === '1'
    const approved = !commsFailed && (p.FNC_ARC === '00' || p.FNC_COMMST === '9')
    const { approved: final, byCard } = finishChip(s, { approved, commsFailed, arc: p.FNC_ARC, issuer })
    const emvData = s.emv.tags(tags)
    if (emvData.length > MAX_EMV_DATA) return fail(ST.RSPOVRFL)
    return ok({
      // §3.6.4: 0 approved, 1 declined by the card, 2 declined by the acquirer.
      FNC_DECISION: final ? '0' : byCard ? '1' : '2',
      FNC_EMVDAT: emvData.toString('hex').toUpperCase(),
      FNC_ISR: scriptResults(issuer).toString('hex').toUpperCase(),
      FNC_ACQRD: '',
    })
  },

  FCX: (p, { pad }) => {
    const s = pad.session
    if (!s?.emv || !s.firstAc || !s.abecs || s.finished) return fail(ST.INVCALL)
    const option = p.SPE_FCXOPT![0]
    const commsFailed = option === '2'
    if (!commsFailed && p.SPE_ARC === undefined) return fail(ST.MANDAT)
    const issuer = readIssuerData(p.SPE_EMVDATA)
    if (!issuer) return fail(ST.INVPARM)
    s.finished = true
    const approved = option === '0'
    const { approved: chipApproved } = finishChip(s, {
      approved,
      commsFailed,
      arc: p.SPE_ARC ?? 'Z3',
      issuer,
    })
    // §6.9.4.1: after an offline decision, approved only if the chip approved and so did the acquirer.
    const final = s.firstAc === 'online' ? chipApproved : chipApproved && approved
    const results = scriptResults(issuer)
    const emvData = p.SPE_TAGLIST ? s.emv.tags(p.SPE_TAGLIST) : undefined
    if (emvData && emvData.length > MAX_EMV_DATA) return fail(ST.RSPOVRFL)
    return ok({
      PP_FCXRES: final ? '000' : '100',
      ...(emvData ? { PP_EMVDATA: emvData } : {}),
      ...(results.length ? { PP_ISRESULTS: results } : {}),
    })
  },
}
