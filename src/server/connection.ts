/**
 * One `/ws` connection: messages in (parsed, rate-limited, handed to the connection's session
 * actor), answers out (bounded buffer), one log line and metrics per answered command. A fault
 * while handling one message is contained to it: it gets MPOS_ERR_INTERNAL, the others go on.
 */
import type { WebSocket, RawData } from 'ws'
import type { RuntimeBase as BridgeRuntime } from '../bridge/runtime-base.js'
import type { Outgoing } from '../../machines/session.machine.js'
import type { Logger } from '../log.js'
import type { BridgeMetrics } from './metrics.js'
import { parseMessage, DEFAULT_CONTEXT, type Parsed } from './validate.js'
import { validators } from './schema.js'
import { errorFields, observeReply, replyText, toWire } from './wire.js'
import { InternalError, InvalidMessageError, RateLimitedError, ShuttingDownError } from '../errors.js'
import { coded } from '../../machines/types.js'
import type { GateConnection, JournalGate } from './journal-gate.js'
import { systemClock, type Clock } from '../clock.js'
import { ConnectionPairing } from './pairing/gate.js'
import { originOf, type PairingService } from './pairing/pairing.js'

export { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './limits.js'
import type { ConnectionLimits } from './limits.js'

/** WebSocket close code for a client cut off for policy reasons (RFC 6455 §7.4.1). */
export const CLOSE_POLICY = 1008

/** While the bridge shuts down: what ends or looks at work already begun; anything else is refused. */
export const ALLOWED_WHILE_DRAINING = new Set(['cancel', 'finish_payment', 'status', 'get_result', 'list_devices', 'close'])

export interface ConnectionDeps {
  runtime: BridgeRuntime
  metrics: BridgeMetrics
  log: Logger
  limits: ConnectionLimits
  now?: () => number
  /** Idempotency by command_id and get_result (the journal). */
  gate?: JournalGate
  /** The clock of the rate limits, the command durations and the cut-off grace (default: the real one). */
  clock?: Clock
  /** Pairing (pair, authenticate); `required`: --require-pairing. */
  pairing?: { service: PairingService; required: boolean }
  /** The handshake's Origin header (absent for non-browser clients). */
  origin?: string
  /** The bridge is shutting down: only ALLOWED_WHILE_DRAINING commands are taken. */
  draining?: () => boolean
}

/** A token bucket: `burst` tokens, refilled at `rate` per second. */
export class TokenBucket {
  #tokens: number
  #at: number
  constructor(
    readonly rate: number,
    readonly burst: number,
    readonly now: () => number = systemClock.now,
  ) {
    this.#tokens = burst
    this.#at = now()
  }

  take(): boolean {
    const t = this.now()
    this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#at) / 1000) * this.rate)
    this.#at = t
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

export function serveConnection(socket: WebSocket, deps: ConnectionDeps): void {
  const { runtime, metrics, log, limits } = deps
  const clock = deps.clock ?? systemClock
  const now = () => clock.now()
  const bucket = new TokenBucket(limits.messagesPerSecond, limits.burst, now)
  let cut = false
  // Refusals drain a second bucket: a client that keeps sending well over the rate is cut off.
  const patience = new TokenBucket(limits.messagesPerSecond, limits.burst * 10, now)

  // What one turn of the event loop sends (a reply with its status and payment_status events) leaves
  // in one write: the TCP socket under ws stays corked until the turn's ticks have run. The bytes
  // are the same, fewer syscalls carry them. (A query's answer alone is not corked: sendText.)
  const tcp = (socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket
  let corked = false
  const uncork = () => {
    corked = false
    tcp!.uncork()
  }
  const sendText = (text: string) => {
    socket.send(text)
    if (socket.bufferedAmount > limits.maxBufferedBytes) disconnect(`more than ${limits.maxBufferedBytes} bytes of answers are waiting: the client does not read them`)
  }
  const send = (payload: Record<string, unknown>) => {
    if (cut || socket.readyState !== socket.OPEN) return
    if (tcp && !corked) {
      corked = true
      tcp.cork()
      process.nextTick(uncork)
    }
    sendText(JSON.stringify(payload))
  }

  const disconnect = (reason: string) => {
    if (cut) return
    cut = true
    log.warn({ session: session.id, buffered: socket.bufferedAmount }, `connection cut off: ${reason}`)
    // The close frame queues behind what the client does not read: it gets a moment, then the socket goes.
    socket.close(CLOSE_POLICY, reason.slice(0, 120))
    clock.setTimeout(() => socket.terminate(), 1000).unref()
  }

  const gate = deps.gate
  const pairing = deps.pairing ? new ConnectionPairing(deps.pairing.service, originOf(deps.origin), deps.pairing.required) : undefined
  /** What an unpaired connection must not see is held back here (pairing/gate.ts). */
  const release = (payload: Record<string, unknown>) => {
    const allowed = pairing ? pairing.outgoing(payload) : payload
    if (allowed) send(allowed)
  }
  const deliver = (message: Outgoing) => {
    if (message.kind !== 'reply') return release(toWire(message))
    observeReply(message, now(), metrics, log, session.id)
    release(gate ? gate.outgoing(toWire(message)) : toWire(message))
  }
  const session = runtime.openSession(
    deliver,
    // The connection's actor failed (a bug): this connection alone is closed.
    () => {
      if (socket.readyState === socket.OPEN) socket.close(1011, 'internal error')
    },
  )
  log.info({ session: session.id }, 'connection opened')
  const handle: GateConnection = {
    id: session.id,
    send: (payload) => {
      if (payload.replayed === true) log.info({ session: session.id, command: payload.command, context: payload.context, command_id: payload.command_id }, 'replayed')
      release(payload)
    },
    get open() {
      return !cut && socket.readyState === socket.OPEN
    },
  }

  const refuse = (error: { code: string; message: string }, echo: Omit<Extract<Parsed, { ok: false }>, 'ok' | 'error'>) => {
    metrics.commands.inc({ command: echo.command !== undefined && Object.hasOwn(validators, echo.command) ? echo.command : 'invalid', outcome: 'invalid' })
    log.info({ session: session.id, code: error.code }, 'refused message')
    send({ ...(echo.command !== undefined ? { command: echo.command } : {}), context: echo.context, ...(echo.command_id !== undefined ? { command_id: echo.command_id } : {}), success: false, ...errorFields(error) })
  }

  socket.on('message', (raw: RawData, isBinary: boolean) => {
    if (cut) return
    if (!bucket.take()) {
      if (!patience.take()) return disconnect(`it kept sending far over the rate limit (${limits.messagesPerSecond} messages per second)`)
      refuse(coded(new RateLimitedError(limits.messagesPerSecond)), { context: DEFAULT_CONTEXT })
      return
    }
    let parsed: Parsed | undefined
    try {
      parsed = isBinary
        ? { ok: false, error: coded(new InvalidMessageError('Binary messages are not accepted: send JSON text')), context: DEFAULT_CONTEXT }
        : // A text frame is valid UTF-8 (ws checks): its buffer's length is the text's size.
          parseMessage(raw.toString(), limits.maxMessageBytes, undefined, Buffer.isBuffer(raw) ? raw.length : undefined)
      if (!parsed.ok) return refuse(parsed.error, parsed)
      if (deps.draining?.() && !ALLOWED_WHILE_DRAINING.has(parsed.request.command)) {
        return refuse(coded(new ShuttingDownError()), { command: parsed.request.command, context: parsed.context, ...(parsed.command_id !== undefined ? { command_id: parsed.command_id } : {}) })
      }
      const answered = pairing?.intercept(parsed.context, parsed.request, parsed.command_id)
      if (answered) {
        const { payload } = answered
        metrics.commands.inc({ command: parsed.request.command, outcome: payload.success ? 'success' : 'error' })
        log.info({ session: session.id, command: parsed.request.command, context: parsed.context, command_id: parsed.command_id, success: payload.success, code: payload.code, pairing: answered.pairing }, 'command')
        return send(payload)
      }
      // An unpaired connection's status is not handed the outcomes the journal keeps for a returning page.
      if ((!pairing || pairing.trusted) && gate?.intercept(handle, parsed.context, parsed.request, parsed.command_id)) return
      // status and list_devices: answered from the actors' published state when that changes nothing.
      // An unpaired connection's status does not create a context (queries.ts).
      const response = session.query(parsed.context, parsed.request, !pairing || pairing.trusted)
      if (response !== undefined) {
        const { context, request, command_id } = parsed
        const command = request.command
        const askedAt = now()
        const reply = (): Extract<Outgoing, { kind: 'reply' }> => ({ kind: 'reply', id: '', context, command, success: true, response, ...(command_id !== undefined ? { command_id } : {}), askedAt })
        // Nothing on the way out changes this answer (no journal entry, no payments awaiting their
        // finish, a paired or pairing-free connection): the same bytes, as text kept per response.
        if (typeof response === 'object' && response !== null && command !== 'process_payment' && (!pairing || pairing.trusted) && !gate?.alters(command, context, command_id)) {
          if (!cut && socket.readyState === socket.OPEN) sendText(replyText(command, context, command_id, response))
          // Its figures and log line after it has gone: they are not what the client waits for.
          return observeReply(reply(), now(), metrics, log, session.id)
        }
        return deliver(reply())
      }
      session.send(parsed.context, parsed.request, parsed.command_id, now())
    } catch (err) {
      // A bug, not the client's fault: this message fails, the bridge and every connection go on.
      log.error({ session: session.id, err: { message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'internal error handling a message')
      const echo: { command?: string; context: string; command_id?: string | number } = parsed?.ok
        ? { command: parsed.request.command, context: parsed.context, ...(parsed.command_id !== undefined ? { command_id: parsed.command_id } : {}) }
        : { context: DEFAULT_CONTEXT }
      metrics.commands.inc({ command: echo.command ?? 'invalid', outcome: 'error' })
      send({ ...echo, success: false, ...errorFields(coded(new InternalError('the message could not be handled'))) })
    }
  })
  socket.on('close', () => {
    metrics.connections.dec()
    pairing?.close()
    session.close()
    log.info({ session: session.id }, 'connection closed')
  })
  socket.on('error', (err) => log.warn({ session: session.id, err: err.message }, 'socket error'))
  metrics.connections.inc()
}

