/** Encryption with the pinpad's data keys (§3.3.6 EBX, §3.3.7 ENB) and the DUKPT serial number (§3.3.9 GDU). */
import { H, Nd, record } from '../fields.js'
import type { PpData, SpeParams } from '../params.js'
import { classic, tlvCommand } from './spec.js'

/** §3.3.6: up to 256 bytes (a multiple of 8) under MK/WK or DUKPT, ECB or CBC. */
export const EBX = tlvCommand<Pick<SpeParams, 'SPE_DATAIN' | 'SPE_MTHDDAT' | 'SPE_KEYIDX' | 'SPE_WKENC' | 'SPE_IVCBC'>, PpData>('EBX', {
  request: ['SPE_DATAIN', 'SPE_MTHDDAT', 'SPE_KEYIDX'],
  response: ['PP_DATAOUT'],
})

/** §3.3.7: 8 bytes under MK/WK:TDES:DAT ("0" = DES, obsolete); ENB_INPUT arrives under WKPAN in "PAN Criptografado". */
export const ENB = classic(
  'ENB',
  record({ ENB_METHOD: Nd(1), ENB_MKIDX: Nd(2), ENB_WKENC: H(32), ENB_INPUT: H(16) }),
  record({ ENB_OUTPUT: H(16) }),
)

/** §3.3.9: the KSN the next use of a DUKPT PIN key will carry ("2" DES, "3" TDES). */
export const GDU = classic('GDU', record({ GDU_METHOD: Nd(1), GDU_IDX: Nd(2) }), record({ GDU_KSN: H(20) }))
