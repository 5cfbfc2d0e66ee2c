/**
 * Customer prompts through the real serial path: the bridge opens one end of a socat pty pair with
 * serialport (as it would a USB pinpad) and a virtual pinpad answers on the other end. A POS page
 * asks the customer to pick credit or debit and to type a CPF (issue 15's "Done when"), over a
 * plain session and over a secure one (§5.2: every command sealed on the wire); the POS cancels a
 * prompt (CAN/EOT crossing the tty). What the customer typed reaches no log line.
 */
import t, { type Test } from 'tap'
import { openPtyPair } from '../helpers/pty.js'
import { openSerialPort } from '../../src/transport/serial-port.js'
import { VirtualPinpad } from '../../src/simulator/virtual-pinpad.js'
import type { CardholderEvent } from '../../src/simulator/cardholder.js'
import { factoryTables } from '../../src/simulator/defaults.js'
import { TYPED_VALUES } from '../fixtures/typed-values.js'
import { Client, EK, memoryLogger, recordLink, startBridge, until } from '../server/helpers.js'

const asked = (pad: VirtualPinpad, type: CardholderEvent['type']) =>
  new Promise<void>((resolve) => {
    const off = pad.cardholder.onEvent((e) => {
      if (e.type !== type) return
      off()
      resolve()
    })
  })

/** A virtual pinpad on one end of a pty pair, a bridge serving the other end (no virtual pinpad of its own). */
async function serialRig(t: Test) {
  const pty = await openPtyPair({ t })
  const pinpadPort = await openSerialPort(pty.b)
  const pad = new VirtualPinpad({ tables: factoryTables(), cardholder: { autoCard: null, presentAfterMs: 50, pinAfterMs: 50, removeAfterMs: 50 } })
  pad.attach(pinpadPort)
  t.teardown(async () => {
    pad.detach()
    await pinpadPort.close().catch(() => {})
  })
  const memory = memoryLogger('trace')
  const rig = await startBridge(t, { simulator: false, serialPaths: [pty.a], logger: memory.logger, runtime: { virtualPinpads: 0 } })
  const c = await Client.open(t, rig.wsUrl)
  const devices = (await c.request({ command: 'list_devices' })).response as Array<{ id: number; path: string; kind: string }>
  const port = devices.find((d) => d.path === pty.a)
  t.ok(port, 'the pty is listed as a serial device', { devices })
  return { pad, c, deviceId: port!.id, memory }
}

for (const secure of [false, true]) {
  t.test(`${secure ? 'secure' : 'plain'} session over a pty: credit or debit, then a CPF`, async (t) => {
    const { pad, c, deviceId, memory } = await serialRig(t)
    const wire = recordLink(pad)
    const init = await c.request({ command: 'initialize', encryption_key: EK, device_id: deviceId, ...(secure ? { secure_session: true } : {}) })
    t.equal(init.success, true, 'initialize over the serial port', { init })
    t.equal(pad.secure.active, secure, secure ? 'a secure session (§5.2)' : 'in clear')

    const choosing = asked(pad, 'asked-to-choose')
    const menu = c.request({ command: 'pinpad_menu', title: 'Pagamento', options: ['Crédito', 'Débito'], timeout_milliseconds: 30_000 })
    await choosing
    pad.cardholder.choose(2)
    t.same((await menu).response, { index: 1, option: 'Débito' }, 'the customer picked debit')

    const value = TYPED_VALUES.ptyCpf
    const typing = asked(pad, 'asked-for-data')
    const input = c.request({ command: 'pinpad_input', prompt: 'cpf', min_digits: 11, max_digits: 11 })
    await typing
    pad.cardholder.enter(value)
    t.same((await input).response, { value }, 'the CPF typed')
    const ids = wire.flatMap((e) => (e.type === 'command' ? [e.id] : []))
    if (secure) t.ok(!ids.includes('MNU') && !ids.includes('GCD') && ids.some((id) => id.startsWith('\x12')), 'MNU and GCD crossed the tty sealed (DC2, §5.2.2), never in clear')
    else t.ok(ids.includes('MNU') && ids.includes('GCD'), 'MNU and GCD crossed the tty')

    // The POS cancels a prompt: CAN and EOT cross the tty, the context is ready again.
    const typing2 = asked(pad, 'asked-for-data')
    const from = c.messages.length
    c.sendRaw(JSON.stringify({ command: 'pinpad_input', prompt: 'phone', command_id: 'phone' }))
    await typing2
    t.match(await c.request({ command: 'cancel' }), { success: true })
    t.match(await c.reply('pinpad_input', from, 'phone'), { success: false, code: 'MPOS_ERR_PROMPT_CANCELED' })
    t.ok(wire.some((e) => e.type === 'eot-sent'), 'the pinpad confirmed the CAN')
    t.match((await c.request({ command: 'status' })).response, { status: 'initialized', device_state: 'ready' })
    await until(() => pad.display.screen.source === 'DSP', 'the idle screen')

    t.equal((await c.request({ command: 'close' })).success, true)
    t.same(memory.lines().filter((l) => JSON.stringify(l).includes(value)), [], 'the value is in no log line')
  })
}
