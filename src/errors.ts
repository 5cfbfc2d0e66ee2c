/**
 * Every failure the bridge reports is one of these classes, each with a stable `code`
 * (in the manner of Fastify's FST_ERR_*). `src/server` maps them once to the JSON `error` field.
 * Messages never carry card data.
 */
import createError from '@fastify/error'
import { returnCodeName } from './abecs/return-codes.js'

// ABECS frames and packets
export const FrameTooLargeError = createError<[number, number]>(
  'MPOS_ERR_FRAME_TOO_LARGE',
  'Packet data of %d bytes exceeds the %d-byte limit (§2.2.1)',
)
export const MalformedPacketError = createError<[string]>('MPOS_ERR_MALFORMED_PACKET', 'Malformed ABECS packet: %s')
export const MalformedResponseError = createError<[string, string]>(
  'MPOS_ERR_MALFORMED_RESPONSE',
  'Malformed %s response from the pinpad: %s',
)
export const InvalidFieldError = createError<[string, string]>('MPOS_ERR_INVALID_FIELD', 'Invalid value for %s: %s')

// Host link layer (§2.2.2)
export const LinkAckTimeoutError = createError<[string, number]>(
  'MPOS_ERR_LINK_ACK_TIMEOUT',
  'The pinpad did not acknowledge %s within %d ms (no ACK/NAK)',
)
export const LinkNakLimitError = createError<[string, number]>(
  'MPOS_ERR_LINK_NAK_LIMIT',
  'The pinpad refused %s with NAK %d times',
)
export const LinkResponseTimeoutError = createError<[string, number]>(
  'MPOS_ERR_LINK_RESPONSE_TIMEOUT',
  'The pinpad did not answer %s within %d ms',
)
export const LinkBadResponseError = createError<[string, number]>(
  'MPOS_ERR_LINK_BAD_RESPONSE',
  'The response to %s arrived corrupted %d times',
)
export const LinkCancelledError = createError<[string]>('MPOS_ERR_LINK_CANCELLED', '%s was cancelled')
export const LinkCancelFailedError = createError<[number]>(
  'MPOS_ERR_LINK_CANCEL_FAILED',
  'The pinpad did not confirm the cancellation (no EOT after %d CAN)',
)
export const LinkClosedError = createError<[string]>('MPOS_ERR_LINK_CLOSED', 'The pinpad link is closed: %s')
export const LinkBusyError = createError<[string, string]>(
  'MPOS_ERR_LINK_BUSY',
  'Cannot send %s: %s is still running on this pinpad',
)

// Secure session (§5.2)
export const SecurePacketError = createError<[string]>('MPOS_ERR_SECURE_PACKET', 'Secure packet rejected: %s (§5.2.2.2)')
export const SecureSessionError = createError<[string]>('MPOS_ERR_SECURE_SESSION', 'Secure session not established: %s')

export const PinpadStatusErrorBase = createError<[string, string, string]>(
  'MPOS_ERR_PINPAD_STATUS',
  'The pinpad answered %s with status %s (%s)',
)

/** The pinpad answered with RSP_STAT ≠ 000 (or ERR for an unknown command); carries the ABECS code (§3.1.1). */
export class PinpadStatusError extends PinpadStatusErrorBase {
  readonly command: string
  readonly status: number
  readonly statusName: string

  constructor(command: string, status: number) {
    const name = returnCodeName(status)
    super(command, String(status).padStart(3, '0'), name)
    this.command = command
    this.status = status
    this.statusName = name
  }
}
