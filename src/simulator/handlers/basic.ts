/** Basic commands on the virtual pinpad (§6.5): DSP, DEX, GKY, RMC, GPN (CEX and CKE are in events.ts). */
import { ST } from '../../abecs/return-codes.js'
import { ok, fail, type HandlerTable } from './types.js'
import type { Key } from '../cardholder.js'
import { decodeSentPan } from '../../abecs/pan-crypt.js'

/** GKY answers the key in RSP_STAT (§3.3.10); arrows are not among its keys. */
const KEY_STATUS: Partial<Record<Key, number>> = { ok: ST.OK, f1: ST.F1, f2: ST.F2, f3: ST.F3, f4: ST.F4, clear: ST.BACKSP, cancel: ST.CANCEL }
/** CKE_KEYCODE (§3.3.3). */
export const KEY_CODE: Partial<Record<Key, string>> = { ok: '00', f1: '04', f2: '05', f3: '06', f4: '07', clear: '08', cancel: '13' }

export const basicHandlers: HandlerTable = {
  DSP: ({ DSP_MSG }, { pad }) => {
    pad.display.show2x16(DSP_MSG, 'DSP')
    return ok()
  },

  DEX: ({ DEX_MSG }, { pad }) => {
    pad.display.showFree(DEX_MSG, 'DEX')
    return ok()
  },

  GKY: async (_req, { pad, signal }) => {
    for (;;) {
      const key = await pad.cardholder.waitForKey(signal)
      if (key === 'aborted') return 'aborted'
      const status = KEY_STATUS[key]
      if (status !== undefined) return { status }
    }
  },

  // §6.5.14: shows RMC_MSG; with a card inserted, alternates "RETIRE O CARTÃO" until removal.
  RMC: async ({ RMC_MSG }, { pad, signal }) => {
    pad.display.show2x16(RMC_MSG, 'RMC')
    if (pad.cardholder.inserted) {
      pad.display.show2x16('RETIRE O CARTÃO', 'RMC')
      const removed = await pad.cardholder.waitForRemoval(signal)
      if (removed === 'aborted') {
        pad.display.clear('RMC cancelled')
        return 'aborted'
      }
      pad.display.show2x16(RMC_MSG, 'RMC')
    }
    pad.endCardSession()
    return ok()
  },

  // §6.5.11: one PIN entry, MK/WK:TDES (method 1) or DUKPT:TDES (method 3); the key is checked first.
  GPN: async (req, ctx) => {
    const { pad } = ctx
    if (req.entries.length !== 1 || req.entries[0]!.GPN_MIN < 4) return fail(ST.INVPARM)
    const key = { method: req.GPN_METHOD, index: req.GPN_KEYIDX, wkenc: Buffer.from(req.GPN_WKENC, 'hex') }
    const keyStatus = pad.pinKeyStatus(key)
    if (keyStatus !== ST.OK) return fail(keyStatus)
    let pan = req.GPN_PAN.slice(0, req.GPN_PANLEN)
    if (req.GPN_PANLEN === 0) {
      // §6.5.11: an empty PAN means "the card read by GCX/CEX".
      const known = pad.cardPan()
      if (!known) return fail(ST.INVCALL)
      pan = known
    } else if (pad.wkpan) {
      // §6.5.11, §5.3.1: in "PAN Criptografado" a PAN of 16 or more digits arrives under WKPAN.
      const clear = decodeSentPan(pan, pad.wkpan)
      if (clear === undefined) return fail(ST.INVPARM)
      pan = clear
    }
    if (!/^\d{2,19}$/.test(pan)) return fail(ST.INVPARM)
    const entry = req.entries[0]!
    const result = await pad.capturePin(ctx, entry.GPN_MSG, entry.GPN_MIN, entry.GPN_MAX, pan, key)
    pad.display.clear('GPN')
    if (result === 'aborted') return 'aborted'
    if (typeof result === 'number') return fail(result)
    return ok({ GPN_PINBLK: result.pinBlock.toString('hex').toUpperCase(), GPN_KSN: result.ksn.toString('hex').toUpperCase() })
  },
}
