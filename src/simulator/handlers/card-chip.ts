/**
 * Chip processing on the virtual pinpad: GOC/GOX (§6.8.4, §6.9.3: cardholder verification, risk
 * management, first GENERATE AC) and FNC/FCX (§6.8.5, §6.9.4: the acquirer's answer, second
 * GENERATE AC). The card's EMV application is modelled by EmvCardSession.
 */
import { ST } from '../../abecs/return-codes.js'
import { emvMap, parseEmv, parseTagList } from '../../abecs/emv-tlv.js'
import type { FirstAcDecision } from '../emv-card.js'
import type { CardSession } from '../card-session.js'
import { ok, fail, type HandlerContext, type HandlerTable } from './types.js'
import type { Cvm } from '../cards.js'
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
    const pin = await pad.capturePin(ctx, p.pinMessage, 4, 12, s.card.pan, key)
    pad.display.clear('PIN')
    if (pin === 'aborted' || typeof pin === 'number') return pin
    emv.recordCvm('online-pin')
    result.pinBlock = pin.pinBlock
    result.ksn = pin.ksn
  } else if (cvm === 'offline-pin') {
    ctx.notify('SOLICITE A SENHA'.padEnd(32))
    for (;;) {
      pad.display.show2x16(p.pinMessage, 'PIN')
      const action = await pad.cardholder.waitForPin(ctx.signal)
      pad.display.clear('PIN')
      if (action === 'aborted') return 'aborted'
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

/** §6.8.5/§6.9.4: the second GENERATE AC (contact chip) or the echo of the decision (contactless). */
function finishChip(s: CardSession, answer: { approved: boolean; commsFailed: boolean; arc: string; issuerData?: Buffer }) {
  const emv = s.emv!
  if (s.firstAc !== 'online') return { approved: s.firstAc === 'offline-approve', byCard: s.firstAc === 'decline' }
  if (s.kind !== 'chip') return { approved: answer.approved, byCard: false }
  const issuer = answer.issuerData ? emvMap(answer.issuerData).get('91') : undefined
  const arc = answer.commsFailed ? 'Z3' : answer.arc
  emv.secondGenerateAc(arc, issuer, {
    approved: answer.approved,
    cardDeclines: s.outcome.pinpad === 'card-declines-after-online',
    unableToGoOnline: answer.commsFailed,
  })
  const approved = emv.lastCryptogram === 'TC'
  // Without the acquirer's word (no communication) a refusal is the card's.
  return { approved, byCard: !approved && (answer.approved || answer.commsFailed) }
}

/** PP_ISRESULTS / FNC_ISR: 5 bytes per issuer script (71/72): result 20h "processed", then its id (9F18). */
function scriptResults(issuerData: Buffer | undefined): Buffer {
  if (!issuerData) return Buffer.alloc(0)
  const scripts = parseEmv(issuerData).filter((o) => o.tag === '71' || o.tag === '72')
  return Buffer.concat(
    scripts.map((script) => {
      // The Script Identifier is 4 bytes, zeros when the script has none (or an empty 9F18).
      const id = Buffer.concat([emvMap(script.value).get('9F18') ?? Buffer.alloc(0), Buffer.alloc(4)])
      return Buffer.concat([Buffer.of(0x20), id.subarray(0, 4)])
    }),
  )
}

const hexOr = (b: Buffer | undefined, length: number) => (b ? b.toString('hex').toUpperCase() : '0'.repeat(length))

export const cardChipHandlers: HandlerTable = {
  GOC: async (p, ctx) => {
    const s = chipSession(ctx)
    if (!s || s.abecs) return fail(ST.INVCALL)
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
    })
    if (r === 'aborted') return 'aborted'
    if (typeof r === 'number') return fail(r)
    const tags = [...parseTagList(Buffer.from(p.GOC_TAGS1, 'hex')), ...parseTagList(Buffer.from(p.GOC_TAGS2, 'hex'))]
    return ok({
      GOC_DECISION: DECISION_DIGIT[r.decision],
      GOC_SIGNAT: r.cvm === 'signature' ? '1' : '0',
      GOC_PINOFF: r.pinOfflineOk ? '1' : '0',
      GOC_ERRPINOFF: Math.min(9, s.emv!.offlinePinFailures),
      GOC_PBLOCKED: s.emv!.pinBlockedNow ? '1' : '0',
      GOC_PINONL: r.pinBlock ? '1' : '0',
      GOC_PINBLK: hexOr(r.pinBlock, 16),
      GOC_KSN: hexOr(r.ksn, 20),
      GOC_EMVDAT: s.emv!.tags(tags).toString('hex').toUpperCase(),
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
    })
    if (r === 'aborted') return 'aborted'
    if (typeof r === 'number') return fail(r)
    const pin = r.pinBlock ? '2' : r.pinOfflineOk ? '1' : '0'
    return ok({
      PP_GOXRES: `${DECISION_DIGIT[r.decision]}${r.cvm === 'signature' ? '1' : '0'}${pin}000`,
      ...(r.pinBlock ? { PP_PINBLK: r.pinBlock, PP_KSN: r.ksn! } : {}),
      ...(p.SPE_TAGLIST ? { PP_EMVDATA: s.emv!.tags(p.SPE_TAGLIST) } : {}),
    })
  },

  FNC: (p, { pad }) => {
    const s = pad.session
    if (!s?.emv || !s.firstAc || s.abecs || s.finished) return fail(ST.INVCALL)
    s.finished = true
    // §6.8.5.1: after an offline decision FNC only repeats GOC_DECISION, with no EMV data.
    if (s.firstAc !== 'online') return ok({ FNC_DECISION: s.firstAc === 'offline-approve' ? '0' : '1', FNC_EMVDAT: '', FNC_ISR: '', FNC_ACQRD: '' })
    const commsFailed = p.FNC_COMMST === '1'
    const approved = !commsFailed && (p.FNC_ARC === '00' || p.FNC_COMMST === '9')
    const issuerData = p.FNC_ISSDAT ? Buffer.from(p.FNC_ISSDAT, 'hex') : undefined
    const { approved: final, byCard } = finishChip(s, { approved, commsFailed, arc: p.FNC_ARC, ...(issuerData ? { issuerData } : {}) })
    const tags = parseTagList(Buffer.from(p.FNC_TAGS, 'hex'))
    return ok({
      // §3.6.4: 0 approved, 1 declined by the card, 2 declined by the acquirer.
      FNC_DECISION: final ? '0' : byCard ? '1' : '2',
      FNC_EMVDAT: s.emv.tags(tags).toString('hex').toUpperCase(),
      FNC_ISR: scriptResults(issuerData).toString('hex').toUpperCase(),
      FNC_ACQRD: '',
    })
  },

  FCX: (p, { pad }) => {
    const s = pad.session
    if (!s?.emv || !s.firstAc || !s.abecs || s.finished) return fail(ST.INVCALL)
    const option = p.SPE_FCXOPT![0]
    const commsFailed = option === '2'
    if (!commsFailed && p.SPE_ARC === undefined) return fail(ST.MANDAT)
    s.finished = true
    const approved = option === '0'
    const { approved: chipApproved } = finishChip(s, {
      approved,
      commsFailed,
      arc: p.SPE_ARC ?? 'Z3',
      ...(p.SPE_EMVDATA ? { issuerData: p.SPE_EMVDATA } : {}),
    })
    // §6.9.4.1: after an offline decision, approved only if the chip approved and so did the acquirer.
    const final = s.firstAc === 'online' ? chipApproved : chipApproved && approved
    const results = scriptResults(p.SPE_EMVDATA)
    return ok({
      PP_FCXRES: final ? '000' : '100',
      ...(p.SPE_TAGLIST ? { PP_EMVDATA: s.emv.tags(p.SPE_TAGLIST) } : {}),
      ...(results.length ? { PP_ISRESULTS: results } : {}),
    })
  },
}
