/**
 * Coded errors of the virtual pinpad's card model (test-card catalogue and EMV card sessions).
 * Messages name test cards and steps, never a PAN, track or PIN.
 */
import createError from '@fastify/error'

/** `--card NAME` or `findCard(name)` with a name not in the catalogue: (name, valid names). */
export const UnknownTestCardError = createError<[string, string]>(
  'MPOS_ERR_UNKNOWN_TEST_CARD',
  'Unknown test card "%s"; valid names: %s',
)

/** An EMV session was asked for a card that has no EMV application: (card name, interface). */
export const NotEmvCardError = createError<[string, string]>(
  'MPOS_ERR_NOT_EMV_CARD',
  'Test card "%s" (%s) has no EMV application to process',
)

/** The EMV card session was driven out of order (e.g. second GENERATE AC without an ARQC): (what). */
export const EmvSequenceError = createError<[string]>('MPOS_ERR_EMV_SEQUENCE', 'EMV card session: %s')

/** Bad terminal data given to an EMV card session: (field, why). */
export const EmvTerminalDataError = createError<[string, string]>(
  'MPOS_ERR_EMV_TERMINAL_DATA',
  'Invalid EMV terminal data %s: %s',
)
