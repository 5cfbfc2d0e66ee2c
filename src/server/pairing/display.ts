/**
 * `mpos-bridge pair --on-pinpad`: the code also shown on a pinpad's screen, through the bridge's
 * own display path — a session of the bridge's own opens a free pinpad in the context
 * `mpos-bridge-pairing` (initialize, simple_initialize: no table sync), shows "PAREAMENTO 123456"
 * (display_message) and closes it (CLO) when the code ends: used, expired, voided or replaced.
 * A pinpad held by a till's context is never taken.
 */
import type { RuntimeBase as BridgeRuntime, SessionHandle } from '../../bridge/runtime-base.js'
import type { Outgoing } from '../../../machines/session.machine.js'
import type { Request } from '../../../machines/protocol.js'
import { coded, type ErrorValue } from '../../../machines/types.js'
import { sleep, type Clock } from '../../clock.js'
import type { Logger } from '../../log.js'
import { LinkResponseTimeoutError, NoDeviceError, PairingCodeExpiredError } from '../../errors.js'

export const PAIRING_CONTEXT = 'mpos-bridge-pairing'
/** The pinpad's own answer is bounded by initialize's timeout; this bounds the admin request as a whole. */
const STEP_LIMIT_MS = 20_000

type Reply = Extract<Outgoing, { kind: 'reply' }>
export type DisplayResult = { ok: true; deviceId: number } | { ok: false; error: ErrorValue }

/** The bridge's own session on the pairing context; replies are matched by command (one of each at a time). */
interface DisplaySession {
  handle: SessionHandle
  waiting: Map<string, (reply: Reply) => void>
}

export class PinpadCodeDisplay {
  #current: DisplaySession | undefined
  /** Bumped by every show and clear: a show overtaken by them stops. */
  #generation = 0
  /** The clears under way: a new show waits for the pinpad (and the context's name) to be free. */
  #clearing: Promise<void> = Promise.resolve()

  constructor(
    readonly runtime: () => BridgeRuntime | undefined,
    readonly clock: Clock,
    readonly log: Logger,
  ) {}

  async show(code: string, deviceId?: number): Promise<DisplayResult> {
    void this.clear()
    await this.#clearing
    const generation = ++this.#generation
    const runtime = this.runtime()
    if (!runtime) return { ok: false, error: coded(new NoDeviceError()) }
    // serve loads the machines on the first connection: this may be it.
    if (!runtime.coreLoaded) {
      await runtime.loadCore()
      if (generation !== this.#generation) return { ok: false, error: coded(new PairingCodeExpiredError('it ended before it was shown')) }
    }
    const waiting = new Map<string, (reply: Reply) => void>()
    const session: DisplaySession = {
      waiting,
      handle: runtime.openSession((message) => {
        if (message.kind === 'reply') waiting.get(message.command)?.(message)
      }),
    }
    this.#current = session
    const overtaken = () => generation !== this.#generation
    const init = await this.#ask(session, { command: 'initialize', encryption_key: 'pairing', simple_initialize: true, ...(deviceId !== undefined ? { device_id: deviceId } : {}) })
    if (overtaken()) return { ok: false, error: coded(new PairingCodeExpiredError('it ended before it was shown')) }
    if (!init.success) {
      await this.clear()
      return { ok: false, error: init.error }
    }
    const status = await this.#ask(session, { command: 'status' })
    const shown = await this.#ask(session, { command: 'display_message', message: `PAREAMENTO ${code}` })
    if (overtaken()) return { ok: false, error: coded(new PairingCodeExpiredError('it ended before it was shown')) }
    if (!shown.success) {
      await this.clear()
      return { ok: false, error: shown.error }
    }
    const id = (status.success ? (status.response as { connected_device_id?: number }).connected_device_id : undefined) ?? deviceId ?? 0
    this.log.info({ device: id }, 'pairing code shown on the pinpad')
    return { ok: true, deviceId: id }
  }

  /** Closes the pinpad showing a code (CLO) and ends the bridge's session. */
  clear(): Promise<void> {
    this.#generation++
    const session = this.#current
    this.#current = undefined
    if (!session) return this.#clearing
    const closed = this.#ask(session, { command: 'close' }).then(() => session.handle.close())
    this.#clearing = Promise.all([this.#clearing, closed]).then(() => undefined)
    return this.#clearing
  }

  /** One request of the bridge's session, and its reply. */
  async #ask(session: DisplaySession, request: Request): Promise<Reply & { error: ErrorValue }> {
    const reply = new Promise<Reply>((resolve) => session.waiting.set(request.command, resolve))
    session.handle.send(PAIRING_CONTEXT, request)
    const stop = new AbortController()
    const limit = sleep(this.clock, STEP_LIMIT_MS, stop.signal).then(() => failed(request))
    const answer = await Promise.race([reply, limit])
    stop.abort()
    session.waiting.delete(request.command)
    return answer as Reply & { error: ErrorValue }
  }
}

const failed = (request: Request) =>
  ({ kind: 'reply', id: '', context: PAIRING_CONTEXT, command: request.command, success: false, error: coded(new LinkResponseTimeoutError(request.command, STEP_LIMIT_MS)) }) as Reply & { error: ErrorValue }
