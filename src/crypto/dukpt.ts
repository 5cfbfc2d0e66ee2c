/**
 * ANSI X9.24-1:2009 DUKPT with double-length TDES keys (ABECS "DUKPT:TDES", §5.1.2 of the ABECS spec).
 *
 * KSN (10 bytes) = key set identifier + TRSM id (59 bits) | transaction counter (rightmost 21 bits).
 * Host side: BDK + KSN → IPEK → transaction key. Pinpad side: `DukptKeyStore` issues a fresh KSN per PIN entry.
 */
import { desEncryptBlock, tdesEncryptEcb, xor, TDES_KEY } from './des.js'
import { CryptoLengthError, DukptCounterExhaustedError, InvalidKsnError } from '../errors.js'

export const KSN_BYTES = 10
export const KSN_COUNTER_BITS = 21
export const KSN_COUNTER_MAX = 0x1fffff
/** X9.24-1: an originating device never uses a counter with more than 10 one bits (bounds derivation to 10 steps). */
export const MAX_COUNTER_ONES = 10

// X9.24-1:2009 A.6: mask for the IPEK right half and the left half of the non-reversible key generation.
const KEY_REGISTER_MASK = Buffer.from('C0C0C0C000000000C0C0C0C000000000', 'hex')

/** X9.24-1:2009 key variants, XORed into the transaction key (ABECS §5.1.2 table). */
export const PIN_VARIANT = Buffer.from('00000000000000FF00000000000000FF', 'hex')
export const MAC_REQUEST_VARIANT = Buffer.from('000000000000FF00000000000000FF00', 'hex')
export const MAC_RESPONSE_VARIANT = Buffer.from('00000000FF00000000000000FF000000', 'hex')
export const DATA_REQUEST_VARIANT = Buffer.from('0000000000FF00000000000000FF0000', 'hex')
export const DATA_RESPONSE_VARIANT = Buffer.from('000000FF00000000000000FF00000000', 'hex')

export type Direction = 'request' | 'response'

// ---------------------------------------------------------------------------------------------------------------
// KSN helpers

function checkKsn(ksn: Buffer): void {
  if (ksn.length !== KSN_BYTES) throw new CryptoLengthError('KSN', String(KSN_BYTES), ksn.length)
}

function checkTdesKey(key: Buffer, what: string): void {
  if (key.length !== TDES_KEY) throw new CryptoLengthError(what, String(TDES_KEY), key.length)
}

/** 20 hex digits (case-insensitive) → 10-byte KSN. */
export function parseKsn(hex: string): Buffer {
  if (!/^[0-9A-Fa-f]{20}$/.test(hex)) throw new InvalidKsnError('expected 20 hexadecimal digits')
  return Buffer.from(hex, 'hex')
}

/** 10-byte KSN → 20 uppercase hex digits (the ABECS H20 form). */
export function formatKsn(ksn: Buffer): string {
  checkKsn(ksn)
  return ksn.toString('hex').toUpperCase()
}

/** The 21-bit transaction counter. */
export function getKsnCounter(ksn: Buffer): number {
  checkKsn(ksn)
  return ((ksn[7]! & 0x1f) << 16) | (ksn[8]! << 8) | ksn[9]!
}

/** A copy of `ksn` with its 21-bit transaction counter replaced. */
export function setKsnCounter(ksn: Buffer, counter: number): Buffer {
  checkKsn(ksn)
  if (!Number.isInteger(counter) || counter < 0 || counter > KSN_COUNTER_MAX) {
    throw new InvalidKsnError('transaction counter must be an integer from 0 to 0x1FFFFF')
  }
  const out = Buffer.from(ksn)
  out[7] = (out[7]! & 0xe0) | (counter >>> 16)
  out[8] = (counter >>> 8) & 0xff
  out[9] = counter & 0xff
  return out
}

export function countOnes(n: number): number {
  let ones = 0
  for (let v = n; v !== 0; v &= v - 1) ones++
  return ones
}

/**
 * The smallest counter above `counter` with at most 10 one bits, or null when none is left (X9.24-1 A.2,
 * "New Key-4": when c+1 has too many ones, adding its lowest one bit skips every value that keeps them all).
 */
export function nextCounter(counter: number): number | null {
  let n = counter + 1
  while (n <= KSN_COUNTER_MAX && countOnes(n) > MAX_COUNTER_ONES) n += n & -n
  return n > KSN_COUNTER_MAX ? null : n
}

// ---------------------------------------------------------------------------------------------------------------
// Key derivation

/** X9.24-1:2009 A.6 initial key: TDES of the KSN's leftmost 8 bytes (counter zeroed) under BDK and BDK⊕C0C0…. */
export function deriveIpek(bdk: Buffer, ksn: Buffer): Buffer {
  checkTdesKey(bdk, 'BDK')
  const base = setKsnCounter(ksn, 0).subarray(0, 8)
  return Buffer.concat([tdesEncryptEcb(bdk, base), tdesEncryptEcb(xor(bdk, KEY_REGISTER_MASK), base)])
}

