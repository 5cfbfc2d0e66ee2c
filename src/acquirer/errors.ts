/**
 * Coded errors of the acquirer client, the sandbox acquirer and the card hash. Messages name the
 * request (method and path) and the encryption key only masked (`ek_test_…Ll23`); never a card
 * number, track, PIN block or card hash.
 */
import createError from '@fastify/error'

type Cause = { cause?: unknown }

/** HTTP 401: the acquirer does not know this encryption key. Not retried. */
export const AcquirerUnauthorizedError = createError<[string, string]>(
  'MPOS_ERR_ACQUIRER_UNAUTHORIZED',
  'The acquirer refused %s: invalid encryption key (%s)',
)
/** Connection refused, reset, DNS failure… after every retry. */
export const AcquirerUnreachableError = createError<[string, number, string, Cause?]>(
  'MPOS_ERR_ACQUIRER_UNREACHABLE',
  'Cannot reach the acquirer for %s after %d attempt(s): %s',
)
/** No complete answer within the per-request timeout, after every retry. */
export const AcquirerTimeoutError = createError<[string, number, number]>(
  'MPOS_ERR_ACQUIRER_TIMEOUT',
  'The acquirer did not answer %s within %d ms (%d attempt(s))',
)
/** HTTP 5xx after every retry. */
export const AcquirerUnavailableError = createError<[string, number, number]>(
  'MPOS_ERR_ACQUIRER_UNAVAILABLE',
  'The acquirer answered %s with HTTP %d (%d attempt(s))',
)
/** Any other 4xx (or an unexpected status): the request itself was refused. Not retried. */
export const AcquirerRejectedError = createError<[string, number]>(
  'MPOS_ERR_ACQUIRER_REJECTED',
  'The acquirer refused %s with HTTP %d',
)
/** 2xx whose body is not JSON, or not of the expected shape. */
export const AcquirerBadResponseError = createError<[string, string, Cause?]>(
  'MPOS_ERR_ACQUIRER_BAD_RESPONSE',
  'Unexpected answer from the acquirer to %s: %s',
)
/** The caller's AbortSignal fired. */
export const AcquirerAbortedError = createError<[string]>('MPOS_ERR_ACQUIRER_ABORTED', 'The request %s was cancelled')
/** Bad arguments (empty encryption key, bad base URL…). */
export const AcquirerConfigError = createError<[string]>('MPOS_ERR_ACQUIRER_CONFIG', 'Invalid acquirer configuration: %s')

/** The captured card cannot make a card hash (the message names the field, never its value). */
export const CardDataInvalidError = createError<[string]>('MPOS_ERR_CARD_DATA_INVALID', 'Cannot build the card hash: %s')
/** The card-hash public key is unusable. */
export const CardHashKeyInvalidError = createError<[string, Cause?]>(
  'MPOS_ERR_CARD_HASH_KEY_INVALID',
  'Invalid card hash key: %s',
)
/** A card hash that does not decrypt or parse (sandbox and `decrypt-card-hash`). */
export const CardHashInvalidError = createError<[string]>('MPOS_ERR_CARD_HASH_INVALID', 'Invalid card hash: %s')
/** The sandbox key pair in the data directory is unreadable. */
export const SandboxKeyError = createError<[string, Cause?]>('MPOS_ERR_SANDBOX_KEY', 'Sandbox card-hash key: %s')

/**
 * `ek_test_Abc…Ll23`: enough to tell keys apart in a log, not enough to use one. Short or
 * unusual keys show only their first three characters.
 */
export function maskEncryptionKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) return '(none)'
  const prefix = /^(?:ek|ak)_(?:test|live)_/.exec(key)?.[0] ?? key.slice(0, 3)
  const rest = key.length - prefix.length
  return rest >= 12 ? `${prefix}…${key.slice(-4)}` : `${prefix}…`
}
