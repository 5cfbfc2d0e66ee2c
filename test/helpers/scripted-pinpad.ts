/**
 * A scripted fake pinpad for link-layer tests: it records what the host sends (packets and
 * control bytes, decoded) and lets the test answer byte by byte.
 */
import type { ByteStream } from '../../src/transport/byte-stream.js'
import type { Clock } from '../../src/clock.js'
import { FramePeer } from './frame-peer.js'

export class ScriptedPinpad extends FramePeer {
  constructor(stream: ByteStream, clock?: Clock) {
    super(stream, 'the host', clock)
  }

  /** The next event must be a packet; returns its data as text (latin1). */
  async nextPacket(timeoutMs?: number): Promise<string> {
    return (await this.nextFrame(timeoutMs)).toString('latin1')
  }

  async nextControl(timeoutMs?: number): Promise<number> {
    return (await this.nextControlEvent(timeoutMs)).byte
  }

  ack = () => this.write([0x06])
  nak = () => this.write([0x15])
  eot = () => this.write([0x04])

  /** Sends a response packet with correct framing. */
  respond(data: string | Buffer): void {
    this.writePacket(data)
  }
}
