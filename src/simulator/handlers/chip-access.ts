/** CHP on the virtual pinpad (§6.5.2): power off/on, APDU exchange and PIN verified by the card. */
import { ST } from '../../abecs/return-codes.js'
import { capturePinForCard, pinForCard, poweredCard, powerOff, powerOn, slotStatus } from '../chip-slots.js'
import { ok, fail, type HandlerTable } from './types.js'

const hex = (b: Buffer) => b.toString('hex').toUpperCase()

export const chipAccessHandlers: HandlerTable = {
  CHP: async (p, ctx) => {
    const { pad } = ctx
    const status = slotStatus(pad, p.CHP_SLOT)
    if (status !== ST.OK) return fail(status)
    switch (p.CHP_OPER) {
      case '0':
        powerOff(pad, p.CHP_SLOT)
        return ok({ CHP_RSP: '' })
      case '1': {
        const card = powerOn(pad, p.CHP_SLOT)
        return typeof card === 'number' ? fail(card) : ok({ CHP_RSP: hex(card.atr) })
      }
      case '2': {
        const card = poweredCard(pad, p.CHP_SLOT)
        if (typeof card === 'number') return fail(card)
        return ok({ CHP_RSP: hex(card.transmit(Buffer.from(p.CHP_CMD, 'hex'))) })
      }
      case '3': {
        // §3.3.2: only CLA INS P1 P2; Lc and the PIN block are the pinpad's.
        if (p.CHP_CMD.length !== 8 || !['0', '1', '2', '9'].includes(p.CHP_PINFMT ?? '')) return fail(ST.INVPARM)
        const card = poweredCard(pad, p.CHP_SLOT)
        if (typeof card === 'number') return fail(card)
        const pin = await capturePinForCard(ctx, p.CHP_PINMSG ?? '')
        if (pin === 'aborted' || typeof pin === 'number') return pin === 'aborted' ? 'aborted' : fail(pin)
        const block = pinForCard(p.CHP_PINFMT!, pin, card.card.pan)!
        const apdu = Buffer.concat([Buffer.from(p.CHP_CMD, 'hex'), Buffer.of(block.length), block])
        return ok({ CHP_RSP: hex(card.transmit(apdu)) })
      }
      default:
        return fail(ST.INVPARM)
    }
  },
}
