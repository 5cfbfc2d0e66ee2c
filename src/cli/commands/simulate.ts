/**
 * `mpos-bridge simulate --serial PATH`: the virtual pinpad on a serial port (one end of a socat
 * pty pair, a virtual COM pair…) so any ABECS host can run against it.
 */
import { openSerialPort } from '../../transport/serial-port.js'
import { VirtualPinpad } from '../../simulator/virtual-pinpad.js'
import { FIELD_KEYS, FIELD_TABLES } from '../../simulator/field-terminal.js'
import { parseKeysFile, parseTablesFile, readJsonFile } from '../../simulator/terminal-files.js'
import type { SpecVersion } from '../../simulator/identity.js'
import { findCard } from '../../simulator/cards.js'
import { createLogger } from '../../log.js'
import { UsageError } from '../../errors.js'
import type { Command } from '../command.js'

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'Run the virtual pinpad on a serial port so any ABECS host can talk to it.',
  options: {
    serial: { type: 'string', value: 'PATH', env: 'MPOS_SIMULATOR_SERIAL', description: 'Serial port to serve (e.g. one end of `socat pty,raw,echo=0 pty,raw,echo=0`)' },
    baud: { type: 'string', value: 'N', default: '19200', env: 'MPOS_SIMULATOR_BAUD', description: 'Baud rate' },
    card: { type: 'string', value: 'NAME', default: 'visa-credit', env: 'MPOS_SIMULATOR_CARD', description: 'Test card presented when a card is asked for ("none": nobody presents one)' },
    'present-after': { type: 'string', value: 'MS', default: '1500', env: 'MPOS_SIMULATOR_PRESENT_AFTER', description: 'Delay before the card is presented' },
    'pin-after': { type: 'string', value: 'MS', default: '300', env: 'MPOS_SIMULATOR_PIN_AFTER', description: 'Delay before the PIN (or a prompt\'s answer) is typed' },
    'remove-after': { type: 'string', value: 'MS', default: '200', env: 'MPOS_SIMULATOR_REMOVE_AFTER', description: 'Delay before the card is taken out when asked to' },
    spec: { type: 'string', value: '1.08|2.12|2.20', default: '2.12', env: 'MPOS_SIMULATOR_SPEC', description: 'ABECS version spoken (1.08: classic commands only; 2.20: no GEN)' },
    tables: { type: 'string', value: 'FILE', env: 'MPOS_SIMULATOR_TABLES', description: 'EMV tables to start with (JSON, see README); default: a field terminal\'s, acquirers 01, 02 and 04' },
    keys: { type: 'string', value: 'FILE', env: 'MPOS_SIMULATOR_KEYS', description: 'Key slots to start with (JSON, see README); default: a field terminal\'s MK/WK and DUKPT slots' },
    'empty-tables': { type: 'boolean', description: 'Start without EMV tables (as from the factory)' },
    'secure-clear': { type: 'string', value: 'accept|refuse', default: 'accept', env: 'MPOS_SIMULATOR_SECURE_CLEAR', description: 'A command in clear during a secure session: processed (as the real PPC-930) or refused with 009 (§5.2.2)' },
    pace: { type: 'boolean', env: 'MPOS_SIMULATOR_PACE', description: 'Send bytes at the real wire speed of the baud rate' },
    'log-level': { type: 'string', value: 'LEVEL', default: 'info', env: 'MPOS_SIMULATOR_LOG_LEVEL', description: 'trace, debug, info, warn, error or silent' },
  },
  async run(values) {
    const path = values.serial as string | undefined
    if (!path) throw new UsageError('simulate', '--serial PATH is required')
    const spec = values.spec as string
    if (spec !== '1.08' && spec !== '2.12' && spec !== '2.20') throw new UsageError('simulate', `--spec must be 1.08, 2.12 or 2.20, got ${spec}`)
    const secureClear = values['secure-clear'] as string
    if (secureClear !== 'accept' && secureClear !== 'refuse') throw new UsageError('simulate', `--secure-clear must be accept or refuse, got ${secureClear}`)
    let tables
    let keys
    try {
      tables = values['empty-tables']
        ? ('empty' as const)
        : parseTablesFile(values.tables ? await readJsonFile(values.tables as string) : FIELD_TABLES, spec)
      keys = values.keys ? parseKeysFile(await readJsonFile(values.keys as string)) : FIELD_KEYS
    } catch (err) {
      throw new UsageError('simulate', (err as Error).message)
    }
    const card = values.card as string
    if (card !== 'none') findCard(card)
    const presentAfterMs = Number(values['present-after'])
    const pinAfterMs = Number(values['pin-after'])
    const removeAfterMs = Number(values['remove-after'])
    for (const [flag, ms] of [['present-after', presentAfterMs], ['pin-after', pinAfterMs], ['remove-after', removeAfterMs]] as const) {
      if (!(ms >= 0)) throw new UsageError('simulate', `--${flag} must be a number of milliseconds, got ${values[flag]}`)
    }
    const baudRate = Number(values.baud)
    const log = createLogger({ level: values['log-level'] as 'info', name: 'simulator' })

    const pinpad = new VirtualPinpad({
      identity: { specVersion: spec as SpecVersion },
      tables,
      keys,
      // The keys file says every slot; without one, the field terminal's include the bridge's #01.
      ...(values.keys ? { dukpt: { keyIndexes: [] } } : {}),
      secure: { clearCommands: secureClear },
      cardholder: { autoCard: card === 'none' ? null : card, presentAfterMs, pinAfterMs, removeAfterMs },
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
    log.info({ path, spec, card, tables: pinpad.tables.version(0), keys: pinpad.dukptKeyIndexes.length }, 'virtual pinpad ready')

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
