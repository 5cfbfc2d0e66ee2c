/**
 * Reading a card for GCR and GCX (§6.8.1, §6.9.1): choose the candidate AID records, show the
 * prompt, wait for the cardholder, and turn what they presented into a CardSession (or the
 * ABECS status of why not).
 */
import { ST } from '../abecs/return-codes.js'
import type { AidRecord } from '../abecs/tables.js'
import { outcomeForAmount, type AmountOutcome } from '../outcomes.js'
import { findCard, type TestCard } from './cards.js'
import { EmvCardSession, newCardState, type EmvCardState } from './emv-card.js'
import type { Presentation } from './cardholder.js'
import type { HandlerContext } from './handlers/types.js'
import { within } from './within.js'
import { sleep } from '../clock.js'

export type ReadKind = 'magstripe' | 'chip' | 'contactless-emv' | 'contactless-magstripe'

export interface CardSession {
  card: TestCard
  kind: ReadKind
  amount: number
  cashback: number
  outcome: AmountOutcome
  /** The AID record the chip application was selected with. */
  aid?: AidRecord
  emv?: EmvCardSession
  /** Tracks kept for one GTK (§6.5.12): erased by GTK, CLO/CLX and the next GCX. */
  tracksForGtk?: { track1?: string; track2?: string; track3?: string; pan?: string }
  /** Set once the first GENERATE AC ran (GOC/GOX). */
  firstAc?: 'online' | 'offline-approve' | 'decline'
  /** Set once FNC/FCX ran: a second one is ST_INVCALL (§6.8.5, §6.9.4). */
  finished?: boolean
  /** Whether this session started with GCX (then GOX/FCX/GED apply) or GCR. */
  abecs: boolean
}

export interface ReadRequest {
  candidates: AidRecord[]
  contactless: boolean
  amount: number
  cashback: number
  date: string
  time: string
  /** SPE_TIMEOUT in seconds (GCX), if given. */
  timeoutS?: number
  /** Prompt shown while waiting (SPE_DSPMSG or the default of §6.9.1). */
  prompt: string[]
  abecs: boolean
  /** GCR_TABVER differs from the loaded tables: an inserted chip card ends the read with 020 (§6.8.1.2). */
  tablesOutdated?: boolean
}

export type ReadResult = { session: CardSession } | { status: number } | 'aborted'

/** EMV cards remember their ATC and PIN tries across transactions on this pinpad. */
const cardStates = new WeakMap<object, Map<string, EmvCardState>>()

export function stateFor(owner: object, card: TestCard): EmvCardState {
  let states = cardStates.get(owner)
  if (!states) cardStates.set(owner, (states = new Map()))
  let state = states.get(card.name)
  if (!state) states.set(card.name, (state = newCardState(card)))
  return state
}

/** CTLS counts as supported only when a candidate record allows it for this amount (§6.8.1 (*)). */
export function contactlessAllowed(candidates: AidRecord[], amount: number): boolean {
  return candidates.some((r) => {
    if (!/^[1-9]$/.test(r.T1_CTLSMODE)) return false
    if (amount === 0 && r.T1_CTLSZEROAM !== '1') return false
    const limit = Math.max(parseInt(r.T1_CTLSTRNLIM, 16), parseInt(r.T1_CTLSMBTLIM ?? '0', 16))
    return limit >= amount
  })
}

/** The record whose AID the card's application matches (partial match, EMV Book 1 §12.3). */
export function selectAid(candidates: AidRecord[], aid: string): AidRecord | undefined {
  return candidates.find((r) => {
    const recordAid = r.T1_AID.slice(0, r.T1_AIDLEN * 2)
    return aid.toUpperCase().startsWith(recordAid)
  })
}

function defaultPresentation(card: TestCard): Presentation {
  if (card.interface === 'magstripe') return 'swipe'
  if (card.interface === 'chip') return 'insert'
  return 'tap'
}

