/**
 * OPN (§6.4.1: classic, or secure with the host's RSA key, §5.2.1) and DWK (§6.4.4: "PAN
 * Criptografado", §5.3) on the virtual pinpad. A new OPN ends a secure session and WKPAN first
 * (§6.3.2; 2.20 §6.4.1 says so for both).
 */
import { randomBytes } from 'node:crypto'
import { ST } from '../../abecs/return-codes.js'
import { isSecureOpn } from '../../abecs/commands/index.js'
import { wkpanBlock } from '../../abecs/pan-crypt.js'
import { rsaEncryptRaw, rsaPublicKey } from '../../crypto/rsa.js'
import { tdesEncryptEcb } from '../../crypto/des.js'
import { ok, fail, type HandlerTable } from './types.js'

let dwkSequence = 0

export const sessionHandlers: HandlerTable = {
  OPN: (req, { pad }) => {
    pad.secure.end()
    pad.wkpan = undefined
    pad.opened = true
    pad.display.clear('OPN')
    // A 1.x pinpad answers the classic way, with no CRKSEC (§3.2.2 "pinpad obsoleto").
    if (!isSecureOpn(req) || pad.identity.specVersion === '1.08') return ok({})
    if (req.OPN_OPMODE !== '0' || req.OPN_MOD.length !== 512 || !req.OPN_EXP) return fail(ST.INVPARM)
    let key
    try {
      key = rsaPublicKey(Buffer.from(req.OPN_MOD, 'hex'), Buffer.from(req.OPN_EXP, 'hex'))
    } catch {
      return fail(ST.INVPARM)
    }
    return ok({ OPN_CRKSEC: pad.secure.start(key).toString('hex').toUpperCase() })
  },

  DWK: (req, { pad }) => {
    if (pad.secure.active) return fail(ST.INVCALL)
    if (req.DWK_MODE === '1') {
      if (req.DWK_METHOD !== '1') {
        // "0" is MK:DES (obsolete: never loaded here; 2.20 drops the method).
        if (req.DWK_METHOD !== '0' || pad.identity.specVersion === '2.20') return fail(ST.INVPARM)
        return fail(pad.keys.status('MK:DES:DAT', Number(req.DWK_MKIDX)))
      }
      const mk = pad.keys.masterKey('MK:TDES:DAT', Number(req.DWK_MKIDX))
      if ('status' in mk) return fail(mk.status)
      // §5.3 modality 1: the host sends WKPAN through TDES⁻¹ under the MK; the pinpad applies TDES.
      pad.wkpan = tdesEncryptEcb(mk.key, Buffer.from(req.DWK_WKPAN, 'hex'))
      return ok({})
    }
    const modulus = Buffer.from(req.DWK_RSAMOD, 'hex')
    // §6.4.4: the block starts with "T" (54h), so the modulus must start above it.
    if (modulus[0]! <= 0x54) return fail(ST.INVPARM)
    let key
    try {
      key = rsaPublicKey(modulus, Buffer.from(req.DWK_RSAEXP, 'hex'))
    } catch {
      return fail(ST.INVPARM)
    }
    const wkpan = randomBytes(16)
    const crypt = rsaEncryptRaw(key, wkpanBlock(wkpan, ++dwkSequence))
    pad.wkpan = wkpan
    return ok({ DWK_CRYPT: crypt.toString('hex').toUpperCase() })
  },
}
