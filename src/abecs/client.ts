/**
 * Typed commands over the link: encodes a request with its layout, exchanges it, checks the
 * status and decodes the response. The blocking flag and packet limit come from the command
 * table (§2.2.2, §3.1.3), never from the caller.
 */
import { COMMANDS, commandInfo, isBlocking, type RequestOf, type ResponseOf, type SpokenCommand } from './commands/index.js'
import { decodeResponse, encodeCommand } from './packet.js'
import { MAX_ABECS_DATA, MAX_CLASSIC_DATA } from './control.js'
import { MalformedResponseError, PinpadStatusError } from '../errors.js'
import type { HostLink } from './link.js'

export interface RequestOptions {
  signal?: AbortSignal
  /** Overrides the response deadline (e.g. a short one to detect a silent port). */
  timeoutMs?: number
  onNotification?: (message: string) => void
  /** FCX blocks only when a contactless card must be presented again (§3.7.4). */
  contactlessReread?: boolean
}

export interface CommandResult<R> {
  /** RSP_STAT: 000, or one of the command's answer statuses (TLI 020, GKY keys). */
  status: number
  response: R
}

type Spec<C extends SpokenCommand> = (typeof COMMANDS)[C]

export class PinpadClient {
  constructor(readonly link: HostLink) {}

  /** Sends a command; throws PinpadStatusError for a status that is a failure. */
  async request<C extends SpokenCommand>(
    id: C,
    request: RequestOf<Spec<C>>,
    options: RequestOptions = {},
  ): Promise<CommandResult<ResponseOf<Spec<C>>>> {
    const spec = COMMANDS[id]
    const info = commandInfo(id)!
    const data = encodeCommand(id, spec.encodeRequest(request as never))
    const raw = await this.link.exchange(id, data, {
      blocking: isBlocking(id, options.contactlessReread),
      maxLength: info.tlv ? MAX_ABECS_DATA : MAX_CLASSIC_DATA,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.onNotification ? { onNotification: options.onNotification } : {}),
    })
    let packet
    try {
      packet = decodeResponse(raw)
    } catch (err) {
      throw new MalformedResponseError(id, (err as Error).message)
    }
    // §2.3.4: "ERR" answers a command the pinpad does not know (ST_INVCALL) or cannot decrypt.
    if (packet.id === 'ERR' || (packet.status !== 0 && !spec.resultStatuses?.includes(packet.status))) {
      throw new PinpadStatusError(id, packet.status)
    }
    try {
      const response = spec.decodeResponse(packet.blocks, request as never, packet.status) as ResponseOf<Spec<C>>
      return { status: packet.status, response }
    } catch (err) {
      throw new MalformedResponseError(id, (err as Error).message)
    }
  }

  /** `request()` for commands whose only success is 000, returning the response alone. */
  async call<C extends SpokenCommand>(id: C, request: RequestOf<Spec<C>>, options?: RequestOptions): Promise<ResponseOf<Spec<C>>> {
    return (await this.request(id, request, options)).response
  }
}
