import createError from '@fastify/error'

export const DeviceNotFoundError = createError<[string]>('MPOS_ERR_DEVICE_NOT_FOUND', 'There is no device with id %s')
