/**
 * Host side of the ABECS link layer (§2.2.2, flows of §2.2.3) over any ByteStream.
 *
 * - One command at a time: a second `exchange()` while one runs is refused at once with
 *   MPOS_ERR_LINK_BUSY naming the running command (no hidden queue; the caller decides). Only a
 *   command being cancelled is waited for, since its CAN/EOT must finish first.
 * - Each command waits `ackTimeoutMs` (2 s) for ACK/NAK and is resent on NAK, up to 3 times.
 * - Responses: non-blocking commands must start answering within `responseTimeoutMs` (10 s);
 *   blocking ones wait without deadline and may send NTM notifications. A corrupted response
 *   is answered, after 500 ms of silence, with NAK (up to 3 times). Good responses are never ACKed.
 * - `cancel()` / an aborted signal: CAN, wait 2 s for EOT, up to 3 times.
 * - Secure session (§5.2.2): with a KSEC set, every command but OPN leaves sealed (DC2) and sealed
 *   answers and notifications are opened before anything looks at them; a bad one is fatal.
 * - Every wait runs on the `clock` option (src/clock.ts; the real one by default).
 */
import { EventEmitter } from 'node:events'
import { ACK, CAN, CONTROL_NAMES, EOT, MAX_ABECS_DATA, NAK } from './control.js'
import { encodeFrame, FrameDecoder, type FrameEvent } from './frame.js'
import { isSecurePacket, openPacket, sealPacket } from './secure.js'
import type { ByteStream } from '../transport/byte-stream.js'
import { systemClock, type Clock, type Timer } from '../clock.js'
import {
  LinkAckTimeoutError,
  LinkBadResponseError,
  LinkBusyError,
  LinkCancelFailedError,
  LinkCancelledError,
  LinkClosedError,
  LinkNakLimitError,
  LinkResponseTimeoutError,
  SecureSessionError,
} from '../errors.js'

export interface LinkTimings {
  /** Wait for ACK/NAK after sending a command (§2.2.2.1: 2 s). */
  ackTimeoutMs: number
  /** Deadline for non-blocking commands (§2.2.2: 10 s). */
  responseTimeoutMs: number
  /** Deadline for blocking commands; Infinity as the specification says (§2.2.2). */
  blockingTimeoutMs: number
  /** Longest gap between two bytes of one packet (§2.2.2: 2 s; 1.5 s in 2.20). */
  interByteTimeoutMs: number
  /** Silence to wait for before NAKing a corrupted response (§2.2.3). */
  silenceMs: number
  /** Wait for EOT after CAN (§2.2.2.3: 2 s). */
  cancelTimeoutMs: number
  /** Sends of a command before giving up on NAKs (§2.2.2.1: abort after the 3rd NAK). */
  maxSends: number
  /** NAKs sent for corrupted responses before giving up (§2.2.2.2: up to 3 times). */
  maxResponseNaks: number
  /** CAN attempts before giving up (§2.2.2.3: up to 3 times). */
  maxCancels: number
}

export const DEFAULT_TIMINGS: LinkTimings = {
  ackTimeoutMs: 2000,
  responseTimeoutMs: 10_000,
  blockingTimeoutMs: Infinity,
  interByteTimeoutMs: 2000,
  silenceMs: 500,
  cancelTimeoutMs: 2000,
  maxSends: 3,
  maxResponseNaks: 3,
  maxCancels: 3,
}

/** What the link reports for diagnostics: command ids, sizes and outcomes, never packet contents. */
export type LinkTrace =
  | { type: 'send'; command: string; bytes: number; attempt: number }
  | { type: 'ack' | 'nak'; command: string }
  | { type: 'response'; command: string; bytes: number }
  | { type: 'notification'; command: string }
  | { type: 'bad-response'; command: string; reason: string }
  | { type: 'stale'; command: string; got: string }
  | { type: 'can' | 'eot' }
  | { type: 'noise'; count: number }

export interface ExchangeOptions {
  /** Blocking commands have no response deadline and may be cancelled (§2.2.2). */
  blocking?: boolean
  /** Overrides the response deadline for this command. */
  timeoutMs?: number
  /** Aborting sends CAN and rejects with MPOS_ERR_LINK_CANCELLED. */
  signal?: AbortSignal
  /** Largest packet for this command (1024 classic, 2049 "Abecs"). */
  maxLength?: number
  onNotification?: (message: string) => void
}

