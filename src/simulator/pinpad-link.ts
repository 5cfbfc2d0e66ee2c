/**
 * Pinpad side of the ABECS link layer (§6.2.1, §2.2.2): ACK good packets and process them,
 * NAK bad ones after 500 ms of silence, resend the last response on NAK, EOT on CAN (aborting
 * any blocking command), and a new valid command also aborts a running blocking one.
 * Faults (stall, NAK or corrupt the next frames, delays) and wire pacing are injectable.
 */
import { ACK, CAN, EOT, MAX_ABECS_DATA, NAK } from '../abecs/control.js'
import { encodeFrame, FrameDecoder, type FrameEvent } from '../abecs/frame.js'
import type { ByteStream } from '../transport/byte-stream.js'
import { sleep, systemClock, type Clock, type Timer } from '../clock.js'

/** §2.3.3: NTM000 + "032" + the 2×16 message. */
export const ntmPacket = (message: string): Buffer => Buffer.from(`NTM000032${message.padEnd(32).slice(0, 32)}`, 'latin1')

/** Paced bytes leave in pieces of this size (32 bytes ≈ 17 ms at 19200 baud). */
const PACE_CHUNK = 32

export interface PinpadLinkOptions {
  /** Inter-byte timeout inside a packet (2 s in 2.12, 1.5 s in 2.20). */
  interByteTimeoutMs?: number
  /** Silence required before NAKing a bad packet (§6.2.1: 500 ms). */
  silenceMs?: number
  /** Emulates the wire: bytes leave at this rate (19200 8N1 ≈ 1920 bytes/s); 0 = instantly. */
  baudRate?: number
  /** The clock of the silences, delays and pacing (default: the real one). */
  clock?: Clock
}

/** Processes one command packet; resolves with the response packet, or undefined if aborted. */
export type PacketHandler = (
  data: Buffer,
  context: {
    signal: AbortSignal
    notify: (message: string) => void
    /** Sends a packet before the response (an NTM already built, sealed in a secure session). */
    sendPacket: (data: Buffer) => void
  },
) => Promise<Buffer | undefined>

export interface LinkFaults {
  /** Ignore everything received (a hung pinpad). */
  stalled: boolean
  /** NAK this many valid commands as if they arrived corrupted. */
  nakNext: number
  /** Send this many responses with a broken CRC. */
  corruptNext: number
  /** Send nothing back (not even ACK) for this many commands. */
  dropNext: number
  /** Extra delay before each response. */
  responseDelayMs: number
  /** Send this many bytes of line noise before the next response. */
  garbageNext: number
  /** Hold every response (after its ACK) until this is false again: a pinpad taking its time. */
  held: boolean
}

export type PinpadLinkEvent =
  | { type: 'command'; id: string }
  | { type: 'response'; id: string; status: string }
  | { type: 'nak-sent' | 'ack-sent' | 'eot-sent' | 'resent' | 'aborted' }
  | { type: 'bad-packet'; reason: string }

export class PinpadLink {
  readonly faults: LinkFaults
  readonly #stream: ByteStream
  readonly #handler: PacketHandler
  readonly #decoder: FrameDecoder
  readonly #silenceMs: number
  readonly #bytesPerMs: number
  readonly #clock: Clock
  #lastResponse: Buffer | undefined
  #lastByteAt = 0
  #nakTimer: Timer | undefined
  #running: { abort: AbortController; done: Promise<void> } | undefined
  #writeChain: Promise<void> = Promise.resolve()
  /** When the paced wire has sent everything written so far. */
  #wireFreeAt = 0
  #unsubscribe: Array<() => void>
  #listeners = new Set<(e: PinpadLinkEvent) => void>()

