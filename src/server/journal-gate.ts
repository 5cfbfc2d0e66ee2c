/**
 * Idempotency by `command_id`, between a connection and its session actor (src/journal/ keeps the
 * record). For a journaled command (initialize, process_payment, finish_payment, cancel, close)
 * that carries a command_id, in its context:
 *   - new → recorded as running, and it goes on to the machines;
 *   - done → the recorded answer again with `"replayed": true`; the pinpad is not touched, and the
 *     context's order rules are not asked (a retry after the answer was lost is not "out of order");
 *   - running → this connection is attached: it gets the answer when it comes;
 *   - another command or other money fields under the same id → MPOS_ERR_COMMAND_ID_REUSED;
 *   - interrupted (the bridge stopped before it answered) → MPOS_ERR_COMMAND_INTERRUPTED: it is
 *     never run again under that id, so no retry reads a card twice.
 * `get_result` is answered here, from any connection, also after a restart. A payment answered
 * after its connection had gone is pushed (payment_status with its result) to the first
 * connection that names its context again.
 */
import { JOURNALED_COMMANDS, type Envelope, type Reply, type Request } from '../../machines/protocol.js'
import { coded } from '../../machines/types.js'
import { maskEncryptionKey } from '../acquirer/encryption-key.js'
import { CommandIdReusedError, CommandInterruptedError } from '../errors.js'
import type { Entry, Journal } from '../journal/store.js'
import type { Logger } from '../log.js'
import { errorFields, toWire } from './wire.js'

/** The fields that make a retry the same request: money, and where the money goes. */
const MONEY_FIELDS: Partial<Record<string, string[]>> = {
  initialize: ['device_id'],
  process_payment: ['amount', 'applications', 'magstripe_payment_method'],
  finish_payment: ['success', 'response_code', 'emv_data'],
}

/**
 * Commands about the live pinpad session, which a restart ends: their answers from an earlier run
 * are not replayed (an `initialize` replayed after a restart would claim a pinpad that is not open);
 * the same command_id runs them again. The money commands replay across restarts.
 */
const SESSION_COMMANDS = new Set(['initialize', 'cancel', 'close'])

/** Answers that end a context's pending payment (its finish is no longer owed). */
const SETTLING = new Set(['finish_payment', 'cancel', 'close'])

export function fingerprint(request: Request): string {
  const r = request as unknown as Record<string, unknown>
  return JSON.stringify([request.command, ...(MONEY_FIELDS[request.command] ?? []).map((f) => r[f] ?? null)])
}

/** The request as the journal keeps it: the encryption key masked. */
function storable(request: Request): Record<string, unknown> {
  const r = { ...(request as unknown as Record<string, unknown>) }
  if (typeof r.encryption_key === 'string') r.encryption_key = maskEncryptionKey(r.encryption_key)
  return r
}

/** A connection as the gate sees it. */
export interface GateConnection {
  readonly id: string
  send(payload: Record<string, unknown>): void
  readonly open: boolean
}

interface Running {
  owner: GateConnection
  waiters: Set<GateConnection>
  /** The request's amount and when it was recorded: a payment awaiting its finish is listed with them. */
  amount: unknown
  at: number
}

/** payment_status events kept per context for a page that comes back (get_result keeps every answer). */
const UNDELIVERED_PER_CONTEXT = 8

const slot = (context: string, key: string) => `${context}\u0000${key}`

export interface PendingFinish {
  context: string
  command_id: unknown
  amount: unknown
  at: string
}

export class JournalGate {
  readonly #running = new Map<string, Running>()
  /** payment_status events whose payment was answered after its connection had gone, by context. */
  readonly #undelivered = new Map<string, Record<string, unknown>[]>()
  /** Payments awaiting their finish, by context (read at each status: kept in memory). */
  #pending = new Map<string, PendingFinish[]>()
  /** When this run began (the journal's clock): entries before it are from an earlier run. */
  readonly #since: number

  constructor(
    readonly journal: Journal,
    readonly log: Logger,
  ) {
    this.#since = journal.now()
    this.#refreshPending()
  }

