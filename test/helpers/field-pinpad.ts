/**
 * A virtual pinpad set up as `mpos-bridge simulate` starts it (the field terminal's tables and key
 * slots), on one end of an in-memory pair, with the host stack (HostLink + PinpadClient) on the
 * other. Nobody acts at the pinpad unless the test says so. Every packet each side put on the wire
 * is kept (decoded frames), to check what travelled sealed and what in clear. Everything — link,
 * pinpad, cardholder, pair — runs in virtual time on one auto-advancing ManualClock (`rig.clock`;
 * a test makes the cardholder act later with `clock.setTimeout`), or on `options.clock` when given.
 */
import { HostLink } from '../../src/abecs/link.js'
import { PinpadClient } from '../../src/abecs/client.js'
import { FrameDecoder } from '../../src/abecs/frame.js'
import { memoryPair } from '../../src/transport/byte-stream.js'
import { VirtualPinpad, type VirtualPinpadOptions } from '../../src/simulator/virtual-pinpad.js'
import { FIELD_KEYS, FIELD_TABLES } from '../../src/simulator/field-terminal.js'
import { parseTablesFile } from '../../src/simulator/terminal-files.js'
import type { Clock } from '../../src/clock.js'
import { ManualClock } from './manual-clock.js'

export const QUIET_CARDHOLDER = { autoCard: null, autoPin: null, presentAfterMs: 10, pinAfterMs: 10, removeAfterMs: 10 }

export interface FieldRig {
  pad: VirtualPinpad
  link: HostLink
  client: PinpadClient
  /** Packets (PKTDATA) the host sent, in order. */
  sent: Buffer[]
  /** Packets the pinpad sent (answers and NTMs), in order. */
  received: Buffer[]
  clock: Clock
}

export function fieldPinpad(t: { teardown(fn: () => unknown): void }, options: VirtualPinpadOptions = {}): FieldRig {
  let clock = options.clock
  if (!clock) {
    const manual = new ManualClock()
    t.teardown(manual.autoAdvance())
    clock = manual
  }
  const [hostEnd, pinpadEnd] = memoryPair('host', 'pinpad', clock)
  const spec = options.identity?.specVersion ?? '2.12'
  const pad = new VirtualPinpad({
    tables: parseTablesFile(FIELD_TABLES, spec),
    keys: FIELD_KEYS,
    timings: { noCardTimeoutMs: 300 },
    ...options,
    clock,
    cardholder: { ...QUIET_CARDHOLDER, ...options.cardholder },
  })
  pad.attach(pinpadEnd)
  const sent: Buffer[] = []
  const received: Buffer[] = []
  const watch = (into: Buffer[]) => {
    const d = new FrameDecoder((e) => e.type === 'frame' && into.push(e.data), { interByteTimeoutMs: 0 })
    return (chunk: Buffer) => d.push(chunk)
  }
  pinpadEnd.onData(watch(sent))
  hostEnd.onData(watch(received))
  const link = new HostLink(hostEnd, { ackTimeoutMs: 500, responseTimeoutMs: 3000 }, { clock: pad.clock })
  t.teardown(async () => {
    pad.detach()
    await link.close()
  })
  return { pad, link, client: new PinpadClient(link), sent, received, clock }
}

/** Resolves at the cardholder's next event of this type. */
export const nextEvent = (pad: VirtualPinpad, type: string) =>
  new Promise<void>((resolve) => {
    const off = pad.cardholder.onEvent((e) => {
      if (e.type !== type) return
      off()
      resolve()
    })
  })

/** Presses `key` as soon as the pinpad next asks for `asked` (a key pressed earlier would be lost, §6.5.1). */
export const pressWhenAsked = (pad: VirtualPinpad, asked: string, key: Parameters<VirtualPinpad['cardholder']['press']>[0]) =>
  nextEvent(pad, asked).then(() => pad.cardholder.press(key))
