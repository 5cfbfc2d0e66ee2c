/**
 * The simulator's part the bridge needs, in one module loaded on first use (src/bridge/virtual-pinpads.ts):
 * a start that never opens a virtual pinpad nor asks for its controls never loads the simulator.
 */
import { VirtualPinpad, type VirtualPinpadOptions } from '../simulator/virtual-pinpad.js'
import { factoryTables } from '../simulator/defaults.js'
import type { Clock } from '../clock.js'

export { TEST_CARDS } from '../simulator/cards.js'
export { DEFAULT_CARDHOLDER } from '../simulator/cardholder.js'

export const makeVirtualPinpad = (options: VirtualPinpadOptions, clock: Clock): VirtualPinpad => new VirtualPinpad({ tables: factoryTables(), clock, ...options })
