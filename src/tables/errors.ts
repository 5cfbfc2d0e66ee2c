/** Coded errors of the EMV table store and sync. Messages carry file names (hashed), never keys. */
import createError from '@fastify/error'

export const TablesStoreError = createError<[string, { cause?: unknown }?]>(
  'MPOS_ERR_TABLES_STORE',
  'EMV tables store: %s',
)
/** The acquirer answered 304 (up to date) but nothing is stored for this key and pinpad. */
export const TablesMissingError = createError<[]>(
  'MPOS_ERR_TABLES_MISSING',
  'The acquirer says the EMV tables are up to date, but none are stored for this encryption key and pinpad',
)
