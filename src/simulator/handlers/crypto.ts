/** Data encryption on the virtual pinpad: EBX (§6.5.6), ENB (§6.5.7) and the DUKPT serial number GDU (§6.5.9). */
import { ST } from '../../abecs/return-codes.js'
import { tdesEncryptEcb } from '../../crypto/des.js'
import { dataKey } from '../data-keys.js'
import { ok, fail, type HandlerTable } from './types.js'

const hex = (b: Buffer) => b.toString('hex').toUpperCase()

export const cryptoHandlers: HandlerTable = {
  EBX: (p, { pad }) => {
    const data = p.SPE_DATAIN!
    if (!data.length || data.length % 8 || data.length > 256) return fail(ST.INVPARM)
    const key = dataKey(
      pad.keys,
      { method: p.SPE_MTHDDAT!, keyIndex: p.SPE_KEYIDX!, ...(p.SPE_WKENC ? { wkenc: p.SPE_WKENC } : {}), ...(p.SPE_IVCBC ? { iv: p.SPE_IVCBC } : {}) },
      pad.identity.specVersion,
    )
    if ('status' in key) return fail(key.status)
    const { cipher, ksn } = key.issue()
    return ok({ PP_DATAOUT: cipher(data), ...(ksn ? { PP_KSN: ksn } : {}) })
  },

  // §3.3.7: "0" MK/WK:DES (never loaded here; gone in 2.20), "1" MK/WK:TDES; ENB_INPUT arrives under WKPAN "in reverse".
  ENB: (p, { pad }) => {
    const index = Number(p.ENB_MKIDX)
    if (p.ENB_METHOD !== '1') {
      if (p.ENB_METHOD !== '0' || pad.identity.specVersion === '2.20') return fail(ST.INVPARM)
      return fail(pad.keys.status('MK:DES:DAT', index))
    }
    const wk = pad.keys.workingKey('MK:TDES:DAT', index, Buffer.from(p.ENB_WKENC, 'hex'))
    if ('status' in wk) return fail(wk.status)
    let input: Buffer = Buffer.from(p.ENB_INPUT, 'hex')
    if (pad.wkpan) input = tdesEncryptEcb(pad.wkpan, input)
    return ok({ ENB_OUTPUT: hex(tdesEncryptEcb(wk.key, input)) })
  },

  // §6.5.9: the KSN the next use of the key will carry. "2" DUKPT:DES (never loaded; gone in 2.20), "3" DUKPT:TDES.
  GDU: (p, { pad }) => {
    const index = Number(p.GDU_IDX)
    if (p.GDU_METHOD !== '3') {
      if (p.GDU_METHOD !== '2' || pad.identity.specVersion === '2.20') return fail(ST.INVPARM)
      return fail(pad.keys.status('DUKPT:DES:PIN', index))
    }
    const found = pad.keys.dukpt('DUKPT:TDES:PIN', index)
    if ('status' in found) return fail(found.status)
    const next = found.key.peekNextKsn()
    return next ? ok({ GDU_KSN: hex(next) }) : fail(ST.ERRKEY)
  },
}
