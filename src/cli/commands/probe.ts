/** `mpos-bridge probe --serial PATH`: checks that a real pinpad talks, and prints who it is. */
import { openSerialPort } from '../../transport/serial-port.js'
import { DEFAULT_TIMINGS, HostLink } from '../../abecs/link.js'
import { PinpadClient } from '../../abecs/client.js'
import { identifyPinpad } from '../../pinpad/identify.js'
import { UsageError } from '../../errors.js'
import type { Command } from '../command.js'

export const probeCommand: Command = {
  name: 'probe',
  summary: 'Open a serial port, identify the pinpad (CAN, OPN, GIN, GIX), print it as JSON and close it (CLO).',
  options: {
    serial: { type: 'string', value: 'PATH', env: 'MPOS_BRIDGE_SERIAL', description: 'Serial port of the pinpad (e.g. /dev/ttyACM0, COM3)' },
    baud: { type: 'string', value: 'N', default: '19200', env: 'MPOS_BRIDGE_BAUD', description: 'Baud rate (USB CDC and Bluetooth ignore it)' },
    'timeout-ms': {
      type: 'string',
      value: 'MS',
      default: '10000',
      description: 'Response deadline for each command; also caps the 2 s waits for ACK and for EOT',
    },
  },
  async run(values) {
    const path = values.serial as string | undefined
    if (!path) throw new UsageError('probe', '--serial PATH is required')
    const baudRate = Number(values.baud)
    const timeoutMs = Number(values['timeout-ms'])
    if (!Number.isInteger(baudRate) || baudRate <= 0) throw new UsageError('probe', `--baud must be a positive integer, got ${values.baud}`)
    // NaN would make every deadline infinite: a silent port would hang the probe.
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new UsageError('probe', `--timeout-ms must be a positive integer, got ${values['timeout-ms']}`)
    }
    const stream = await openSerialPort(path, { baudRate })
    // A short deadline asked for is short everywhere: CAN/EOT (§2.2.2.3) and ACK waits included.
    const linkWait = Math.min(timeoutMs, DEFAULT_TIMINGS.ackTimeoutMs)
    const link = new HostLink(stream, { responseTimeoutMs: timeoutMs, ackTimeoutMs: linkWait, cancelTimeoutMs: linkWait })
    const client = new PinpadClient(link)
    try {
      const info = await identifyPinpad(client)
      await client.call('CLO', { CLO_MSG: '' }).catch(() => {})
      process.stdout.write(`${JSON.stringify({ path, ...info }, null, 2)}\n`)
      return 0
    } finally {
      await link.close().catch(() => {})
    }
  },
}
