/**
 * A scripted host for pinpad-side tests, the mirror of ScriptedPinpad: it writes raw bytes or
 * framed command packets to a pinpad and reads back what the pinpad sends, decoded (packets,
 * control bytes, broken packets) with the time each arrived, plus every raw byte received.
 */
import { ACK } from '../../src/abecs/control.js'
import { memoryPair, type ByteStream } from '../../src/transport/byte-stream.js'
import { VirtualPinpad, type VirtualPinpadOptions } from '../../src/simulator/virtual-pinpad.js'
import type { Clock } from '../../src/clock.js'
import { FramePeer } from './frame-peer.js'

export type { TimedEvent } from './frame-peer.js'

export class ScriptedHost extends FramePeer {
  /** NTM messages skipped by command(). */
  readonly notifications: string[] = []

  constructor(stream: ByteStream, clock?: Clock) {
    super(stream, 'the pinpad', clock)
  }

  /** The next event must be a control byte; returns it with its arrival time. */
  nextControl(timeoutMs?: number): Promise<{ byte: number; at: number }> {
    return this.nextControlEvent(timeoutMs)
  }

  /** The next event must be a packet; returns its data (unescaped PKTDATA). */
  nextPacket(timeoutMs?: number): Promise<Buffer> {
    return this.nextFrame(timeoutMs)
  }

  /** Sends a command packet with correct framing. */
  send(data: string | Buffer): void {
    this.writePacket(data)
  }

  /**
   * Sends a command, expects ACK, and returns the final response packet, skipping (and keeping)
   * NTM notifications.
   */
  async command(data: string | Buffer, timeoutMs = 10_000): Promise<Buffer> {
    this.send(data)
    const ack = await this.nextControl(timeoutMs)
    if (ack.byte !== ACK) throw new Error(`expected ACK, got ${ack.byte.toString(16)}h`)
    for (;;) {
      const packet = await this.nextPacket(timeoutMs)
      if (packet.subarray(0, 3).toString('latin1') === 'NTM') {
        this.notifications.push(packet.subarray(9).toString('latin1'))
        continue
      }
      return packet
    }
  }

  /** command() with the answer as text (latin1). */
  async ask(data: string | Buffer, timeoutMs?: number): Promise<string> {
    return (await this.command(data, timeoutMs)).toString('latin1')
  }
}

/** A virtual pinpad on one end of an in-memory pair and a scripted host on the other, all on `options.clock`. */
export function virtualPinpadWithHost(
  t: { teardown(fn: () => unknown): void },
  options: VirtualPinpadOptions = {},
): { pad: VirtualPinpad; host: ScriptedHost } {
  const [hostEnd, pinpadEnd] = memoryPair('host', 'pinpad', options.clock)
  const pad = new VirtualPinpad(options)
  pad.attach(pinpadEnd)
  const host = new ScriptedHost(hostEnd, options.clock)
  t.teardown(async () => {
    pad.detach()
    await hostEnd.close()
  })
  return { pad, host }
}
