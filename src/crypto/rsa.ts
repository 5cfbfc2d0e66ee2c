/**
 * RSA over Node's crypto for the ABECS secure session (§5.2.1), the random-key track encryption
 * (§5.4.2) and DWK's modality 2 (§5.3.3). Keys travel as bare modulus and exponent; Node 20 refuses
 * PKCS #1 v1.5 private decryption (CVE-2023-46809), so the host decrypts raw and checks the block
 * format that §5.2.1 spells out itself.
 */
import { constants, createPublicKey, generateKeyPairSync, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto'
import { CryptoLengthError, RsaBlockError } from '../errors.js'

const b64url = (b: Buffer) => b.toString('base64url')
const unsigned = (b: Buffer) => {
  let i = 0
  while (i < b.length - 1 && b[i] === 0) i++
  return b.subarray(i)
}

/** A public key from its modulus and public exponent (big-endian bytes). */
export function rsaPublicKey(modulus: Buffer, exponent: Buffer): KeyObject {
  if (!modulus.length || !exponent.length) throw new CryptoLengthError('RSA key part', 'at least 1', 0)
  return createPublicKey({ key: { kty: 'RSA', n: b64url(unsigned(modulus)), e: b64url(unsigned(exponent)) }, format: 'jwk' })
}

export interface RsaKeyPair {
  publicKey: KeyObject
  privateKey: KeyObject
  /** Modulus, big-endian, exactly bits/8 bytes. */
  modulus: Buffer
  exponent: Buffer
}

export function generateRsaKeyPair(bits = 2048, publicExponent = 0x10001): RsaKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent })
  const jwk = publicKey.export({ format: 'jwk' })
  const modulus = Buffer.from(jwk.n!, 'base64url')
  return { publicKey, privateKey, modulus: Buffer.concat([Buffer.alloc(bits / 8 - modulus.length), modulus]), exponent: Buffer.from(jwk.e!, 'base64url') }
}

/** Size of the key's modulus in bytes. */
export function rsaSize(key: KeyObject): number {
  return (key.asymmetricKeyDetails?.modulusLength ?? 0) / 8
}

/** PKCS #1 v1.5 encryption (block type 2, §5.2.1): what the pinpad does with KSEC and KRAND. */
export function rsaEncryptPkcs1(publicKey: KeyObject, data: Buffer): Buffer {
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, data)
}

/** Raw RSA (no padding) of a block exactly as long as the modulus (DWK modality 2, §5.3.3). */
export function rsaEncryptRaw(publicKey: KeyObject, block: Buffer): Buffer {
  if (block.length !== rsaSize(publicKey)) throw new CryptoLengthError('RSA block', String(rsaSize(publicKey)), block.length)
  return publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, block)
}

/** Raw RSA private operation: the "opened" block, as long as the modulus. */
export function rsaDecryptRaw(privateKey: KeyObject, cryptogram: Buffer): Buffer {
  return privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, cryptogram)
}

/** §5.2.1: 00h 02h, random non-zero bytes, 00h, then the payload. Returns the payload. */
export function pkcs1Type2Payload(block: Buffer): Buffer {
  if (block[0] !== 0x00 || block[1] !== 0x02) throw new RsaBlockError('the header is not 00h 02h')
  const sep = block.indexOf(0x00, 2)
  if (sep < 10) throw new RsaBlockError('no 00h separator after at least 8 padding bytes')
  return block.subarray(sep + 1)
}
