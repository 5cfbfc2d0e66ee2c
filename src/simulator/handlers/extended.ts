/** The commands beyond a payment's path: events, prompts, data encryption, direct chip access, GEN. */
import type { HandlerTable } from './types.js'
import { eventHandlers } from './events.js'

export const extendedHandlers: HandlerTable = { ...eventHandlers }
