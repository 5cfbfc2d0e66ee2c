/**
 * `mpos-bridge simulate --serial PATH`: the virtual pinpad on a serial port (one end of a socat
 * pty pair, a virtual COM pair…) so any ABECS host can run against it.
 */
import { openSerialPort } from '../../transport/serial-port.js'
import { VirtualPinpad } from '../../simulator/virtual-pinpad.js'
import { factoryTables } from '../../simulator/defaults.js'
import { findCard } from '../../simulator/cards.js'
import { createLogger } from '../../log.js'
import { UsageError } from '../errors.js'
import type { Command } from '../command.js'

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'Run the virtual pinpad on a serial port so any ABECS host can talk to it.',
  options: {
    serial: { type: 'string', value: 'PATH', env: 'MPOS_SIMULATOR_SERIAL', description: 'Serial port to serve (e.g. one end of `socat pty,raw,echo=0 pty,raw,echo=0`)' },
    baud: { type: 'string', value: 'N', default: '19200', env: 'MPOS_SIMULATOR_BAUD', description: 'Baud rate' },
    card: { type: 'string', value: 'NAME', default: 'visa-credit', env: 'MPOS_SIMULATOR_CARD', description: 'Test card presented when a card is asked for ("none": nobody presents one)' },
    'present-after': { type: 'string', value: 'MS', default: '1500', env: 'MPOS_SIMULATOR_PRESENT_AFTER', description: 'Delay before the card is presented' },
    spec: { type: 'string', value: '1.08|2.12', default: '2.12', env: 'MPOS_SIMULATOR_SPEC', description: 'ABECS version spoken (1.08: classic commands only)' },
    'empty-tables': { type: 'boolean', description: 'Start without EMV tables (as from the factory)' },
    pace: { type: 'boolean', env: 'MPOS_SIMULATOR_PACE', description: 'Send bytes at the real wire speed of the baud rate' },
    'log-level': { type: 'string', value: 'LEVEL', default: 'info', env: 'MPOS_SIMULATOR_LOG_LEVEL', description: 'trace, debug, info, warn, error or silent' },
  },
  async run(values) {
    const path = values.serial as string | undefined
    if (!path) throw new UsageError('simulate', '--serial PATH is required')
    const spec = values.spec as string
    if (spec !== '1.08' && spec !== '2.12') throw new UsageError('simulate', `--spec must be 1.08 or 2.12, got ${spec}`)
    const card = values.card as string
    if (card !== 'none') findCard(card)
    const presentAfterMs = Number(values['present-after'])
    const baudRate = Number(values.baud)
    const log = createLogger({ level: values['log-level'] as 'info', name: 'simulator' })

    const pinpad = new VirtualPinpad({
      identity: { specVersion: spec },
      ...(values['empty-tables'] ? { tables: 'empty' as const } : { tables: factoryTables() }),
      cardholder: { autoCard: card === 'none' ? null : card, presentAfterMs },
      link: values.pace ? { baudRate } : {},
    })
    const stream = await openSerialPort(path, { baudRate })
    pinpad.attach(stream)
    // Command ids and statuses only: never packet contents (they carry card data).
    pinpad.onLinkEvent((e) => {
      if (e.type === 'command') log.info({ command: e.id }, 'command')
      else if (e.type === 'response') log.info({ command: e.id, status: e.status }, 'response')
      else log.debug({ event: e.type }, 'link')
    })
    pinpad.display.onChange((screen) => log.debug({ display: screen.lines }, 'display'))
    log.info({ path, spec, card, tables: pinpad.tables.version(0) }, 'virtual pinpad ready')

    const closed = new Promise<string>((resolve) => stream.onClose(resolve))
    const signal = new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'))
      process.once('SIGTERM', () => resolve('SIGTERM'))
    })
    const reason = await Promise.race([closed, signal])
    log.info({ reason }, 'stopping')
    pinpad.detach()
    await stream.close().catch(() => {})
    return reason.startsWith('SIG') ? 0 : 1
  },
}
