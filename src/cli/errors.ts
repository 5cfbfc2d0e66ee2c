import createError from '@fastify/error'

export const UsageError = createError<[string, string]>('MPOS_ERR_USAGE', 'mpos-bridge %s: %s')
