import createError from '@fastify/error'

export const ChipCardSwipedError = createError<[]>(
  'MPOS_ERR_CHIP_CARD_SWIPED',
  'The card has a chip: insert it instead of swiping (the stripe is accepted only after a chip failure)',
)
export const UnreadableCardError = createError<[string]>('MPOS_ERR_CARD_UNREADABLE', 'The card could not be read: %s')
export const NoApplicationError = createError<[string]>(
  'MPOS_ERR_NO_APPLICATION',
  'None of the allowed applications (%s) is in the pinpad tables',
)
export const DeviceTimeoutError = createError<[number]>(
  'MPOS_ERR_DEVICE_TIMEOUT',
  'The pinpad did not answer within %d ms: is this the right port?',
)
