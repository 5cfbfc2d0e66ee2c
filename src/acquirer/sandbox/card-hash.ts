/**
 * Opening a card hash with the sandbox private key, as the acquirer does: split the id off,
 * RSA-decrypt each block, strip PKCS#1 v1.5 type-2 padding, parse the form.
 *
 * Node 20 refuses RSA_PKCS1_PADDING in privateDecrypt (CVE-2023-46809, the Marvin attack), so
 * each block is decrypted raw (RSA_NO_PADDING) and the padding is checked here without
 * data-dependent branches until the end, and every failure gives the same error: a padding
 * oracle must not learn which check failed. (JS gives no hard constant-time guarantee; this is
 * a sandbox, but the habit is cheap.)
 */
import { constants, privateDecrypt, type KeyObject } from 'node:crypto'
import { CardHashInvalidError } from '../../errors.js'
import { loadSandboxKey } from './keys.js'

const HASH = /^([0-9]{1,20})_([A-Za-z0-9+/]+={0,2})$/
const MAX_HASH_LENGTH = 64 * 1024

/** 1 when the bytes are equal, else 0, without branching. */
const eq = (a: number, b: number) => (((a ^ b) - 1) >>> 31) & 1

/** The message inside one PKCS#1 v1.5 type-2 block (00 02 PS≥8 00 M), or undefined. */
export function unpadPkcs1Type2(em: Buffer): Buffer | undefined {
  let good = eq(em[0] ?? 1, 0x00) & eq(em[1] ?? 0, 0x02)
  let separator = 0
  let searching = 1
  for (let i = 2; i < em.length; i++) {
    const zero = eq(em[i]!, 0x00)
    const hit = searching & zero
    separator = (separator & (hit - 1)) | (i & -hit)
    searching &= zero ^ 1
  }
  good &= searching ^ 1
  // PS is at least 8 bytes: the separator is at index 10 or later.
  good &= ((separator - 10) >>> 31) ^ 1
  return good === 1 ? em.subarray(separator + 1) : undefined
}

/** Decrypts a card hash with the given private key: the form string inside. */
export function openCardHashForm(hash: string, privateKey: KeyObject): string {
  if (typeof hash !== 'string' || hash.length > MAX_HASH_LENGTH) throw new CardHashInvalidError('not a card hash')
  const m = HASH.exec(hash)
  if (!m) throw new CardHashInvalidError('expected "<id>_<base64>"')
  const cipher = Buffer.from(m[2]!, 'base64')
  const size = Math.ceil((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8)
  if (size === 0 || cipher.length === 0 || cipher.length % size !== 0) {
    throw new CardHashInvalidError(`the cipher text is not a whole number of ${size}-byte blocks`)
  }
  const parts: Buffer[] = []
  let good = true
  for (let pos = 0; pos < cipher.length; pos += size) {
    let block: Buffer
    try {
      block = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, cipher.subarray(pos, pos + size))
    } catch {
      good = false
      continue
    }
    const message = unpadPkcs1Type2(block)
    good &&= message !== undefined
    if (message) parts.push(message)
  }
  const plain = Buffer.concat(parts)
  try {
    if (!good) throw new CardHashInvalidError('it does not decrypt with this key')
    return new TextDecoder('utf-8', { fatal: true }).decode(plain)
  } catch (err) {
    if (err instanceof CardHashInvalidError) throw err
    throw new CardHashInvalidError('the decrypted data is not UTF-8')
  } finally {
    plain.fill(0)
    for (const p of parts) p.fill(0)
  }
}

/** Decrypts and parses a card hash with the given private key. */
export function openCardHash(hash: string, privateKey: KeyObject): Record<string, string> {
  return parseCardHashForm(openCardHashForm(hash, privateKey))
}

/** `a=1&b=x%20y` → `{ a: '1', b: 'x y' }`; keys are lower-case names, each at most once. */
export function parseCardHashForm(form: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of form.split('&')) {
    const eqAt = pair.indexOf('=')
    const key = eqAt < 0 ? pair : pair.slice(0, eqAt)
    if (eqAt < 0 || !/^[a-z][a-z0-9_]{0,63}$/.test(key)) throw new CardHashInvalidError('the form has a malformed parameter')
    if (Object.hasOwn(out, key)) throw new CardHashInvalidError(`${key} appears twice`)
    try {
      out[key] = decodeURIComponent(pair.slice(eqAt + 1))
    } catch {
      throw new CardHashInvalidError(`${key} is not percent-encoded UTF-8`)
    }
  }
  return out
}

/**
 * The fields of a card hash made with the sandbox key of `dataDir` (the `mpos-bridge
 * decrypt-card-hash` tool). Print them through {@link redactCardHashFields}.
 */
export async function decryptCardHash(hash: string, dataDir: string): Promise<Record<string, string>> {
  const { privateKey } = await loadSandboxKey(dataDir)
  return openCardHash(hash, privateKey)
}

/** First 6 and last 4 digits: "476173******0010". Short numbers keep only the last 4. */
export function maskPan(pan: string): string {
  if (pan.length >= 13) return pan.slice(0, 6) + '*'.repeat(pan.length - 10) + pan.slice(-4)
  return '*'.repeat(Math.max(pan.length - 4, 0)) + pan.slice(-4)
}

/** Fields that contain the card number or PIN data, whole: shown only by their length. */
const HIDDEN = new Set(['card_track_1', 'card_track_2', 'card_track_3', 'card_emv_data', 'card_pin'])

/**
 * The fields made safe to print: the PAN masked, tracks, EMV data (which hold the PAN) and the
 * PIN block replaced by their length; the rest as is.
 */
export function redactCardHashFields(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(fields)) {
    out[k] = k === 'card_number' ? maskPan(v) : HIDDEN.has(k) ? `[hidden, ${v.length} characters]` : v
  }
  return out
}
