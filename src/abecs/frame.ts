import { abecsCrc } from './crc.js'
import { ACK, CAN, DC3, EOT, ETB, MAX_ABECS_DATA, NAK, SYN } from './control.js'
import { FrameTooLargeError } from '../errors.js'
import { systemClock, type Clock, type Timer } from '../clock.js'

/**
 * Builds a packet (§2.2.1): SYN, PKTDATA with DC3 escaping, ETB, then the CRC of the
 * unescaped data + ETB, most significant byte first. The CRC bytes are never escaped.
 */
export function encodeFrame(data: Uint8Array, maxLength: number = MAX_ABECS_DATA): Buffer {
  if (data.length > maxLength) throw new FrameTooLargeError(data.length, maxLength)
  const out = Buffer.allocUnsafe(data.length * 2 + 4)
  let n = 0
  out[n++] = SYN
  for (const b of data) {
    if (b === DC3 || b === SYN || b === ETB) {
      out[n++] = DC3
      out[n++] = b + 0x20
    } else {
      out[n++] = b
    }
  }
  out[n++] = ETB
  const crc = abecsCrc(data, ETB)
  out[n++] = crc >> 8
  out[n++] = crc & 0xff
  return out.subarray(0, n)
}

export type BadFrameReason = 'crc' | 'format' | 'overflow' | 'timeout'

export type FrameEvent =
  /** A packet whose CRC checked out; `data` is the unescaped PKTDATA. */
  | { type: 'frame'; data: Buffer }
  /** A packet that was started and lost: wrong CRC, broken escape, too long, or the 2 s inter-byte gap. */
  | { type: 'bad-frame'; reason: BadFrameReason }
  /** ACK, NAK, EOT or CAN received outside a packet. */
  | { type: 'control'; byte: number }
  /** Bytes outside any packet that mean nothing (line noise); counted, never kept. */
  | { type: 'noise'; count: number }

export interface FrameDecoderOptions {
  /** Largest unescaped PKTDATA accepted; longer packets are dropped as `overflow`. */
  maxLength?: number
  /** Inter-byte timeout inside a packet in ms (§2.2.3: 2 s); 0 disables the timer. */
  interByteTimeoutMs?: number
  /** The clock the inter-byte timer runs on (default: the real one). */
  clock?: Clock
}

const enum State {
  Idle,
  Data,
  Escape,
  Crc1,
  Crc2,
  /** After an overflow: drop everything up to the next SYN. */
  Skip,
}

/**
 * Streaming packet decoder: feed it bytes in pieces of any size; it reports packets,
 * lost packets and control bytes through `onEvent`. Memory is one buffer of `maxLength`,
 * whatever arrives.
 */
export class FrameDecoder {
  readonly #onEvent: (event: FrameEvent) => void
  readonly #buf: Buffer
  readonly #timeoutMs: number
  readonly #clock: Clock
  #len = 0
  #state = State.Idle
  #crcHigh = 0
  #timer: Timer | undefined

  constructor(onEvent: (event: FrameEvent) => void, options: FrameDecoderOptions = {}) {
    this.#onEvent = onEvent
    this.#buf = Buffer.alloc(options.maxLength ?? MAX_ABECS_DATA)
    this.#timeoutMs = options.interByteTimeoutMs ?? 2000
    this.#clock = options.clock ?? systemClock
  }

  /** True while a packet has started and not yet ended. */
  get inFrame(): boolean {
    return this.#state !== State.Idle && this.#state !== State.Skip
  }

  push(chunk: Uint8Array): void {
    let noise = 0
    for (const b of chunk) {
      switch (this.#state) {
        case State.Idle:
          if (b === SYN) {
            this.#start()
          } else if (b === ACK || b === NAK || b === EOT || b === CAN) {
            if (noise) this.#onEvent({ type: 'noise', count: noise })
            noise = 0
            this.#onEvent({ type: 'control', byte: b })
          } else {
            noise++
          }
          break
        case State.Skip:
          if (b === SYN) this.#start()
          else noise++
          break
        case State.Data:
          this.#data(b)
          break
        case State.Escape:
          // §2.2.1/§2.2.3: the receiver drops DC3 and subtracts 20h from the next byte.
          if (b === SYN) this.#resync()
          else {
            this.#state = State.Data
            this.#append((b - 0x20) & 0xff)
          }
          break
        case State.Crc1:
          this.#crcHigh = b
          this.#state = State.Crc2
          break
        case State.Crc2: {
          this.#state = State.Idle
          const data = this.#buf.subarray(0, this.#len)
          const ok = ((this.#crcHigh << 8) | b) === abecsCrc(data, ETB)
          this.#onEvent(ok ? { type: 'frame', data: Buffer.from(data) } : { type: 'bad-frame', reason: 'crc' })
          // The CRC bytes are never escaped (§2.2.1): after a broken packet, a SYN taken as one of
          // them may have been the start of the next packet (§2.2.3). Look again from there.
          if (!ok && this.#crcHigh === SYN) {
            this.#start()
            this.#data(b)
          } else if (!ok && b === SYN) this.#start()
          break
        }
      }
    }
    if (noise) this.#onEvent({ type: 'noise', count: noise })
    this.#armTimer()
  }

  /** Drops any partial packet without reporting it. */
  reset(): void {
    this.#state = State.Idle
    this.#len = 0
    this.#clearTimer()
  }

  dispose(): void {
    this.reset()
  }

  #data(b: number): void {
    if (b === ETB) this.#state = State.Crc1
    else if (b === DC3) this.#state = State.Escape
    else if (b === SYN) this.#resync()
    else this.#append(b)
  }

  #start(): void {
    this.#state = State.Data
    this.#len = 0
  }

  #resync(): void {
    this.#onEvent({ type: 'bad-frame', reason: 'format' })
    this.#start()
  }

  #append(b: number): void {
    if (this.#len >= this.#buf.length) {
      this.#state = State.Skip
      this.#len = 0
      this.#onEvent({ type: 'bad-frame', reason: 'overflow' })
      return
    }
    this.#buf[this.#len++] = b
  }

  #armTimer(): void {
    if (!this.inFrame || this.#timeoutMs <= 0) return this.#clearTimer()
    if (this.#timer) {
      this.#timer.refresh()
      return
    }
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined
      if (!this.inFrame) return
      this.#state = State.Idle
      this.#len = 0
      this.#onEvent({ type: 'bad-frame', reason: 'timeout' })
    }, this.#timeoutMs)
    this.#timer.unref()
  }

  #clearTimer(): void {
    if (this.#timer) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
