/**
 * Typed commands over the link: encodes a request with its layout, exchanges it, checks the
 * status and decodes the response. The blocking flag and packet limit come from the command
 * table (§2.2.2, §3.1.3), never from the caller.
 */
import type { GenRequest, GenRequestOf, GenResponseOf, GenSubcommand } from './commands/generic.js'
import { COMMANDS, commandInfo, isBlocking, type RequestOf, type ResponseOf, type SpokenCommand } from './commands/index.js'
import { decodeResponse, encodeCommand } from './packet.js'
import { MAX_ABECS_DATA, MAX_CLASSIC_DATA } from './control.js'
import { MalformedResponseError } from '../errors.js'
import { PinpadStatusError } from './status-error.js'
import type { HostLink } from './link.js'
import type { RsaKeyPair } from '../crypto/rsa.js'
import { newSessionKeyPair, secureOpnRequest, sessionKeyFrom } from './secure-host.js'
import { ST } from './return-codes.js'

/** CLO/CLX end the secure session: they go sealed and are answered in clear (§5.2.2.3, §6.4.5). */
const CLOSES_SESSION = new Set(['CLO', 'CLX'])

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
    const blocking = isBlocking(id, options.contactlessReread) || ((spec as { blocking?: (r: unknown) => boolean }).blocking?.(request) ?? false)
    // OPN always goes in clear, and a new one replaces any session (§6.3.2).
    if (id === 'OPN') this.link.setSessionKey(undefined)
    const raw = await this.link.exchange(id, data, {
      blocking,
      maxLength: info.tlv ? MAX_ABECS_DATA : MAX_CLASSIC_DATA,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.onNotification ? { onNotification: options.onNotification } : {}),
    })
    if (CLOSES_SESSION.has(id)) this.link.setSessionKey(undefined)
    let packet
    try {
      packet = decodeResponse(raw)
    } catch (err) {
      throw new MalformedResponseError(id, (err as Error).message)
    }
    // §6.3.2: after ERR003/ERR009 the pinpad has dropped the secure session and counts as closed.
    if (packet.id === 'ERR' && (packet.status === ST.NOSEC || packet.status === ST.ERRPKTSEC)) this.link.setSessionKey(undefined)
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

  /**
   * Secure OPN (§3.2.2, §5.2.1): sends a fresh (or the given) RSA public key, opens KSEC with the
   * private key and from then on seals every command. Resolves false when the pinpad answered the
   * obsolete way (no OPN_CRKSEC: a 1.x pinpad), which leaves the link in clear.
   */
  async openSecure(options: RequestOptions & { keyPair?: RsaKeyPair } = {}): Promise<boolean> {
    const { keyPair = newSessionKeyPair(), ...rest } = options
    const res = await this.call('OPN', secureOpnRequest(keyPair), rest)
    if (res.OPN_CRKSEC === undefined) return false
    this.link.setSessionKey(sessionKeyFrom(keyPair, res.OPN_CRKSEC))
    return true
  }

  /** GEN (§3.8) with the answer typed by its subcommand. */
  async gen<K extends GenSubcommand>(request: GenRequestOf<K>, options?: RequestOptions): Promise<GenResponseOf<K>> {
    return (await this.call('GEN', request as unknown as GenRequest, options)) as GenResponseOf<K>
  }

  /** `request()` for commands whose only success is 000, returning the response alone. */
  async call<C extends SpokenCommand>(id: C, request: RequestOf<Spec<C>>, options?: RequestOptions): Promise<ResponseOf<Spec<C>>> {
    return (await this.request(id, request, options)).response
  }
}
