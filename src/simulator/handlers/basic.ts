/** Basic commands on the virtual pinpad (§6.5): DSP, DEX, GKY, CKE, RMC, GPN. */
import { ST } from '../../abecs/return-codes.js'
import { ok, fail, type HandlerTable } from './types.js'
import type { Key } from '../cardholder.js'

/** GKY answers the key in RSP_STAT (§3.3.10). */
const KEY_STATUS: Record<Key, number> = { ok: ST.OK, f1: ST.F1, f2: ST.F2, f3: ST.F3, f4: ST.F4, clear: ST.BACKSP, cancel: ST.CANCEL }
/** CKE_KEYCODE (§3.3.3). */
const KEY_CODE: Record<Key, string> = { ok: '00', f1: '04', f2: '05', f3: '06', f4: '07', clear: '08', cancel: '13' }

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
    const key = await pad.cardholder.waitForKey(signal)
    if (key === 'aborted') return 'aborted'
    return { status: KEY_STATUS[key] }
  },

  // §6.5.3: waits for the events asked for; only keys and ICC insertion/removal are simulated.
  CKE: async ({ CKE_KEY, CKE_ICC }, { pad, signal }) => {
    if (CKE_ICC === '2' && !pad.cardholder.inserted) return ok({ CKE_EVENT: '2', CKE_ICCSTAT: '0' })
    if (CKE_ICC === '1' && pad.cardholder.inserted) return ok({ CKE_EVENT: '2', CKE_ICCSTAT: '1' })
    if (CKE_ICC === '2') {
      const removed = await pad.cardholder.waitForRemoval(signal)
      return removed === 'aborted' ? 'aborted' : ok({ CKE_EVENT: '2', CKE_ICCSTAT: '0' })
    }
    if (CKE_KEY !== '1') {
      // Waits for nothing the simulation produces: only CAN or a new command ends it.
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
      return 'aborted'
    }
    const key = await pad.cardholder.waitForKey(signal)
    if (key === 'aborted') return 'aborted'
    return ok({ CKE_EVENT: '0', CKE_KEYCODE: KEY_CODE[key] })
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

  // §6.5.11: one PIN entry, DUKPT:TDES (method 3) only — the virtual pinpad holds no MK/WK.
  GPN: async (req, ctx) => {
    const { pad } = ctx
    // §6.5.11: a key index outside the pinpad's range is ST_INVPARM; a key not loaded, ST_ERRKEY.
    if (req.entries.length !== 1 || req.entries[0]!.GPN_MIN < 4 || !pad.keySlotSupported(req.GPN_KEYIDX)) return fail(ST.INVPARM)
    if (req.GPN_METHOD !== '3' || !pad.dukptKeyIndexes.includes(req.GPN_KEYIDX)) return fail(ST.ERRKEY)
    let pan = req.GPN_PAN.slice(0, req.GPN_PANLEN)
    if (req.GPN_PANLEN === 0) {
      // §6.5.11: an empty PAN means "the card read by GCX/CEX".
      const known = pad.cardPan()
      if (!known) return fail(ST.INVCALL)
      pan = known
    }
    if (!/^\d{2,19}$/.test(pan)) return fail(ST.INVPARM)
    const entry = req.entries[0]!
    const result = await pad.capturePin(ctx, entry.GPN_MSG, entry.GPN_MIN, entry.GPN_MAX, pan, req.GPN_KEYIDX)
    pad.display.clear('GPN')
    if (result === 'aborted') return 'aborted'
    if (typeof result === 'number') return fail(result)
    return ok({ GPN_PINBLK: result.pinBlock.toString('hex').toUpperCase(), GPN_KSN: result.ksn.toString('hex').toUpperCase() })
  },
}