export interface HostLinkOptions {
  /** The clock every wait of the link runs on (default: the real one). */
  clock?: Clock
}

export interface HostLinkEvents {
  notification: [{ command: string; message: string }]
  closed: [reason: string]
  trace: [LinkTrace]
}

type Wait = { resolve: (e: FrameEvent | 'timeout' | 'aborted') => void; timer?: Timer }

export class HostLink extends EventEmitter<HostLinkEvents> {
  readonly timings: LinkTimings
  readonly #stream: ByteStream
  readonly #clock: Clock
  readonly #decoder: FrameDecoder
  /** Events waiting for the running exchange; dropped when nothing runs. */
  #inbox: FrameEvent[] = []
  #waiter: Wait | undefined
  #running: { command: string; abort: AbortController; done: Promise<unknown> } | undefined
  #closedReason: string | undefined
  #lastByteAt = 0
  #unsubscribe: Array<() => void>
  /** KSEC of the secure session (§5.2), if one is established. */
  #ksec: Buffer | undefined

  constructor(stream: ByteStream, timings: Partial<LinkTimings> = {}, options: HostLinkOptions = {}) {
    super()
    this.timings = { ...DEFAULT_TIMINGS, ...timings }
    this.#stream = stream
    this.#clock = options.clock ?? systemClock
    this.#decoder = new FrameDecoder((e) => this.#onFrameEvent(e), {
      maxLength: MAX_ABECS_DATA,
      interByteTimeoutMs: this.timings.interByteTimeoutMs,
      clock: this.#clock,
    })
    this.#unsubscribe = [
      stream.onData((chunk) => {
        this.#lastByteAt = this.#clock.now()
        this.#decoder.push(chunk)
      }),
      stream.onClose((reason) => this.#onClosed(reason)),
    ]
    if (stream.closed) this.#onClosed('stream already closed')
  }

  get description(): string {
    return this.#stream.description
  }

  /** The command in flight, if any. */
  get busy(): string | undefined {
    return this.#running?.command
  }

  get closed(): boolean {
    return this.#closedReason !== undefined
  }

  /** Whether commands travel encrypted (§5.2.2). */
  get secure(): boolean {
    return this.#ksec !== undefined
  }

  /** Starts (KSEC) or ends (undefined) the secure session; the key is kept in memory only. */
  setSessionKey(ksec: Buffer | undefined): void {
    this.#ksec = ksec ? Buffer.from(ksec) : undefined
  }

  /** Starts the conversation with a CAN, aborting whatever a previous host left running (§2.2.2.3). */
  async open(): Promise<void> {
    await this.cancel()
  }

  /**
   * Sends one command packet and resolves with the response packet data (PKTDATA). `command`
   * is the CMD_ID, used to match the response (stale answers of a cancelled command are skipped)
   * and to name errors.
   */
  async exchange(command: string, data: Buffer, options: ExchangeOptions = {}): Promise<Buffer> {
    this.#assertOpen()
    // A command whose caller gave up is still being cancelled (CAN/EOT): that ends in at most
    // 3 × 2 s, and the next command waits for it. A command still wanted is never pre-empted.
    while (this.#running?.abort.signal.aborted) await this.#running.done.catch(() => {})
    this.#assertOpen()
    if (this.#running) throw new LinkBusyError(command, this.#running.command)
    const abort = new AbortController()
    const onAbort = () => abort.abort()
    if (options.signal?.aborted) throw new LinkCancelledError(command)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const running = { command, abort, done: Promise.resolve<unknown>(undefined) }
    this.#running = running
    const done = this.#run(command, data, options, abort.signal)
    running.done = done
    try {
      return await done
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
      this.#running = undefined
      this.#inbox = []
    }
  }

  /**
   * Cancels the running command (it rejects with MPOS_ERR_LINK_CANCELLED once the pinpad has
   * confirmed with EOT) or, when idle, just performs the CAN/EOT handshake. Either way it rejects
   * with MPOS_ERR_LINK_CANCEL_FAILED when the pinpad never confirmed (§2.2.2.3).
   */
  async cancel(): Promise<void> {
    this.#assertOpen()
    const current = this.#running
    if (current) {
      current.abort.abort()
      try {
        await current.done
      } catch (err) {
        if (err instanceof LinkCancelFailedError) throw err
      }
      return
    }
    const running = { command: 'CAN', abort: new AbortController(), done: Promise.resolve<unknown>(undefined) }
    this.#running = running
    running.done = this.#cancelProcedure()
    try {
      await running.done
    } finally {
      this.#running = undefined
      this.#inbox = []
    }
  }

  /** Stops listening and closes the stream. */
  async close(): Promise<void> {
    if (!this.#closedReason) this.#onClosed('closed by the host')
    await this.#stream.close()
  }

  async #run(command: string, data: Buffer, options: ExchangeOptions, signal: AbortSignal): Promise<Buffer> {
    const t = this.timings
    // §5.2.2: OPN always goes in clear; everything else is sealed while a session is up.
    const ksec = command === 'OPN' ? undefined : this.#ksec
    const frame = ksec ? encodeFrame(sealPacket(ksec, data), MAX_ABECS_DATA) : encodeFrame(data, options.maxLength ?? MAX_ABECS_DATA)
    this.#inbox = []
    // §2.2.2.1: send, wait 2 s for ACK or NAK, resend on NAK, abort after the 3rd NAK.
    for (let attempt = 1; ; attempt++) {
      this.#trace({ type: 'send', command, bytes: data.length, attempt })
      // Bytes that arrived before the command cannot start its ACK or its response (the pinpad
      // only speaks when asked, §2.2.2): a stray SYN left open would otherwise swallow the ACK
      // (06h is packet data inside a packet) and fail the command with an ACK timeout.
      this.#decoder.reset()
      this.#stream.write(frame)
      const reply = await this.#nextControl([ACK, NAK], t.ackTimeoutMs, signal)
      if (reply === 'aborted') return this.#cancelled(command)
      if (reply === 'timeout') throw new LinkAckTimeoutError(command, t.ackTimeoutMs)
      if (reply === ACK) {
        this.#trace({ type: 'ack', command })
        break
      }
      this.#trace({ type: 'nak', command })
      if (attempt >= t.maxSends) throw new LinkNakLimitError(command, attempt)
    }

    const deadlineMs = options.timeoutMs ?? (options.blocking ? t.blockingTimeoutMs : t.responseTimeoutMs)
    let deadline = this.#clock.now() + deadlineMs
    let naks = 0
    for (;;) {
      const event = await this.#next(deadline - this.#clock.now(), signal)
      if (event === 'aborted') return this.#cancelled(command)
      if (event === 'timeout') {
        // A response already arriving is given its inter-byte time, not cut at the deadline (the
        // decoder ends it on a 2 s gap). Waiting afresh, not at once: the bytes must get to arrive.
        // With no inter-byte timeout (0) nothing would ever end it, and re-waiting 0 ms in a loop
        // would starve the event loop: the deadline stands.
        if (this.#decoder.inFrame && t.interByteTimeoutMs > 0) {
          deadline = this.#clock.now() + t.interByteTimeoutMs
          continue
        }
        throw new LinkResponseTimeoutError(command, deadlineMs)
      }
      if (event.type === 'frame') {
        const data = this.#unseal(event.data)
        const id = data.subarray(0, 3).toString('latin1')
        if (id === 'NTM') {
          // §2.3.3: NTM000 + N3 + S32 message for the operator.
          const message = data.subarray(9).toString('latin1')
          this.#trace({ type: 'notification', command })
          options.onNotification?.(message)
          this.emit('notification', { command, message })
          continue
        }
        if (id !== command && id !== 'ERR') {
          // A late answer to a command that was cancelled or timed out: not ours.
          this.#trace({ type: 'stale', command, got: id })
          continue
        }
        this.#trace({ type: 'response', command, bytes: data.length })
        return data
      }
      if (event.type === 'bad-frame') {
        this.#trace({ type: 'bad-response', command, reason: event.reason })
        if (++naks > t.maxResponseNaks) throw new LinkBadResponseError(command, naks)
        // §2.2.3: discard everything until 500 ms of silence, then ask for the response again. A
        // line that never falls silent does not hold the command forever: bytes still arriving
        // past its deadline (§2.2.2: 10 s for a non-blocking one, from the bad answer) end it.
        const quiet = await this.#silence(signal, this.#clock.now() + deadlineMs + t.silenceMs)
        if (quiet === 'aborted') return this.#cancelled(command)
        if (quiet === 'timeout') throw new LinkResponseTimeoutError(command, deadlineMs)
        this.#stream.write(Buffer.of(NAK))
        // §2.2.3: after the NAK the host waits for the response again, with a fresh deadline.
        deadline = this.#clock.now() + deadlineMs
      }
      // Stray ACK/NAK/EOT/CAN and noise while waiting for a response mean nothing here.
    }
  }

  /** §5.2.2.2: a sealed packet is opened with KSEC; an inconsistent one ends the operation. */
  #unseal(data: Buffer): Buffer {
    if (!isSecurePacket(data)) return data
    if (!this.#ksec) throw new SecureSessionError('the pinpad sent an encrypted packet and no KSEC is known')
    return openPacket(this.#ksec, data)
  }

  async #cancelled(command: string): Promise<never> {
    await this.#cancelProcedure()
    throw new LinkCancelledError(command)
  }

  /** §2.2.2.3: CAN, up to 2 s for EOT ignoring anything else, up to 3 times. */
  async #cancelProcedure(): Promise<void> {
    const t = this.timings
    for (let attempt = 1; attempt <= t.maxCancels; attempt++) {
      this.#inbox = []
      this.#trace({ type: 'can' })
      this.#stream.write(Buffer.of(CAN))
      const reply = await this.#nextControl([EOT], t.cancelTimeoutMs)
      if (reply === EOT) {
        this.#trace({ type: 'eot' })
        return
      }
    }
    throw new LinkCancelFailedError(t.maxCancels)
  }

  /** Next control byte among `wanted`, skipping packets and other bytes. */
  async #nextControl(wanted: number[], timeoutMs: number, signal?: AbortSignal): Promise<number | 'timeout' | 'aborted'> {
    const deadline = this.#clock.now() + timeoutMs
    for (;;) {
      const e = await this.#next(deadline - this.#clock.now(), signal)
      if (e === 'timeout' || e === 'aborted') return e
      if (e.type === 'control' && wanted.includes(e.byte)) return e.byte
    }
  }

  #next(timeoutMs: number, signal?: AbortSignal): Promise<FrameEvent | 'timeout' | 'aborted'> {
    this.#assertOpen()
    if (signal?.aborted) return Promise.resolve('aborted')
    const queued = this.#inbox.shift()
    if (queued) return Promise.resolve(queued)
    if (timeoutMs <= 0) return Promise.resolve('timeout')
    return new Promise((resolve, reject) => {
      const finish = (e: FrameEvent | 'timeout' | 'aborted') => {
        if (this.#waiter !== waiter) return
        this.#waiter = undefined
        if (waiter.timer) this.#clock.clearTimeout(waiter.timer)
        signal?.removeEventListener('abort', onAbort)
        resolve(e)
      }
      const onAbort = () => finish('aborted')
      const waiter: Wait & { reject: (e: Error) => void } = { resolve: finish, reject }
      if (Number.isFinite(timeoutMs)) waiter.timer = this.#clock.setTimeout(() => finish('timeout'), timeoutMs)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiter = waiter
    })
  }

  /** Resolves once no byte has arrived for `silenceMs`, or with 'timeout' if that has not happened by `giveUpAt`. */
  async #silence(signal: AbortSignal, giveUpAt: number): Promise<'quiet' | 'aborted' | 'timeout'> {
    for (;;) {
      const now = this.#clock.now()
      const wait = this.#lastByteAt + this.timings.silenceMs - now
      if (wait <= 0) {
        this.#inbox = []
        this.#decoder.reset()
        return 'quiet'
      }
      if (now >= giveUpAt) return 'timeout'
      const e = await this.#next(Math.min(wait, giveUpAt - now), signal)
      if (e === 'aborted') return e
    }
  }

  #onFrameEvent(e: FrameEvent): void {
    if (e.type === 'noise') this.#trace({ type: 'noise', count: e.count })
    if (!this.#running) return // nobody is listening: stray bytes are dropped
    const w = this.#waiter
    if (w) w.resolve(e)
    else this.#inbox.push(e)
  }

  #onClosed(reason: string): void {
    if (this.#closedReason) return
    this.#closedReason = reason
    this.#decoder.dispose()
    for (const u of this.#unsubscribe) u()
    const w = this.#waiter as (Wait & { reject?: (e: Error) => void }) | undefined
    this.#waiter = undefined
    if (w?.timer) this.#clock.clearTimeout(w.timer)
    w?.reject?.(new LinkClosedError(reason))
    this.emit('closed', reason)
  }

  #assertOpen(): void {
    if (this.#closedReason) throw new LinkClosedError(this.#closedReason)
  }

  #trace(entry: LinkTrace): void {
    if (this.listenerCount('trace')) this.emit('trace', entry)
  }
}

export { CONTROL_NAMES }
