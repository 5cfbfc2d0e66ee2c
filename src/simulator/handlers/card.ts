import { cardReadHandlers } from './card-read.js'
import { cardChipHandlers } from './card-chip.js'
import type { HandlerTable } from './types.js'

export const cardHandlers: HandlerTable = { ...cardReadHandlers, ...cardChipHandlers }
