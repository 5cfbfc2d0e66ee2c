/**
 * The data keys of EBX, GTK and GEN/03/03 (§3.1.3 SPE_MTHDDAT, §5.1.2, §5.4.2): MK/WK:TDES ("10"
 * ECB, "11" CBC), DUKPT:TDES:DAT#1 ("30", ECB; the MAC-request variant) and #3 ("50"/"51"; the
 * MAC-response variant, §5.1.2 table), and for GTK a random TDES key ("90"/"91") sent under the host's
 * RSA key. DES methods ("00"/"01") need MK:DES:DAT keys, never loaded here; spec 2.20 drops them and
 * "30" altogether. Each issue() of a DUKPT key uses one KSN for all its blocks (§5.1.2).
 */
import { randomBytes } from 'node:crypto'
import { tdesEncryptCbc, tdesEncryptEcb } from '../crypto/des.js'
import { nextDataKey } from './dukpt-data.js'
import { rsaEncryptPkcs1, rsaPublicKey } from '../crypto/rsa.js'
import { ST } from '../abecs/return-codes.js'
import type { BlockCipher } from '../abecs/track-crypt.js'
import type { KeyStore } from './key-store.js'
import type { SpecVersion } from './identity.js'

export interface DataKeyRequest {
  method: string
  keyIndex?: number
  wkenc?: Buffer
  iv?: Buffer
  /** Only GTK may ask for a random key ("9x"). */
  allowRandom?: boolean
  rsaModulus?: Buffer
  rsaExponent?: Buffer
}

export interface DataKey {
  /** One key use: the cipher and, for DUKPT, the KSN it consumed. */
  issue(): { cipher: BlockCipher; ksn?: Buffer }
  cbc: boolean
  dukpt: boolean
  /** KRAND under the host's RSA key (PP_ENCKRAND), for "9x". */
  encKrand?: Buffer
}

const ZERO_IV = Buffer.alloc(8)

function blockCipher(key: Buffer, cbc: boolean, iv: Buffer): BlockCipher {
  return cbc ? (data) => tdesEncryptCbc(key, iv, data) : (data) => tdesEncryptEcb(key, data)
}

export function dataKey(keys: KeyStore, req: DataKeyRequest, version: SpecVersion): DataKey | { status: number } {
  const { method } = req
  if (version === '2.20' && ['00', '01', '30'].includes(method)) return { status: ST.INVPARM }
  const cbc = method[1] === '1'
  const iv = req.iv ?? ZERO_IV
  if (!/^(0[01]|1[01]|30|5[01]|9[01])$/.test(method)) return { status: ST.INVPARM }
  if (method[0] === '9') {
    if (!req.allowRandom) return { status: ST.INVPARM }
    if (!req.rsaModulus || !req.rsaExponent) return { status: ST.MANDAT }
    const krand = randomBytes(16)
    let encKrand: Buffer
    try {
      encKrand = rsaEncryptPkcs1(rsaPublicKey(req.rsaModulus, req.rsaExponent), krand)
    } catch {
      return { status: ST.INVPARM }
    }
    return { issue: () => ({ cipher: blockCipher(krand, cbc, iv) }), cbc, dukpt: false, encKrand }
  }
  if (req.keyIndex === undefined) return { status: ST.MANDAT }
  if (method[0] === '0') return { status: keys.status('MK:DES:DAT', req.keyIndex) || ST.ERRKEY }
  if (method[0] === '1') {
    if (!req.wkenc) return { status: ST.MANDAT }
    const found = keys.workingKey('MK:TDES:DAT', req.keyIndex, req.wkenc)
    if ('status' in found) return found
    return { issue: () => ({ cipher: blockCipher(found.key, cbc, iv) }), cbc, dukpt: false }
  }
  const found = keys.dukpt('DUKPT:TDES:DAT', req.keyIndex)
  if ('status' in found) return found
  const variant = method === '30' ? 'request' : 'response'
  return {
    issue: () => {
      const { ksn, key } = nextDataKey(found.key, variant)
      return { cipher: blockCipher(key, cbc, iv), ksn }
    },
    cbc,
    dukpt: true,
  }
}
