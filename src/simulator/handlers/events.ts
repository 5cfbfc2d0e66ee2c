/**
 * CEX (§3.3.1, §6.5.1) and CKE (§3.3.3, §6.5.3): wait for a key, a swipe, a chip card going in or
 * out, or a contactless card on the antenna. Keys and swipes that happened before are not kept; a
 * chip already in (or already out) answers at once; the antenna gives up after 2 minutes of quiet.
 */
import { ST } from '../../abecs/return-codes.js'
import type { PpData } from '../../abecs/params.js'
import { encryptPanInTrack } from '../../abecs/pan-crypt.js'
import { findCard, incompleteTrack1, incompleteTrack2, track1, track2, type TestCard } from '../cards.js'
import { outcomeForAmount } from '../../outcomes.js'
import type { EventWish, Key, Presentation } from '../cardholder.js'
import { KEY_CODE } from './basic.js'
import { ok, fail, type HandlerContext, type HandlerTable } from './types.js'
import { sleep } from '../../clock.js'

/** PP_EVENT for keys (§3.1.3.2): the arrows are "02" and "03". */
const KEY_EVENT: Record<Key, string> = { ok: '00', up: '02', down: '03', f1: '04', f2: '05', f3: '06', f4: '07', clear: '08', cancel: '13' }

type Happened =
  | { kind: 'key'; key: Key }
  | { kind: 'swipe'; card: TestCard }
  | { kind: 'inserted' }
  | { kind: 'removed' }
  | { kind: 'tap'; card: TestCard }
  | { kind: 'timeout' }
  | { kind: 'ctls-idle' }

const isContactless = (card: TestCard) => card.interface.startsWith('contactless')

/** How the automatic cardholder shows their card: the way the pinpad watches for, their usual one first. */
function autoPresentation(name: string | null, wish: EventWish): Presentation | undefined {
  if (!name) return undefined
  const card = findCard(name)
  const usual: Presentation = card.interface === 'chip' ? 'insert' : card.interface === 'magstripe' ? 'swipe' : 'tap'
  const fits = (how: Presentation) =>
    how === 'tap' ? wish.ctls && isContactless(card) : how === 'insert' ? wish.icc === '1' && card.interface === 'chip' : wish.mag
  return [usual, 'tap' as const, 'insert' as const, 'swipe' as const].find(fits)
}

/** Waits for the first event of `wish`; `timeoutS` is SPE_TIMEOUT (CEX), the antenna's idle limit applies with CTLS. */
async function awaitEvent(ctx: HandlerContext, wish: EventWish, timeoutS?: number): Promise<Happened | 'aborted'> {
  const { pad, signal } = ctx
  const holder = pad.cardholder
  if (wish.icc === '1' && holder.inserted) return { kind: 'inserted' }
  if (wish.icc === '2' && !holder.inserted) return { kind: 'removed' }
  if (wish.ctls && holder.inField) return { kind: 'tap', card: findCard(holder.inField) }
  const timers = new AbortController()
  const stop = () => timers.abort()
  signal.addEventListener('abort', stop, { once: true })
  const deadlines: Array<Promise<Happened | 'aborted'>> = []
  if (timeoutS !== undefined) deadlines.push(sleep(pad.clock, timeoutS * 1000, timers.signal).then((done) => (done ? { kind: 'timeout' } : 'aborted')))
  if (wish.ctls) deadlines.push(sleep(pad.clock, pad.timings.ctlsIdleMs, timers.signal).then((done) => (done ? { kind: 'ctls-idle' } : 'aborted')))
  try {
    for (;;) {
      const waiting = holder.waitForEvent(timers.signal, wish, autoPresentation(holder.options.autoCard, wish))
      const action = await Promise.race([waiting, ...deadlines])
      if (action === 'aborted') return 'aborted'
      if ('kind' in action) return action
      if (action.type === 'removed') {
        if (wish.icc === '2') return { kind: 'removed' }
        continue
      }
      if (action.type === 'key') {
        if (wish.keys) return { kind: 'key', key: action.key }
        continue
      }
      const card = findCard(action.card)
      const how = action.how ?? (card.interface === 'chip' ? 'insert' : card.interface === 'magstripe' ? 'swipe' : 'tap')
      if (how === 'insert' && card.interface === 'chip') {
        holder.inserted = card.name
        if (wish.icc === '1') return { kind: 'inserted' }
      } else if (how === 'tap' && wish.ctls && isContactless(card)) {
        holder.inField = card.name
        return { kind: 'tap', card }
      } else if (how === 'swipe' && wish.mag) {
        return { kind: 'swipe', card }
      }
    }
  } finally {
    stop()
    signal.removeEventListener('abort', stop)
  }
}

