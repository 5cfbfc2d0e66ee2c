/**
 * The card hash: the captured card form-encoded and RSA-encrypted with the acquirer's key, so the
 * point-of-sale page (and the shop's server) never see card data. Reproduces pagarme/mpos-net-sdk
 * byte for byte (PaymentResult.BuildAccepted + ApiHelper.EncryptWith). See docs/acquirer.md.
 *
 * Nothing here logs, and errors name fields, never their values.
 */
import { constants, createPublicKey, publicEncrypt, type KeyObject } from 'node:crypto'
import type { CapturedCard } from './captured-card.js'
import { CardDataInvalidError, CardHashKeyInvalidError } from '../errors.js'

/** `GET /transactions/card_hash_key`: the key id goes in front of the hash. */
export interface CardHashKey {
  id: string | number
  /** PEM ("-----BEGIN PUBLIC KEY-----"). */
  publicKey: string
}

/**
 * RFC 3986 percent-encoding, as .NET's `Uri.EscapeDataString`: only `A–Z a–z 0–9 - _ . ~` stay.
 * `encodeURIComponent` also leaves `! ' ( ) *`, so those are escaped here.
 */
export function percentEncode(value: string): string {
  let encoded: string
  try {
    encoded = encodeURIComponent(value)
  } catch {
    throw new CardDataInvalidError('a field is not valid Unicode text')
  }
  return encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** "SILVA/JOAO " → "JOAO SILVA": trimmed, split on "/", reversed, joined with a space (as the original). */
export function cardHolderDisplayName(holderName: string): string {
  return holderName.trim().split('/').reverse().join(' ')
}

/** YYMMDD or YYMM → MMYY. */
function expirationMMYY(expiration: string): string {
  if (!/^\d{4}(\d{2})?$/.test(expiration)) throw new CardDataInvalidError('the expiration date is not YYMM or YYMMDD')
  return expiration.slice(2, 4) + expiration.slice(0, 2)
}

/** 5F34 as a plain integer ("0", "1"…), as .NET's int.ToString(). */
function sequenceNumber(n: number | undefined): string {
  const value = n ?? 0
  if (!Number.isSafeInteger(value) || value < 0) throw new CardDataInvalidError('the PAN sequence number is not a non-negative integer')
  return String(value)
}

function required(value: string | undefined, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new CardDataInvalidError(`${field} is missing`)
  return value
}

/** The form, parameters in the original's order. */
export function buildCardHashForm(card: CapturedCard): string {
  const params: Array<[string, string]> = [
    ['capture_method', card.captureMethod === 'emv' ? 'emv' : 'magstripe'],
    ['payment_method', card.paymentMethod === 'credit_card' ? 'credit_card' : 'debit_card'],
    ['card_number', required(card.pan, 'card number')],
    ['card_expiration_date', expirationMMYY(card.expiration)],
    ['card_sequence_number', sequenceNumber(card.panSequenceNumber)],
    ['card_track_2', required(card.track2, 'track 2')],
  ]
  // The original tested for null; an empty track or name counts as absent here too.
  if (card.track1) params.push(['card_track_1', card.track1])
  if (card.track3) params.push(['card_track_3', card.track3])
  if (card.holderName) params.push(['card_holder_name', cardHolderDisplayName(card.holderName)])
  if (card.captureMethod === 'emv') params.push(['card_emv_data', required(card.emvData, 'EMV data')])
  if (card.pin) {
    params.push(['card_pin_mode', card.pin.mode === 'online' ? 'online' : 'offline'])
    if (card.pin.mode === 'online') {
      params.push(['card_pin', required(card.pin.block, 'online PIN block')])
      params.push(['card_pin_kek', required(card.pin.ksn, 'online PIN KSN')])
    }
  }
  return params.map(([k, v]) => `${k}=${percentEncode(v)}`).join('&')
}

/** Parsed keys by PEM: parsing cost more than the RSA encryption itself, and a key serves many payments. */
const parsedKeys = new Map<string, KeyObject>()
/** Keys kept parsed (one per acquirer key in use; the oldest goes first). */
const PARSED_KEYS_KEPT = 16

/** The acquirer's RSA public key, parsed once per key. A PEM that is not one throws CardHashKeyInvalidError. */
export function rsaPublicKey(pem: string): KeyObject {
  const known = parsedKeys.get(pem)
  if (known) return known
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch (err) {
    throw new CardHashKeyInvalidError('the public key is not a PEM public key', { cause: err })
  }
  if (key.asymmetricKeyType !== 'rsa') throw new CardHashKeyInvalidError(`expected an RSA key, got ${key.asymmetricKeyType}`)
  if (parsedKeys.size >= PARSED_KEYS_KEPT) parsedKeys.delete(parsedKeys.keys().next().value!)
  parsedKeys.set(pem, key)
  return key
}

/** The id must not contain "_", which separates it from the cipher text. */
function keyId(id: string | number): string {
  const s = String(id)
  if (!/^[A-Za-z0-9-]{1,64}$/.test(s)) throw new CardHashKeyInvalidError('the key id is not alphanumeric')
  return s
}

/**
 * `<id>_<base64>`: the form's UTF-8 bytes encrypted with RSA PKCS#1 v1.5 in chunks of
 * (key bytes − 11), the cipher blocks concatenated. The plaintext buffer is zeroed afterwards.
 */
export function encryptCardHash(form: string, key: CardHashKey): string {
  const id = keyId(key.id)
  const publicKey = rsaPublicKey(key.publicKey)
  const keyBytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8)
  const chunk = keyBytes - 11
  if (chunk < 1) throw new CardHashKeyInvalidError('the RSA key is too small')
  const data = Buffer.from(form, 'utf8')
  try {
    const blocks: Buffer[] = []
    for (let pos = 0; pos < data.length; pos += chunk) {
      blocks.push(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, data.subarray(pos, pos + chunk)))
    }
    return `${id}_${Buffer.concat(blocks).toString('base64')}`
  } finally {
    data.fill(0)
  }
}

/** Builds the form and encrypts it in one step. */
export function createCardHash(card: CapturedCard, key: CardHashKey): string {
  return encryptCardHash(buildCardHashForm(card), key)
}

/**
 * Drops the card data once the hash exists: every sensitive field is blanked or deleted in place,
 * so any other reference to this object sees nothing either. JS strings are immutable, so this
 * releases them to the garbage collector rather than overwriting memory. Take what the response
 * needs first (e.g. `cardHolderDisplayName(card.holderName)`). Keeps capture method, payment
 * method, contactless, brand and application label.
 */
export function wipeCapturedCard(card: CapturedCard): void {
  card.pan = ''
  card.expiration = ''
  card.track2 = ''
  card.panSequenceNumber = 0
  if (card.pin) {
    delete card.pin.block
    delete card.pin.ksn
  }
  delete card.pin
  delete card.track1
  delete card.track3
  delete card.holderName
  delete card.emvData
}