  /**
   * A validated request, before it goes to the connection's session. True: it was answered here
   * (replayed, attached, refused, or get_result) and must not go on.
   */
  intercept(conn: GateConnection, context: string, request: Request, commandId: string | number | undefined): boolean {
    this.#deliverUndelivered(conn, context)
    if (request.command === 'get_result') {
      conn.send(this.#result(context, request.target_command_id, commandId))
      return true
    }
    if (commandId === undefined || !JOURNALED_COMMANDS.has(request.command)) return false
    const key = JSON.stringify(commandId)
    const fp = fingerprint(request)
    const record = { context, key, command: request.command, fingerprint: fp, request: storable(request) }
    const at = this.journal.now()
    const entry = this.journal.beginIfNew(record, at)
    const earlierRun = entry !== undefined && entry.state !== 'running' && SESSION_COMMANDS.has(entry.command) && entry.createdAt < this.#since
    if (!entry || earlierRun) {
      if (earlierRun) this.journal.restart(record, at)
      this.#running.set(slot(context, key), { owner: conn, waiters: new Set(), amount: (request as { amount?: unknown }).amount, at })
      return false
    }
    const echo = { command: request.command, context, command_id: commandId }
    if (entry.fingerprint !== fp) {
      conn.send({ ...echo, success: false, ...errorFields(coded(new CommandIdReusedError(key, context, describe(entry)))) })
      return true
    }
    if (entry.state === 'done' && entry.answer) {
      conn.send(replayed(entry))
      return true
    }
    const running = this.#running.get(slot(context, key))
    if (entry.state === 'running' && running) {
      running.waiters.add(conn)
      return true
    }
    conn.send({ ...echo, success: false, ...errorFields(coded(new CommandInterruptedError(request.command, key))) })
    return true
  }

  /** The context answered a journaled command (the runtime's onAnswer): recorded, and told to whoever waits. */
  onAnswer(envelope: Envelope, reply: Reply): void {
    if (envelope.commandId === undefined) return
    this.#complete(envelope.context, envelope.commandId, toWire({ kind: 'reply', ...reply, command_id: envelope.commandId }))
  }

  /**
   * A reply on its way out to `conn`. One the machines refused before a context saw it (too many
   * contexts…) is recorded here; a status answer shows the payments awaiting their finish.
   */
  outgoing(payload: Record<string, unknown>): Record<string, unknown> {
    const { command, context, command_id: commandId } = payload as { command?: string; context?: string; command_id?: string | number }
    if (typeof context !== 'string') return payload
    if (commandId !== undefined && command !== undefined && JOURNALED_COMMANDS.has(command)) this.#complete(context, commandId, payload)
    if (command === 'status' && payload.success === true) {
      const pending = this.#pending.get(context)
      if (pending?.length) return { ...payload, response: { ...(payload.response as object), awaiting_finish: pending } }
    }
    return payload
  }

  /** Would outgoing() record or change this successful reply? (a journaled command's, or a status while payments await their finish) */
  alters(command: string, context: string, commandId: string | number | undefined): boolean {
    if (commandId !== undefined && JOURNALED_COMMANDS.has(command)) return true
    return command === 'status' && (this.#pending.get(context)?.length ?? 0) > 0
  }

  /** Every payment awaiting its finish (/status, the start-up log). */
  awaitingFinish(): PendingFinish[] {
    return [...this.#pending.values()].flat()
  }

  #complete(context: string, commandId: string | number, answer: Record<string, unknown>): void {
    const key = JSON.stringify(commandId)
    const id = slot(context, key)
    const running = this.#running.get(id)
    if (!running) return
    this.#running.delete(id)
    const command = answer.command as string
    const response = answer.response as { card_hash?: unknown; status?: unknown } | undefined
    const awaitingFinish = command === 'process_payment' && answer.success === true && typeof response?.card_hash === 'string'
    const settles = answer.success === true && SETTLING.has(command)
    this.journal.complete(context, key, answer, { awaitingFinish, settles })
    if (awaitingFinish) {
      // What the journal now lists among those awaiting their finish, newest last (its order), without reading them all back.
      const item: PendingFinish = { context, command_id: commandId, amount: running.amount, at: new Date(running.at).toISOString() }
      this.#pending.set(context, [...(this.#pending.get(context) ?? []), item])
    } else if (settles) {
      // The settle cleared every pending payment of this context and no other's.
      this.#pending.delete(context)
    }
    let told = running.owner.open
    for (const w of running.waiters) {
      if (!w.open) continue
      w.send(answer)
      told = true
    }
    // Nobody left to receive a payment's outcome: the next connection on the context gets it.
    if (!told && command === 'process_payment' && response) {
      const event = { event: 'payment_status', context, status: response.status, result: response, command_id: commandId }
      // Bounded: a context nobody comes back to keeps only its latest outcomes here (get_result has them all).
      this.#undelivered.set(context, [...(this.#undelivered.get(context) ?? []), event].slice(-UNDELIVERED_PER_CONTEXT))
      this.log.info({ context, command_id: commandId, status: response.status }, 'payment answered after its connection left: kept for the next connection on the context')
    }
  }

  #deliverUndelivered(conn: GateConnection, context: string): void {
    const events = this.#undelivered.get(context)
    if (!events) return
    this.#undelivered.delete(context)
    for (const e of events) conn.send(e)
  }

  #result(context: string, target: string | number, commandId: string | number | undefined): Record<string, unknown> {
    const entry = this.journal.find(context, JSON.stringify(target))
    const state = entry?.state ?? 'unknown'
    return {
      command: 'get_result',
      context,
      ...(commandId !== undefined ? { command_id: commandId } : {}),
      success: true,
      response: {
        target_command_id: target,
        state,
        ...(entry ? { command: entry.command } : {}),
        ...(entry?.state === 'done' && entry.answer ? { answer: replayed(entry) } : {}),
      },
    }
  }

  #refreshPending(): void {
    const by = new Map<string, PendingFinish[]>()
    for (const e of this.journal.awaitingFinish()) {
      const item: PendingFinish = { context: e.context, command_id: JSON.parse(e.key), amount: e.request.amount, at: new Date(e.createdAt).toISOString() }
      by.set(e.context, [...(by.get(e.context) ?? []), item])
    }
    this.#pending = by
  }
}

/** A recorded answer sent again. */
function replayed(entry: Entry): Record<string, unknown> {
  return { ...entry.answer, replayed: true, ...(entry.redacted ? { redacted: true } : {}) }
}

function describe(entry: Entry): string {
  const amount = entry.request.amount
  return amount !== undefined ? `${entry.command} of ${String(amount)}` : entry.command
}