export async function readCard(ctx: HandlerContext, req: ReadRequest): Promise<ReadResult> {
  const { pad, signal } = ctx
  const outcome = outcomeForAmount(req.amount)
  const inserted = pad.cardholder.inserted
  let card: TestCard
  let how: Presentation
  const onAntenna = pad.cardholder.inField
  if (inserted) {
    // §6.8.1: a chip card already in the slot is used without a prompt.
    card = findCard(inserted)
    how = 'insert'
  } else if (onAntenna && req.contactless) {
    // A card CEX saw on the antenna (PP_EVENT "94") is still there for the read.
    pad.cardholder.inField = undefined
    card = findCard(onAntenna)
    how = 'tap'
  } else {
    pad.display.showFree(req.prompt.join('\r'), 'card prompt')
    const [first = '', second = ''] = req.prompt.slice(-2)
    ctx.notify(`${first.padEnd(16).slice(0, 16)}${second.padEnd(16).slice(0, 16)}`)
    if (outcome.pinpad === 'no-card' || outcome.pinpad === 'cardholder-cancel') {
      const waitMs = outcome.pinpad === 'no-card' ? pad.timings.noCardTimeoutMs : pad.timings.cancelAfterMs
      if (!(await sleep(pad.clock, waitMs, signal))) return 'aborted'
      pad.display.clear('card prompt')
      return { status: outcome.pinpad === 'no-card' ? ST.TIMEOUT : ST.CANCEL }
    }
    // SPE_TIMEOUT when given; without it, 2 minutes of idleness when CTLS is on (§6.9.1), else none.
    const waitMs = req.timeoutS ? req.timeoutS * 1000 : req.contactless ? pad.timings.ctlsIdleMs : undefined
    const deadline = waitMs !== undefined ? pad.clock.now() + waitMs : undefined
    for (;;) {
      const remaining = deadline !== undefined ? deadline - pad.clock.now() : undefined
      const action = await within(pad.clock, remaining, signal, (s) => pad.cardholder.waitForCard(s))
      if (action === 'aborted' || signal.aborted) return 'aborted'
      if (action === 'timeout') {
        pad.display.clear('card prompt')
        return { status: ST.TIMEOUT }
      }
      if (action.type === 'key') {
        if (action.key !== 'cancel') continue
        pad.display.clear('card prompt')
        return { status: ST.CANCEL }
      }
      card = findCard(action.card)
      how = action.how ?? defaultPresentation(card)
      // A tap on an antenna that is off goes unnoticed (§6.8.1 (*)).
      if (how === 'tap' && !req.contactless) continue
      if (how === 'tap' && !card.interface.startsWith('contactless')) continue
      break
    }
    pad.display.clear('card presented')
  }

  if (how === 'swipe') {
    // A swipe reads the tracks, whatever chip the card carries (fallback is the host's decision).
    const session: CardSession = {
      card,
      kind: 'magstripe',
      amount: req.amount,
      cashback: req.cashback,
      outcome,
      abecs: req.abecs,
    }
    return { session }
  }
  if (how === 'insert') pad.cardholder.inserted = card.name
  pad.display.show2x16('PROCESSANDO...', 'card read')
  if (how === 'insert' && req.tablesOutdated) {
    // §6.8.1.2: the table version is checked as soon as the chip card is in, before the card is
    // even activated (so before any card fault or application selection).
    pad.display.clear('card error')
    return { status: ST.TABVERDIF }
  }

  if (card.fault) {
    pad.lastIccStatus = card.fault.iccStat
    pad.display.clear('card error')
    return { status: card.fault.status }
  }
  if (outcome.pinpad === 'chip-fallback' && how === 'insert') {
    pad.lastIccStatus = '1'
    pad.display.clear('card error')
    return { status: ST.ERRFALLBACK }
  }
  const contactless = how === 'tap'
  const aid = card.emv ? selectAid(req.candidates, card.emv.aid) : undefined
  if (!aid || !card.emv) {
    pad.lastIccStatus = '2'
    pad.display.clear('card error')
    return { status: contactless ? ST.CTLSAPPNAV : ST.CARDAPPNAV }
  }
  pad.lastIccStatus = '0'
  const kind: ReadKind = contactless ? (card.interface === 'contactless-magstripe' ? 'contactless-magstripe' : 'contactless-emv') : 'chip'
  const emv =
    kind === 'contactless-magstripe'
      ? undefined
      : new EmvCardSession(
          card,
          {
            amount: req.amount,
            cashback: req.cashback,
            currency: aid.T1_TRNCURR,
            country: aid.T1_TRMCNTRY,
            date: req.date,
            time: req.time,
            terminalCapabilities: (contactless ? aid.T1_CTLSTRMCP : undefined) ?? aid.T1_TRMCAPAB,
            terminalType: aid.T1_TRMTYP,
            terminalAppVersion: aid.T1_APPVER1,
            floorLimit: parseInt(aid.T1_FLRLIMIT, 16),
            ifdSerialNumber: pad.identity.serialNumber,
            sequenceCounter: pad.nextTransactionNumber(),
          },
          stateFor(pad, card),
        )
  const label = card.applicationLabel
  pad.display.show2x16(`SELECIONADO:    ${label}`, 'card read')
  ctx.notify(`SELECIONADO:    ${label.padEnd(16).slice(0, 16)}`)
  return {
    session: {
      card,
      kind,
      amount: req.amount,
      cashback: req.cashback,
      outcome,
      aid,
      ...(emv ? { emv } : {}),
      abecs: req.abecs,
    },
  }
}

/** The default prompt of §6.8.1/§6.9.1 (2 lines of 16). */
export function cardPrompt(contactless: boolean, amount?: number): string[] {
  const lines = contactless ? ['APROXIME, INSIRA', 'OU PASSE CARTAO'] : ['INSIRA OU PASSE', 'O CARTAO']
  if (amount) lines.unshift(`VALOR: ${(amount / 100).toLocaleString('pt-BR', { minimumFractionDigits: 2 })}`)
  return lines
}