/** A swipe seen by CEX/CKE is the card GTK and GPN (empty PAN) then refer to (§6.5.11, §6.5.12). */
function keepSwipe(ctx: HandlerContext, card: TestCard): void {
  const { pad } = ctx
  pad.endCardSession()
  pad.session = { card, kind: 'magstripe', amount: 0, cashback: 0, outcome: outcomeForAmount(0), abecs: true }
  pad.session.tracksForGtk = { track1: track1(card), track2: track2(card) }
}

/** §3.3.1: "0" ignore, anything out of range counts as "0", a short SPE_CEXOPT is fine (§6.5.1). */
function cexWish(opt: string, contactless: boolean): EventWish {
  const icc = opt[2] === '1' || opt[2] === '2' ? opt[2] : '0'
  return { keys: opt[0] === '1', mag: opt[1] === '1', icc, ctls: contactless && opt[3] === '1' }
}

export const eventHandlers: HandlerTable = {
  CEX: async (p, ctx) => {
    const { pad } = ctx
    // §6.5.1: tracks kept for GTK are dropped whatever the events asked.
    if (pad.session) pad.session.tracksForGtk = undefined
    const happened = await awaitEvent(ctx, cexWish(p.SPE_CEXOPT!, pad.identity.contactless), p.SPE_TIMEOUT)
    if (happened === 'aborted') return 'aborted'
    switch (happened.kind) {
      case 'timeout':
        return fail(ST.TIMEOUT)
      case 'ctls-idle':
        return ok({ PP_EVENT: '93' })
      case 'key':
        return ok({ PP_EVENT: KEY_EVENT[happened.key] })
      case 'inserted':
        return ok({ PP_EVENT: '92' })
      case 'removed':
        return ok({ PP_EVENT: '91' })
      case 'tap':
        return ok({ PP_EVENT: '94' })
      case 'swipe': {
        keepSwipe(ctx, happened.card)
        const out: PpData = { PP_EVENT: '90' }
        out.PP_TRK1INC = incompleteTrack1(track1(happened.card), p.SPE_PANMASK)
        out.PP_TRK2INC = incompleteTrack2(track2(happened.card), p.SPE_PANMASK)
        return ok(out)
      }
    }
  },

  CKE: async ({ CKE_KEY, CKE_MAG, CKE_ICC, CKE_CTLS }, ctx) => {
    const { pad } = ctx
    const icc = CKE_ICC === '1' || CKE_ICC === '2' ? CKE_ICC : '0'
    const wish: EventWish = { keys: CKE_KEY === '1', mag: CKE_MAG === '1', icc, ctls: pad.identity.contactless && CKE_CTLS === '1' }
    for (;;) {
      const happened = await awaitEvent(ctx, wish)
      if (happened === 'aborted') return 'aborted'
      switch (happened.kind) {
        case 'key': {
          const code = KEY_CODE[happened.key]
          if (code === undefined) continue // CKE_KEYCODE has no arrows
          return ok({ CKE_EVENT: '0', CKE_KEYCODE: code })
        }
        case 'inserted':
          return ok({ CKE_EVENT: '2', CKE_ICCSTAT: '1' })
        case 'removed':
          return ok({ CKE_EVENT: '2', CKE_ICCSTAT: '0' })
        case 'tap':
          return ok({ CKE_EVENT: '3', CKE_CTLSSTAT: '1' })
        case 'ctls-idle':
        case 'timeout':
          return ok({ CKE_EVENT: '3', CKE_CTLSSTAT: '0' })
        case 'swipe': {
          keepSwipe(ctx, happened.card)
          // §3.3.3: complete tracks; in "PAN Criptografado" their PAN goes under WKPAN (§5.3).
          const seal = (t: string) => (pad.wkpan ? encryptPanInTrack(t, pad.wkpan) : t)
          const t1 = seal(track1(happened.card))
          const t2 = seal(track2(happened.card))
          // §6.3.3: a track that no longer fits once encoded counts as not read.
          const one = t1.length <= 76 ? t1 : ''
          const two = t2.length <= 37 ? t2 : ''
          if (!one && !two) return fail(ST.MCDATAERR)
          return ok({ CKE_EVENT: '1', CKE_TRK1LEN: one.length, CKE_TRK1: one, CKE_TRK2LEN: two.length, CKE_TRK2: two, CKE_TRK3LEN: 0, CKE_TRK3: '' })
        }
      }
    }
  },
}