  constructor(stream: ByteStream, handler: PacketHandler, options: PinpadLinkOptions = {}, faults?: LinkFaults) {
    this.faults = faults ?? { stalled: false, nakNext: 0, corruptNext: 0, dropNext: 0, responseDelayMs: 0, garbageNext: 0, held: false }
    this.#stream = stream
    this.#handler = handler
    this.#silenceMs = options.silenceMs ?? 500
    this.#bytesPerMs = options.baudRate ? options.baudRate / 10 / 1000 : 0
    this.#clock = options.clock ?? systemClock
    this.#decoder = new FrameDecoder((e) => this.#onEvent(e), {
      maxLength: MAX_ABECS_DATA,
      interByteTimeoutMs: options.interByteTimeoutMs ?? 2000,
      clock: this.#clock,
    })
    this.#unsubscribe = [
      stream.onData((chunk) => {
        if (this.faults.stalled) return
        this.#lastByteAt = this.#clock.now()
        if (this.#nakTimer) this.#scheduleNak() // more bytes: the silence starts again
        this.#decoder.push(chunk)
      }),
      stream.onClose(() => this.detach()),
    ]
  }

  onEvent(listener: (e: PinpadLinkEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Whether a command is being processed. */
  get busy(): boolean {
    return this.#running !== undefined
  }

  detach(): void {
    for (const u of this.#unsubscribe) u()
    this.#unsubscribe = []
    this.#decoder.dispose()
    if (this.#nakTimer) this.#clock.clearTimeout(this.#nakTimer)
    this.#running?.abort.abort()
  }

  #emit(e: PinpadLinkEvent): void {
    for (const l of this.#listeners) l(e)
  }

  #onEvent(e: FrameEvent): void {
    switch (e.type) {
      case 'frame':
        return this.#onPacket(e.data)
      case 'bad-frame':
        this.#emit({ type: 'bad-packet', reason: e.reason })
        return this.#scheduleNak()
      case 'control':
        if (e.byte === CAN) {
          // §2.2.2.3: EOT always, aborting whatever blocking command runs.
          this.#abortRunning()
          this.#write(Buffer.of(EOT))
          this.#emit({ type: 'eot-sent' })
        } else if (e.byte === NAK && !this.#running && this.#lastResponse) {
          // §6.2.1: NAK while idle asks for the last response again (ignored if there is none).
          this.#emit({ type: 'resent' })
          this.#sendResponse(this.#lastResponse)
        }
        return
      case 'noise':
        return
    }
  }

  /** §6.2.1: a bad packet is answered with NAK once the line has been quiet for 500 ms. */
  #scheduleNak(): void {
    if (this.#nakTimer) this.#clock.clearTimeout(this.#nakTimer)
    const wait = Math.max(0, this.#lastByteAt + this.#silenceMs - this.#clock.now())
    this.#nakTimer = this.#clock.setTimeout(() => {
      this.#nakTimer = undefined
      this.#write(Buffer.of(NAK))
      this.#emit({ type: 'nak-sent' })
    }, wait)
  }

  #onPacket(data: Buffer): void {
    if (this.faults.dropNext > 0) {
      this.faults.dropNext--
      return
    }
    if (this.faults.nakNext > 0) {
      this.faults.nakNext--
      this.#lastByteAt = this.#clock.now()
      return this.#scheduleNak()
    }
    this.#write(Buffer.of(ACK))
    this.#emit({ type: 'ack-sent' })
    this.#emit({ type: 'command', id: data.subarray(0, 3).toString('latin1') })
    // §6.2.1 note: a new valid packet aborts a running blocking command.
    const previous = this.#abortRunning()
    const abort = new AbortController()
    const run = async () => {
      await previous
      if (abort.signal.aborted) return
      const sendPacket = (packet: Buffer) => {
        if (!abort.signal.aborted) this.#write(encodeFrame(packet))
      }
      const notify = (message: string) => sendPacket(ntmPacket(message))
      const response = await this.#handler(data, { signal: abort.signal, notify, sendPacket }).catch(() => undefined)
      if (!response || abort.signal.aborted) return
      this.#lastResponse = response
      // A CAN or a new command ends the wait at once: the pinpad is free for the next one (§2.2.2.3).
      if (this.faults.responseDelayMs) await sleep(this.#clock, this.faults.responseDelayMs, abort.signal)
      while (this.faults.held && !abort.signal.aborted) await sleep(this.#clock, 5, abort.signal)
      if (abort.signal.aborted) return
      this.#sendResponse(response)
      this.#emit({ type: 'response', id: response.subarray(0, 3).toString('latin1'), status: response.subarray(3, 6).toString('latin1') })
    }
    const running = { abort, done: Promise.resolve() }
    running.done = run().finally(() => {
      if (this.#running === running) this.#running = undefined
    })
    this.#running = running
  }

  #abortRunning(): Promise<void> | undefined {
    const running = this.#running
    if (!running) return undefined
    running.abort.abort()
    this.#emit({ type: 'aborted' })
    return running.done
  }

  #sendResponse(response: Buffer): void {
    if (this.faults.garbageNext > 0) {
      this.#write(Buffer.from(Array.from({ length: this.faults.garbageNext }, (_, i) => 0x41 + (i % 26))))
      this.faults.garbageNext = 0
    }
    const frame = encodeFrame(response)
    if (this.faults.corruptNext > 0) {
      this.faults.corruptNext--
      frame[frame.length - 1]! ^= 0xff
    }
    this.#write(frame)
  }

  /**
   * Writes in order; with pacing, each write takes the time the wire would, its bytes leaving in
   * small pieces as from a UART (a long answer starts arriving at once, as on a real line).
   */
  #write(bytes: Buffer): void {
    if (this.faults.stalled || this.#stream.closed) return
    if (!this.#bytesPerMs) {
      this.#stream.write(bytes)
      return
    }
    this.#writeChain = this.#writeChain.then(async () => {
      // The write starts when the wire is free (now, if it has been idle); its pieces then follow
      // each other on the wire clock, so a timer that fires late shortens the next wait instead of
      // pushing every later byte back (timers round up and fire late: that added ~4% to an answer).
      this.#wireFreeAt = Math.max(this.#clock.now(), this.#wireFreeAt)
      for (let i = 0; i < bytes.length; i += PACE_CHUNK) {
        const piece = bytes.subarray(i, i + PACE_CHUNK)
        this.#wireFreeAt += piece.length / this.#bytesPerMs
        await sleep(this.#clock, Math.max(0, Math.ceil(this.#wireFreeAt - this.#clock.now())))
        if (this.#stream.closed) return
        this.#stream.write(piece)
      }
    })
  }
}
