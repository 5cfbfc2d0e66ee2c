/**
 * Coded errors of the crypto layer (DES helpers, DUKPT, PIN blocks).
 * Messages name the faulty input and why it is wrong, never its value: no PIN, PAN or key material.
 */
import createError from '@fastify/error'

/** A key, KSN or data block has the wrong size: (what, expected, actual byte count). */
export const CryptoLengthError = createError<[string, string, number]>(
  'MPOS_ERR_CRYPTO_LENGTH',
  'Invalid %s length: expected %s bytes, got %d',
)
export const InvalidKsnError = createError<[string]>('MPOS_ERR_DUKPT_INVALID_KSN', 'Invalid DUKPT KSN: %s')
export const DukptCounterExhaustedError = createError<[string]>(
  'MPOS_ERR_DUKPT_COUNTER_EXHAUSTED',
  'The DUKPT transaction counter is exhausted after %s: no 21-bit value with at most 10 bits set is left (X9.24-1)',
)
export const InvalidPinError = createError<[string]>('MPOS_ERR_PIN_INVALID', 'Invalid PIN: %s')
export const InvalidPanError = createError<[string]>('MPOS_ERR_PAN_INVALID', 'Invalid PAN: %s')
export const PinBlockInvalidError = createError<[string]>(
  'MPOS_ERR_PIN_BLOCK_INVALID',
  'Malformed ISO 9564-1 format 0 PIN block: %s',
)
/** An RSA block opened with the private key does not have the expected format: (why). */
export const RsaBlockError = createError<[string]>('MPOS_ERR_RSA_BLOCK', 'Malformed RSA block: %s')
