/**
 * The card interfaces CHP and GEN/04 drive directly: slot "0" (the ICC coupler), "1"–"8" (SAMs, none
 * fitted) and "9" (the antenna). Power on gives the ATR; APDUs go to the powered card; a card taken
 * out of the coupler loses power. The PIN for a card-verified PIN is captured here too.
 */
import { ST } from '../abecs/return-codes.js'
import { buildIso0PinBlock } from '../crypto/pin-block.js'
import { findCard } from './cards.js'
import { ApduCard } from './apdu-card.js'
import { stateFor } from './card-session.js'
import { withTimeout } from './handlers/wait.js'
import type { HandlerContext } from './handlers/types.js'
import type { VirtualPinpad } from './virtual-pinpad.js'

type Powered = Map<string, ApduCard>
const poweredOf = new WeakMap<VirtualPinpad, Powered>()
const powered = (pad: VirtualPinpad): Powered => {
  let map = poweredOf.get(pad)
  if (!map) poweredOf.set(pad, (map = new Map()))
  return map
}

/** §6.5.2: a slot this pinpad has, or the status for one it lacks (no SAMs; 2.20 says ST_INVPARM, 2.12 ST_NOSAM). */
export function slotStatus(pad: VirtualPinpad, slot: string): number {
  const lacks = pad.identity.specVersion === '2.20' ? ST.INVPARM : slot === '9' ? ST.NOCARD : ST.NOSAM
  if (slot === '0') return ST.OK
  if (slot === '9') return pad.identity.contactless ? ST.OK : lacks
  return /^[1-8]$/.test(slot) ? lacks : ST.INVPARM
}

/** The card at the slot now: the one in the coupler, or on the antenna. */
function presentCard(pad: VirtualPinpad, slot: string): string | undefined {
  return slot === '0' ? pad.cardholder.inserted : pad.cardholder.inField
}

export function powerOff(pad: VirtualPinpad, slot: string): void {
  powered(pad).delete(slot)
}

/** Cold reset: the ATR, or ST_NOCARD / ST_DUMBCARD / ST_ERRCARD (§6.5.2.2). */
export function powerOn(pad: VirtualPinpad, slot: string): ApduCard | number {
  powerOff(pad, slot)
  const name = presentCard(pad, slot)
  if (!name) return ST.NOCARD
  const card = findCard(name)
  if (card.fault?.status === ST.DUMBCARD) return ST.DUMBCARD
  if (card.fault?.status === ST.ERRCARD || !card.emv) return ST.ERRCARD
  const apdu = new ApduCard(card, slot === '9', stateFor(pad, card))
  powered(pad).set(slot, apdu)
  return apdu
}

/** The powered card, or why there is none (§6.5.2.3: removed = ST_NOCARD, never powered = ST_ERRCARD). */
export function poweredCard(pad: VirtualPinpad, slot: string): ApduCard | number {
  const card = powered(pad).get(slot)
  if (card && presentCard(pad, slot) !== card.card.name) {
    powerOff(pad, slot)
    return ST.NOCARD
  }
  if (card) return card
  return presentCard(pad, slot) ? ST.ERRCARD : ST.NOCARD
}

/** CHP_PINFMT (§3.3.2) / G0403_FORMAT (§3.8.4): how the typed PIN goes into VERIFY's data. */
export function pinForCard(format: string, pin: string, pan: string): Buffer | undefined {
  const padF = (nibbles: string) => Buffer.from(nibbles.padEnd(16, 'F'), 'hex')
  switch (format) {
    case '0':
      return padF(`0${pin.length.toString(16)}${pin}`)
    case '1':
      return padF(`2${pin.length.toString(16)}${pin}`)
    case '2':
      return padF(pin)
    case '9':
    case 'A':
      return Buffer.from(pin, 'latin1')
    case 'ISO0':
      return buildIso0PinBlock(pin, pan.padStart(13, '0'))
    default:
      return undefined
  }
}

/** The PIN for the card itself: `message` shown, 1 minute of inactivity at most (§6.5.2.4). */
export async function capturePinForCard(ctx: HandlerContext, message: string, min = 4, max = 12): Promise<string | number | 'aborted'> {
  const { pad, signal } = ctx
  pad.display.show2x16(message, 'PIN')
  try {
    for (;;) {
      const action = await withTimeout(pad.clock, signal, pad.timings.pinIdleMs, (s) => pad.cardholder.waitForPin(s))
      if (action === 'aborted') return 'aborted'
      if (action === 'timeout') return ST.TIMEOUT
      if (action.type === 'key') {
        if (action.key === 'cancel') return ST.CANCEL
        continue
      }
      if (/^\d+$/.test(action.pin) && action.pin.length >= min && action.pin.length <= max) return action.pin
    }
  } finally {
    pad.display.clear('PIN')
  }
}
