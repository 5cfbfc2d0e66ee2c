/** The commands beyond a payment's path: sessions, events, tracks, data encryption, prompts, chip access, GEN. */
import type { HandlerTable } from './types.js'
import { sessionHandlers } from './session.js'
import { eventHandlers } from './events.js'
import { trackHandlers } from './tracks.js'
import { cryptoHandlers } from './crypto.js'
import { promptHandlers } from './prompts.js'
import { chipAccessHandlers } from './chip-access.js'
import { genericHandlers } from './generic.js'
import { cngHandlers } from './cng.js'

export const extendedHandlers: HandlerTable = { ...sessionHandlers, ...eventHandlers, ...trackHandlers, ...cryptoHandlers, ...promptHandlers, ...chipAccessHandlers, ...genericHandlers, ...cngHandlers }
