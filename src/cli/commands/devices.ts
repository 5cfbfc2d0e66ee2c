/** `mpos-bridge devices`: the serial ports that can be pinpads, as JSON. */
import { SerialDiscovery } from '../../transport/discovery.js'
import type { Command } from '../command.js'

export const devicesCommand: Command = {
  name: 'devices',
  summary: 'List the serial ports that can be pinpads (USB, Bluetooth, configured paths) as JSON.',
  options: {
    serial: { type: 'string', multiple: true, value: 'PATH', env: 'MPOS_BRIDGE_SERIAL', description: 'Also list this path while it exists' },
  },
  async run(values) {
    const discovery = new SerialDiscovery({ configuredPaths: (values.serial as string[] | undefined) ?? [] })
    const ports = await discovery.refresh()
    await discovery.stop()
    process.stdout.write(`${JSON.stringify(ports, null, 2)}\n`)
    return 0
  },
}
