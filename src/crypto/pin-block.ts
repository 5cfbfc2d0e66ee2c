/**
 * ISO 9564-1 PIN block format 0 (ABECS GPN/GOC with DUKPT:TDES:PIN), and its TDES-ECB encryption.
 *
 * PIN field: 0 | PIN length | PIN digits | F fill (16 nibbles).
 * PAN field: 0000 | 12 rightmost PAN digits excluding the check digit (left zero-padded when shorter).
 * Block = PIN field ⊕ PAN field.
 */
import { DES_BLOCK, tdesDecryptEcb, tdesEncryptEcb, xor } from './des.js'
import { CryptoLengthError, InvalidPanError, InvalidPinError, PinBlockInvalidError } from '../errors.js'

export const PIN_MIN_DIGITS = 4
export const PIN_MAX_DIGITS = 12
// ISO/IEC 7812-1 allows 8 to 19 digits.
export const PAN_MIN_DIGITS = 8
export const PAN_MAX_DIGITS = 19

function checkPin(pin: string): void {
  if (!/^[0-9]*$/.test(pin)) throw new InvalidPinError('only digits are allowed')
  if (pin.length < PIN_MIN_DIGITS || pin.length > PIN_MAX_DIGITS) {
    throw new InvalidPinError(`must have ${PIN_MIN_DIGITS} to ${PIN_MAX_DIGITS} digits`)
  }
}

function panField(pan: string): Buffer {
  if (!/^[0-9]*$/.test(pan)) throw new InvalidPanError('only digits are allowed')
  if (pan.length < PAN_MIN_DIGITS || pan.length > PAN_MAX_DIGITS) {
    throw new InvalidPanError(`must have ${PAN_MIN_DIGITS} to ${PAN_MAX_DIGITS} digits`)
  }
  const digits = pan.slice(0, -1).slice(-12).padStart(12, '0')
  return Buffer.from(`0000${digits}`, 'hex')
}

/** Clear ISO 9564-1 format 0 PIN block (8 bytes). */
export function buildIso0PinBlock(pin: string, pan: string): Buffer {
  checkPin(pin)
  const pinField = Buffer.from(`0${pin.length.toString(16)}${pin}`.padEnd(16, 'F'), 'hex')
  return xor(pinField, panField(pan))
}

/** PIN from a clear format 0 block; throws PinBlockInvalidError unless the control, length, digits and fill are right. */
export function parseIso0PinBlock(block: Buffer, pan: string): string {
  if (block.length !== DES_BLOCK) throw new PinBlockInvalidError('a PIN block has 8 bytes')
  const nibbles = xor(block, panField(pan)).toString('hex').toUpperCase()
  if (nibbles[0] !== '0') throw new PinBlockInvalidError('control field is not 0')
  const length = parseInt(nibbles[1]!, 16)
  if (length < PIN_MIN_DIGITS || length > PIN_MAX_DIGITS) throw new PinBlockInvalidError('PIN length out of range')
  const pin = nibbles.slice(2, 2 + length)
  if (!/^[0-9]+$/.test(pin)) throw new PinBlockInvalidError('PIN field holds a non-decimal digit')
  if (!/^F*$/.test(nibbles.slice(2 + length))) throw new PinBlockInvalidError('fill digits are not all F')
  return pin
}

function checkBlock(block: Buffer, what: string): void {
  if (block.length !== DES_BLOCK) throw new CryptoLengthError(what, String(DES_BLOCK), block.length)
}

/** TDES-ECB encryption of a clear PIN block under a PIN key (e.g. the DUKPT PIN variant). */
export function encryptPinBlock(clear: Buffer, pinKey: Buffer): Buffer {
  checkBlock(clear, 'PIN block')
  return tdesEncryptEcb(pinKey, clear)
}

/** TDES-ECB decryption of an encrypted PIN block. */
export function decryptPinBlock(encrypted: Buffer, pinKey: Buffer): Buffer {
  checkBlock(encrypted, 'encrypted PIN block')
  return tdesDecryptEcb(pinKey, encrypted)
}
