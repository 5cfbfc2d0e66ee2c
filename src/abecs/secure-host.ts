/**
 * Host side of the secure session's start (§5.2.1): an RSA key pair of 256-byte modulus, the secure
 * OPN's parameters (§3.2.2), and KSEC out of the pinpad's OPN_CRKSEC.
 */
import { generateRsaKeyPair, pkcs1Type2Payload, rsaDecryptRaw, type RsaKeyPair } from '../crypto/rsa.js'
import { KSEC_BYTES } from './secure.js'
import { SecureSessionError } from '../errors.js'
import type { OpnRequest } from './commands/session.js'

/** §5.2.1: the modulus has 256 bytes ("podendo ser aumentado no futuro"). */
export const SECURE_RSA_BITS = 2048

export function newSessionKeyPair(): RsaKeyPair {
  return generateRsaKeyPair(SECURE_RSA_BITS)
}

/** OPN_OPMODE "0", OPN_MOD (KMOD) and OPN_EXP (KPUB, at most 3 bytes). */
export function secureOpnRequest(keyPair: RsaKeyPair): OpnRequest {
  if (keyPair.modulus.length !== SECURE_RSA_BITS / 8) throw new SecureSessionError(`the RSA modulus has ${keyPair.modulus.length} bytes, not 256`)
  if (keyPair.exponent.length > 3) throw new SecureSessionError('the RSA public exponent does not fit OPN_EXP (3 bytes)')
  return { OPN_OPMODE: '0', OPN_MOD: keyPair.modulus.toString('hex').toUpperCase(), OPN_EXP: keyPair.exponent.toString('hex').toUpperCase() }
}

/** KSEC from OPN_CRKSEC, opened with KPRV (the §5.2.1 block: 00 02, padding, 00, KSEC). */
export function sessionKeyFrom(keyPair: RsaKeyPair, crksec: string): Buffer {
  const ksec = pkcs1Type2Payload(rsaDecryptRaw(keyPair.privateKey, Buffer.from(crksec, 'hex')))
  if (ksec.length !== KSEC_BYTES) throw new SecureSessionError(`CRKSEC holds ${ksec.length} bytes, not a 16-byte KSEC`)
  return Buffer.from(ksec)
}
