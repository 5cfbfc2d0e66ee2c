/**
 * A scripted fake pinpad for link-layer tests: it records what the host sends (packets and
 * control bytes, decoded) and lets the test answer byte by byte.
 */
import { encodeFrame, FrameDecoder, type FrameEvent } from '../../src/abecs/frame.js'
import type { ByteStream } from '../../src/transport/byte-stream.js'

export class ScriptedPinpad {
  readonly #queue: FrameEvent[] = []
  #wake: (() => void) | undefined
  readonly #decoder: FrameDecoder

  constructor(readonly stream: ByteStream) {
    this.#decoder = new FrameDecoder(
      (e) => {
        if (e.type === 'noise') return
        this.#queue.push(e)
        this.#wake?.()
      },
      { interByteTimeoutMs: 0 },
    )
    stream.onData((chunk) => this.#decoder.push(chunk))
  }

  /** The next packet or control byte from the host (fails the test after `timeoutMs`). */
  async next(timeoutMs = 3000): Promise<FrameEvent> {
    const deadline = Date.now() + timeoutMs
    while (!this.#queue.length) {
      if (Date.now() > deadline) throw new Error('the host sent nothing')
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

  /** The next event must be a packet; returns its data as text (latin1). */
  async nextPacket(timeoutMs?: number): Promise<string> {
    const e = await this.next(timeoutMs)
    if (e.type !== 'frame') throw new Error(`expected a packet, got ${JSON.stringify(e)}`)
    return e.data.toString('latin1')
  }

  async nextControl(timeoutMs?: number): Promise<number> {
    const e = await this.next(timeoutMs)
    if (e.type !== 'control') throw new Error(`expected a control byte, got ${JSON.stringify(e)}`)
    return e.byte
  }

  /** Nothing arrives for `ms`. */
  async quiet(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms))
    return this.#queue.length === 0
  }

  pending(): FrameEvent[] {
    return [...this.#queue]
  }

  write(bytes: Uint8Array | number[]): void {
    this.stream.write(Buffer.from(bytes))
  }

  ack = () => this.write([0x06])
  nak = () => this.write([0x15])
  eot = () => this.write([0x04])

  /** Sends a response packet with correct framing. */
  respond(data: string | Buffer): void {
    this.write(encodeFrame(typeof data === 'string' ? Buffer.from(data, 'latin1') : data))
  }
}
