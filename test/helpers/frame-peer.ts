/**
 * The recording core shared by ScriptedPinpad and ScriptedHost: decodes what the other end sends
 * (packets and control bytes, each with its arrival time, noise dropped), keeps every raw byte,
 * and writes raw or framed bytes back. Its waits (the `next()` guard, `quiet()`) and the arrival
 * times run on the clock it is given: the real one over a pty, a ManualClock over an in-memory pair.
 */
import { encodeFrame, FrameDecoder, type FrameEvent } from '../../src/abecs/frame.js'
import type { ByteStream } from '../../src/transport/byte-stream.js'
import { systemClock, type Clock } from '../../src/clock.js'

export type TimedEvent = FrameEvent & { at: number }

export class FramePeer {
  readonly #queue: TimedEvent[] = []
  #wake: (() => void) | undefined
  readonly #decoder: FrameDecoder
  #raw: Buffer[] = []

  constructor(
    readonly stream: ByteStream,
    /** Who sends to this peer, for failure messages ("the host", "the pinpad"). */
    readonly peerName: string,
    readonly clock: Clock = systemClock,
  ) {
    this.#decoder = new FrameDecoder(
      (e) => {
        if (e.type === 'noise') return
        this.#queue.push({ ...e, at: clock.now() })
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

  /**
   * The next packet or control byte; rejects after `timeoutMs`: a hang guard, generous enough that
   * a busy machine never trips it in real time (the waits it covers are at most 2 s, §2.2.2).
   */
  async next(timeoutMs = 10_000): Promise<TimedEvent> {
    const clock = this.clock
    const deadline = clock.now() + timeoutMs
    while (!this.#queue.length) {
      if (clock.now() >= deadline) throw new Error(`${this.peerName} sent nothing within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = clock.setTimeout(resolve, Math.max(0, deadline - clock.now()))
        this.#wake = () => {
          clock.clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
    return this.#queue.shift()!
  }

  /** The next event must be a packet; returns its data (unescaped PKTDATA). */
  protected async nextFrame(timeoutMs?: number): Promise<Buffer> {
    const e = await this.next(timeoutMs)
    if (e.type !== 'frame') throw new Error(`expected a packet, got ${describe(e)}`)
    return e.data
  }

  /** The next event must be a control byte. */
  protected async nextControlEvent(timeoutMs?: number): Promise<{ byte: number; at: number }> {
    const e = await this.next(timeoutMs)
    if (e.type !== 'control') throw new Error(`expected a control byte, got ${describe(e)}`)
    return { byte: e.byte, at: e.at }
  }

  /** Nothing arrives for `ms` (what had arrived before counts too). */
  async quiet(ms: number): Promise<boolean> {
    await new Promise<void>((resolve) => this.clock.setTimeout(resolve, ms))
    return this.#queue.length === 0
  }

  write(bytes: Uint8Array | number[]): void {
    this.stream.write(Buffer.from(bytes))
  }

  /** Writes one packet with correct framing (§2.2). */
  protected writePacket(data: string | Buffer): void {
    this.write(encodeFrame(typeof data === 'string' ? Buffer.from(data, 'latin1') : data))
  }
}

function describe(e: FrameEvent): string {
  if (e.type === 'frame') return `packet ${JSON.stringify(e.data.toString('latin1'))}`
  if (e.type === 'control') return `control ${e.byte.toString(16)}h`
  return JSON.stringify(e)
}