/** X9.24-1:2009 A.2 non-reversible key generation process: one step of the key tree. */
function nonReversibleKey(key: Buffer, data: Buffer): Buffer {
  const half = (k: Buffer): Buffer => {
    const right = k.subarray(8)
    return xor(desEncryptBlock(k.subarray(0, 8), xor(data, right)), right)
  }
  return Buffer.concat([half(xor(key, KEY_REGISTER_MASK)), half(key)])
}

/**
 * Host-side transaction key (X9.24-1:2009 A.6): from the IPEK, one non-reversible step for each set bit of the
 * counter, most significant first, each time with the KSN's rightmost 8 bytes holding the bits seen so far.
 * Counter 0 gives the IPEK itself.
 */
export function deriveTransactionKey(ipek: Buffer, ksn: Buffer): Buffer {
  checkTdesKey(ipek, 'IPEK')
  const register = setKsnCounter(ksn, 0).subarray(2)
  const counter = getKsnCounter(ksn)
  let key: Buffer = Buffer.from(ipek)
  for (let bit = 1 << (KSN_COUNTER_BITS - 1); bit !== 0; bit >>>= 1) {
    if ((counter & bit) === 0) continue
    register[5]! |= bit >>> 16
    register[6]! |= (bit >>> 8) & 0xff
    register[7]! |= bit & 0xff
    key = nonReversibleKey(key, register)
  }
  return key
}

function variant(transactionKey: Buffer, mask: Buffer): Buffer {
  checkTdesKey(transactionKey, 'transaction key')
  return xor(transactionKey, mask)
}

/** PIN encryption key: transaction key ⊕ 00000000000000FF00000000000000FF. */
export const pinKey = (transactionKey: Buffer): Buffer => variant(transactionKey, PIN_VARIANT)

/** MAC key (request or both ways / response). */
export const macKey = (transactionKey: Buffer, direction: Direction = 'request'): Buffer =>
  variant(transactionKey, direction === 'request' ? MAC_REQUEST_VARIANT : MAC_RESPONSE_VARIANT)

/**
 * Data encryption key (request or both ways / response). Besides the variant, X9.24-1:2009 A.4.1 encrypts each
 * half of the variant key under the variant key (the extra TDES step the ABECS §5.1.2 note mentions).
 */
export function dataKey(transactionKey: Buffer, direction: Direction = 'request'): Buffer {
  const v = variant(transactionKey, direction === 'request' ? DATA_REQUEST_VARIANT : DATA_RESPONSE_VARIANT)
  return tdesEncryptEcb(v, v)
}

// ---------------------------------------------------------------------------------------------------------------
// Pinpad side

export interface DukptIssue {
  /** KSN to send with the PIN block (counter already advanced). */
  ksn: Buffer
  pinKey: Buffer
  /** Current transaction key, for other variants (data, MAC) under the same KSN. */
  transactionKey: Buffer
}

/**
 * Key store of the virtual pinpad. Holds the IPEK (not the BDK) and the last KSN issued; the initial KSN's
 * counter counts as already used, so a store started at …E00000 first issues …E00001.
 * A real device keeps X9.24's future key registers instead of the IPEK; the keys it produces are the same.
 */
export class DukptKeyStore {
  readonly #ipek: Buffer
  #ksn: Buffer

  constructor(bdk: Buffer, initialKsn: Buffer) {
    checkKsn(initialKsn)
    if (countOnes(getKsnCounter(initialKsn)) > MAX_COUNTER_ONES) {
      throw new InvalidKsnError('transaction counter has more than 10 bits set')
    }
    this.#ipek = deriveIpek(bdk, initialKsn)
    this.#ksn = Buffer.from(initialKsn)
  }

  /** The last KSN issued (or the initial one). A copy. */
  get ksn(): Buffer {
    return Buffer.from(this.#ksn)
  }

  /** The KSN the next use will carry, without using it (ABECS GDU, §6.5.9); undefined when exhausted. */
  peekNextKsn(): Buffer | undefined {
    const n = nextCounter(getKsnCounter(this.#ksn))
    return n === null ? undefined : setKsnCounter(this.#ksn, n)
  }

  /** Advances the counter (skipping values with more than 10 one bits) and returns the new KSN and its keys. */
  next(): DukptIssue {
    const counter = getKsnCounter(this.#ksn)
    const n = nextCounter(counter)
    if (n === null) throw new DukptCounterExhaustedError(counter.toString(16).toUpperCase().padStart(6, '0'))
    this.#ksn = setKsnCounter(this.#ksn, n)
    const transactionKey = deriveTransactionKey(this.#ipek, this.#ksn)
    return { ksn: Buffer.from(this.#ksn), pinKey: pinKey(transactionKey), transactionKey }
  }
}
