/**
 * The built-in virtual pinpads: listed from the start, made on their first open. The simulator
 * (./simulator.ts) is loaded then, or when its controls are first asked for; a bridge run with
 * `--no-simulator` never loads it.
 */
import { VirtualDevice } from '../simulator/virtual-device.js'
import { DEFAULT_IDENTITY } from '../simulator/identity.js'
import type { VirtualPinpadOptions } from '../simulator/virtual-pinpad.js'
import type { Clock } from '../clock.js'

let simulator: Promise<typeof import('./simulator.js')> | undefined

/** The simulator module, loaded once. */
export const loadSimulator = (): Promise<typeof import('./simulator.js')> => (simulator ??= import('./simulator.js'))

export function virtualDevices(count: number, clock: Clock, options: VirtualPinpadOptions | undefined): VirtualDevice[] {
  return Array.from({ length: count }, (_, index) => {
    const i = index + 1
    const identity = { ...DEFAULT_IDENTITY, serialNumber: `VPP${String(i).padStart(13, '0')}`, ...options?.identity }
    const make = async () => (await loadSimulator()).makeVirtualPinpad({ ...options, identity }, clock)
    return new VirtualDevice({ identity, make }, `virtual:${i}`)
  })
}
