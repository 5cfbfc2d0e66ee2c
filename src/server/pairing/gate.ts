/**
 * A connection's pairing, between its socket and its session (before the journal gate): answers
 * `pair` and `authenticate`, and with --require-pairing refuses every other command but
 * `list_devices` and `status` (MPOS_ERR_NOT_PAIRED) until the connection has authenticated. An
 * unpaired connection is told nothing about the payments of others: of pushed events it gets only
 * `device_added`/`device_removed`, its `status` answers leave out `awaiting_finish`, and the
 * journal's outcomes kept for a returning page are not handed to it.
 *
 * Without --require-pairing nothing is refused or withheld; `pair` and `authenticate` still work,
 * so pages can be paired before the shop turns the requirement on.
 */
import type { Request } from '../../../machines/protocol.js'
import { coded } from '../../../machines/types.js'
import { NotPairedError } from '../../errors.js'
import { errorFields } from '../wire.js'
import type { PairingService } from './pairing.js'

/** What an unpaired connection may send. */
export const OPEN_COMMANDS: ReadonlySet<string> = new Set(['list_devices', 'status', 'pair', 'authenticate'])
const DEVICE_EVENTS = new Set(['device_added', 'device_removed'])

/** An answer given here, with what its log line says (never the code or the token). */
export interface PairingAnswer {
  payload: Record<string, unknown>
  pairing?: number
}

export class ConnectionPairing {
  #id: number | undefined
  #revoked = false
  #unwatch: (() => void) | undefined

  constructor(
    readonly service: PairingService,
    /** The connection's origin (originOf its Origin header). */
    readonly origin: string,
    readonly required: boolean,
  ) {}

  /** May this connection use everything (paired, or pairing not required)? */
  get trusted(): boolean {
    return !this.required || this.#id !== undefined
  }

  /** Answers pair/authenticate and refuses what needs pairing; undefined: the request goes on. */
  intercept(context: string, request: Request, commandId: string | number | undefined): PairingAnswer | undefined {
    if (this.trusted && request.command !== 'pair' && request.command !== 'authenticate') return undefined
    const echo = { command: request.command, context, ...(commandId !== undefined ? { command_id: commandId } : {}) }
    if (request.command === 'pair' || request.command === 'authenticate') {
      const result = request.command === 'pair' ? this.service.pair(request.code, this.origin) : this.service.authenticate(request.token, this.origin)
      if (!result.ok) return { payload: { ...echo, success: false, ...errorFields(coded(result.error)) } }
      this.#bind(result.id)
      const response = 'token' in result ? { token: result.token, origin: result.origin } : { origin: result.origin }
      return { payload: { ...echo, success: true, response }, pairing: result.id }
    }
    if (this.trusted || OPEN_COMMANDS.has(request.command)) return undefined
    const why = this.#revoked ? "this connection's pairing was revoked: pair again" : 'this connection is not paired: send authenticate with its token, or pair'
    return { payload: { ...echo, success: false, ...errorFields(coded(new NotPairedError(request.command, why))) } }
  }

  /** A message on its way out: undefined when an unpaired connection must not have it. */
  outgoing(payload: Record<string, unknown>): Record<string, unknown> | undefined {
    if (this.trusted) return payload
    if (payload.event !== undefined) return DEVICE_EVENTS.has(payload.event as string) ? payload : undefined
    if (payload.command === 'status' && payload.success === true && payload.response && typeof payload.response === 'object') {
      const { awaiting_finish: _, ...response } = payload.response as Record<string, unknown>
      return { ...payload, response }
    }
    return payload
  }

  close(): void {
    this.#unwatch?.()
    this.#unwatch = undefined
  }

  #bind(id: number): void {
    this.#unwatch?.()
    this.#id = id
    this.#revoked = false
    this.#unwatch = this.service.watch(id, () => {
      this.#id = undefined
      this.#revoked = true
      this.#unwatch = undefined
    })
  }
}
