/**
 * The built-in virtual pinpads, made when the bridge offers them: loaded on demand by the
 * runtime, so a bridge run with `--no-simulator` never loads the simulator.
 */
import { VirtualDevice } from '../simulator/virtual-device.js'
import { VirtualPinpad, type VirtualPinpadOptions } from '../simulator/virtual-pinpad.js'
import { factoryTables } from '../simulator/defaults.js'
import type { Clock } from '../clock.js'

export function makeVirtualPinpads(count: number, clock: Clock, options: VirtualPinpadOptions | undefined): Array<{ pinpad: VirtualPinpad; device: VirtualDevice }> {
  return Array.from({ length: count }, (_, index) => {
    const i = index + 1
    const pinpad = new VirtualPinpad({
      tables: factoryTables(),
      clock,
      ...options,
      identity: { serialNumber: `VPP${String(i).padStart(13, '0')}`, ...options?.identity },
    })
    return { pinpad, device: new VirtualDevice(pinpad, `virtual:${i}`) }
  })
}
