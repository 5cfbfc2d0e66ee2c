/**
 * Opening a pinpad: the port from the registry, the host link over it, who is on the other end
 * (CAN, OPN — the secure one when initialize asks for `secure_session` —, GIN/GIX, §3.2) — the Pinpad object the device machine holds while it is open.
 */
import { HostLink, type LinkTimings, type LinkTrace } from '../abecs/link.js'
import { PinpadClient } from '../abecs/client.js'
import type { DeviceRegistry } from '../transport/registry.js'
import type { CardVault } from '../card/vault.js'
import type { Logger } from '../log.js'
import { identifyPinpad } from './identify.js'
import { Pinpad } from './pinpad.js'
import { DeviceTimeoutError, LinkClosedError, NotSupportedError } from '../errors.js'
import { systemClock, type Clock } from '../clock.js'

export interface OpenPinpadDeps {
  registry: DeviceRegistry
  vault: CardVault
  logger: Logger
  /** Link timings (tests shorten them). */
  linkTimings?: Partial<LinkTimings>
  /** Every link trace (ids, sizes, NAKs, bad answers — never packet contents), for metrics. */
  onLinkTrace?: (deviceId: number, trace: LinkTrace) => void
  /** The clock of the link's waits, the open budget and the pinpad's idea of now (default: the real one). */
  clock?: Clock
}

export interface OpenPinpadParams {
  deviceId: number
  baudRate?: number
  /** A wrong or silent port must fail within this time (initialize's `timeout_milliseconds`). */
  timeoutMs?: number
  /** Open with the secure OPN (initialize's `secure_session`, §3.2.2, §5.2); a 1.x pinpad is refused. */
  secureSession?: boolean
}

export async function openPinpad(deps: OpenPinpadDeps, params: OpenPinpadParams, signal: AbortSignal): Promise<Pinpad> {
  const { deviceId, timeoutMs: budget } = params
  const stream = await deps.registry.open(deviceId, params.baudRate ? { baudRate: params.baudRate } : {})
  // Every wait is a share of the budget, so a wrong port fails within it.
  const timings: Partial<LinkTimings> = {
    ...deps.linkTimings,
    ...(budget ? { ackTimeoutMs: Math.min(2000, budget / 4), cancelTimeoutMs: Math.min(2000, budget / 4), maxCancels: 1, responseTimeoutMs: Math.min(10_000, budget / 2) } : {}),
  }
  const clock = deps.clock ?? systemClock
  const link = new HostLink(stream, timings, { clock })
  const client = new PinpadClient(link)
  link.on('trace', (e) => {
    deps.logger.trace({ device: deviceId, ...e }, 'link')
    deps.onLinkTrace?.(deviceId, e)
  })
  const timer = budget ? clock.setTimeout(() => void link.close(), budget) : undefined
  try {
    const identity = await identifyPinpad(client, { signal, ...(params.secureSession ? { secure: true } : {}) })
    if (params.secureSession && !identity.secureSession) {
      throw new NotSupportedError('secure_session', identity.specVersion, 'the pinpad answered the secure OPN the obsolete way, without a session key (§3.2.2): secure sessions need an ABECS 2.x pinpad (§5.2)')
    }
    return new Pinpad(deviceId, link, client, identity, deps.vault, clock)
  } catch (err) {
    await link.close().catch(() => {})
    if (budget && err instanceof LinkClosedError) throw new DeviceTimeoutError(budget)
    throw err
  } finally {
    clock.clearTimeout(timer)
  }
}
