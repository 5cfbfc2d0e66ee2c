/**
 * CNG (§3.6.2, §6.8.3): EMV objects the host adds for GOC and FNC after GCR read a chip card. They
 * accumulate until FNC or the next GCR; objects the card originates (§6.8.6.4) are ignored; the
 * terminal's own (9F33, 5F2A, 9F1A, 9F35, 9F09, 9C) take the place of the AID table's for this card.
 */
import { ST } from '../../abecs/return-codes.js'
import { parseEmv, type EmvObject } from '../../abecs/emv-tlv.js'
import { CARD_ORIGINATED_TAGS, type EmvTerminalData } from '../emv-card.js'
import type { CardSession } from '../card-session.js'
import { ok, fail, type HandlerTable } from './types.js'

const added = new WeakMap<CardSession, EmvObject[]>()

/** Applies what CNG gave to the card's terminal data (called by GOC before the first GENERATE AC). */
export function applyCng(s: CardSession): void {
  const objects = added.get(s)
  if (!objects?.length || !s.emv) return
  const hex = (o: EmvObject) => o.value.toString('hex').toUpperCase()
  const changes: Partial<EmvTerminalData> = {}
  for (const o of objects) {
    if (o.tag === '9F33') changes.terminalCapabilities = hex(o)
    else if (o.tag === '5F2A') changes.currency = hex(o).slice(-3)
    else if (o.tag === '9F1A') changes.country = hex(o).slice(-3)
    else if (o.tag === '9F35') changes.terminalType = hex(o)
    else if (o.tag === '9F09') changes.terminalAppVersion = hex(o)
    else if (o.tag === '9C') changes.transactionType = o.value[0] ?? 0
  }
  s.emv.updateTerminal(changes)
}

export const cngHandlers: HandlerTable = {
  CNG: ({ CNG_EMVDAT }, { pad }) => {
    const s = pad.session
    if (!s?.emv || s.abecs || s.firstAc) return fail(ST.INVCALL)
    let objects: EmvObject[]
    try {
      objects = parseEmv(Buffer.from(CNG_EMVDAT, 'hex'))
    } catch {
      return fail(ST.INVPARM)
    }
    added.set(s, [...(added.get(s) ?? []), ...objects.filter((o) => !CARD_ORIGINATED_TAGS.has(o.tag))])
    return ok()
  },
}
