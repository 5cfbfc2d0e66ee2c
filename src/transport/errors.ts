/** Coded errors of the transport layer (serial ports and their discovery). */
import createError from '@fastify/error'

type Cause = { cause: unknown }

export const SerialOpenError = createError<[string, string, Cause?]>(
  'MPOS_ERR_SERIAL_OPEN',
  'Cannot open serial port %s: %s',
)
export const SerialOptionError = createError<[string, string]>(
  'MPOS_ERR_SERIAL_OPTION',
  'Invalid serial port option %s: %s',
)
export const SerialListError = createError<[string, Cause?]>(
  'MPOS_ERR_SERIAL_LIST',
  'Listing serial ports failed: %s',
)
