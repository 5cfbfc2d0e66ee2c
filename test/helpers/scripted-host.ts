/**
 * A scripted host for pinpad-side tests, the mirror of ScriptedPinpad: it writes raw bytes or
 * framed command packets to a pinpad and reads back what the pinpad sends, decoded (packets,
 * control bytes, broken packets) with the time each arrived, plus every raw byte received.
 */
import { encodeFrame, FrameDecoder, type FrameEvent } from '../../src/abecs/frame.js'
import { ACK } from '../../src/abecs/control.js'
import { memoryPair, type ByteStream } from '../../src/transport/byte-stream.js'
import { VirtualPinpad, type VirtualPinpadOptions } from '../../src/simulator/virtual-pinpad.js'

export type TimedEvent = FrameEvent & { at: number }

export class ScriptedHost {
  readonly #queue: TimedEvent[] = []
  #wake: (() => void) | undefined
  readonly #decoder: FrameDecoder
  /** Every byte the pinpad sent, in order. */
  #raw: Buffer[] = []
  /** NTM messages skipped by command(). */
  readonly notifications: string[] = []

  constructor(readonly stream: ByteStream) {
    this.#decoder = new FrameDecoder(
      (e) => {
        if (e.type === 'noise') return
        this.#queue.push({ ...e, at: Date.now() })
        this.#wake?.()
      },
      { interByteTimeoutMs: 0 },
    )
    stream.onData((chunk) => {
      this.#raw.push(chunk)
      this.#decoder.push(chunk)
    })
  }

  /** The raw bytes received so far (and forgets them). */
  takeRaw(): Buffer {
    const out = Buffer.concat(this.#raw)
    this.#raw = []
    return out
  }

  /** The next packet or control byte from the pinpad; rejects after `timeoutMs`. */
  async next(timeoutMs = 3000): Promise<TimedEvent> {
    const deadline = Date.now() + timeoutMs
    while (!this.#queue.length) {
      if (Date.now() >= deadline) throw new Error(`the pinpad sent nothing within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
    return this.#queue.shift()!
  }

  /** The next event must be a control byte; returns it with its arrival time. */
  async nextControl(timeoutMs?: number): Promise<{ byte: number; at: number }> {
    const e = await this.next(timeoutMs)
    if (e.type !== 'control') throw new Error(`expected a control byte, got ${describe(e)}`)
    return { byte: e.byte, at: e.at }
  }

  /** The next event must be a packet; returns its data (unescaped PKTDATA). */
  async nextPacket(timeoutMs?: number): Promise<Buffer> {
    const e = await this.next(timeoutMs)
    if (e.type !== 'frame') throw new Error(`expected a packet, got ${describe(e)}`)
    return e.data
  }

  /** Nothing arrives for `ms` (what had arrived before counts too). */
  async quiet(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms))
    return this.#queue.length === 0
  }

  pending(): TimedEvent[] {
    return [...this.#queue]
  }

  write(bytes: Uint8Array | number[]): void {
    this.stream.write(Buffer.from(bytes))
  }

  /** Sends a command packet with correct framing. */
  send(data: string | Buffer): void {
    this.write(encodeFrame(typeof data === 'string' ? Buffer.from(data, 'latin1') : data))
  }

  /**
   * Sends a command, expects ACK, and returns the final response packet, skipping (and keeping)
   * NTM notifications.
   */
  async command(data: string | Buffer, timeoutMs = 3000): Promise<Buffer> {
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

function describe(e: FrameEvent): string {
  if (e.type === 'frame') return `packet ${JSON.stringify(e.data.toString('latin1'))}`
  if (e.type === 'control') return `control ${e.byte.toString(16)}h`
  return JSON.stringify(e)
}

/** A virtual pinpad on one end of an in-memory pair and a scripted host on the other. */
export function virtualPinpadWithHost(
  t: { teardown(fn: () => unknown): void },
  options: VirtualPinpadOptions = {},
): { pad: VirtualPinpad; host: ScriptedHost } {
  const [hostEnd, pinpadEnd] = memoryPair()
  const pad = new VirtualPinpad(options)
  pad.attach(pinpadEnd)
  const host = new ScriptedHost(hostEnd)
  t.teardown(async () => {
    pad.detach()
    await hostEnd.close()
  })
  return { pad, host }
}
