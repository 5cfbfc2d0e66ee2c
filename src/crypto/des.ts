/**
 * DES primitives over Node's crypto (OpenSSL). Only `des-ede3-ecb` is used: it is in OpenSSL 3's default
 * provider, while single DES (`des-ecb`) is legacy-only and unavailable in Node 20. A 16-byte key K1|K2 runs as
 * K1|K2|K1 (two-key TDES, X9.52 keying option 2); single DES runs as K|K|K, since E(K) D(K) E(K) = E(K).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { CryptoLengthError } from '../errors.js'

const CIPHER = 'des-ede3-ecb'
export const DES_BLOCK = 8
export const TDES_KEY = 16

function checkKey(key: Buffer, size: number): void {
  if (key.length !== size) throw new CryptoLengthError('DES key', String(size), key.length)
}

function checkData(data: Buffer): void {
  if (data.length === 0 || data.length % DES_BLOCK !== 0) {
    throw new CryptoLengthError('DES data', 'a non-zero multiple of 8', data.length)
  }
}

function run(decrypt: boolean, key24: Buffer, data: Buffer): Buffer {
  const c = decrypt ? createDecipheriv(CIPHER, key24, null) : createCipheriv(CIPHER, key24, null)
  c.setAutoPadding(false)
  return Buffer.concat([c.update(data), c.final()])
}

const expand2Key = (key: Buffer): Buffer => Buffer.concat([key, key.subarray(0, 8)])

/** Two-key TDES-ECB encryption of whole 8-byte blocks. */
export function tdesEncryptEcb(key: Buffer, data: Buffer): Buffer {
  checkKey(key, TDES_KEY)
  checkData(data)
  return run(false, expand2Key(key), data)
}

/** Two-key TDES-ECB decryption of whole 8-byte blocks. */
export function tdesDecryptEcb(key: Buffer, data: Buffer): Buffer {
  checkKey(key, TDES_KEY)
  checkData(data)
  return run(true, expand2Key(key), data)
}

/** Single-DES encryption of one 8-byte block (8-byte key, parity bits ignored). */
export function desEncryptBlock(key: Buffer, block: Buffer): Buffer {
  checkKey(key, 8)
  if (block.length !== DES_BLOCK) throw new CryptoLengthError('DES block', '8', block.length)
  return run(false, Buffer.concat([key, key, key]), block)
}

/** Bytewise XOR of two equal-length buffers (new buffer). */
export function xor(a: Buffer, b: Buffer): Buffer {
  if (a.length !== b.length) throw new CryptoLengthError('XOR operand', String(a.length), b.length)
  const out = Buffer.alloc(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

function runCbc(decrypt: boolean, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  checkKey(key, TDES_KEY)
  checkData(data)
  if (iv.length !== DES_BLOCK) throw new CryptoLengthError('CBC IV', '8', iv.length)
  const k = expand2Key(key)
  const c = decrypt ? createDecipheriv('des-ede3-cbc', k, iv) : createCipheriv('des-ede3-cbc', k, iv)
  c.setAutoPadding(false)
  return Buffer.concat([c.update(data), c.final()])
}

/** Two-key TDES-CBC encryption of whole 8-byte blocks (IV 8 bytes). */
export const tdesEncryptCbc = (key: Buffer, iv: Buffer, data: Buffer): Buffer => runCbc(false, key, iv, data)

/** Two-key TDES-CBC decryption of whole 8-byte blocks (IV 8 bytes). */
export const tdesDecryptCbc = (key: Buffer, iv: Buffer, data: Buffer): Buffer => runCbc(true, key, iv, data)
