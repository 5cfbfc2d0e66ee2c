/**
 * `status` and `list_devices` answered from what the actors publish — their snapshots — without
 * a round trip through the session and context actors (which only read there anyway). The actors
 * stay the only writers of that state; this reads it, and keeps the last answer per snapshot so a
 * page polling `status` gets the same small object while nothing changes.
 *
 * A `status` is answered here only when it would change nothing: the context is live and the
 * asking connection is already attached to it. The first `status` naming a context creates it
 * and attaches the connection, so it takes the actors' path.
 */
import type { Actor, AnyActorRef, AnyMachineSnapshot } from 'xstate'
import type { bridgeMachine, DeviceListEntry } from '../../machines/bridge.machine.js'
import { statusOf } from '../../machines/context-values.js'
import type { ContextContext } from '../../machines/context-values.js'
import type { Request, StatusResponse } from '../../machines/protocol.js'
import type { ContextRef, SessionRef } from '../../machines/refs.js'

interface CachedStatus {
  context: AnyMachineSnapshot
  device: unknown
  response: StatusResponse
}

export class QueryAnswers {
  #devices: { source: DeviceListEntry[]; response: unknown[] } | undefined
  readonly #status = new WeakMap<ContextRef, CachedStatus>()

  constructor(readonly root: Actor<typeof bridgeMachine>) {}

  /**
   * The response to a query, or undefined when the request must go through the actors.
   * `create` false (an unpaired connection under --require-pairing): a `status` naming a context
   * that does not exist is answered as that context would answer when new — idle, no device —
   * without creating it, so such a page cannot fill the bridge's contexts.
   */
  answer(session: SessionRef | undefined, context: string, request: Request, create = true): unknown {
    if (request.command === 'list_devices') return this.#listDevices()
    if (request.command !== 'status') return undefined
    if (!create && !Object.hasOwn(this.root.getSnapshot().context.contexts, context)) return this.#newContextStatus()
    return session ? this.#statusOf(session, context) : undefined
  }

  /** What a context's first status answers (machines/context-setup.ts, a context that is idle). */
  #newContextStatus(): StatusResponse {
    const count = this.root.getSnapshot().context.devices.length
    return { status: 'idle', connected_device_id: null, devices_available: count, available_devices: count }
  }

  #listDevices(): unknown[] {
    const devices = this.root.getSnapshot().context.devices
    if (this.#devices?.source !== devices) {
      // The bridge's own answer (machines/bridge.machine.ts, ROUTE), field for field.
      const response = devices.map((d) => ({ id: d.id, name: d.name, manufacturer: d.manufacturer, ...(d.kind ? { kind: d.kind } : {}), ...(d.path ? { path: d.path } : {}) }))
      this.#devices = { source: devices, response }
    }
    return this.#devices.response
  }

  #statusOf(session: SessionRef, name: string): StatusResponse | undefined {
    const contexts = this.root.getSnapshot().context.contexts
    const ref = Object.hasOwn(contexts, name) ? contexts[name] : undefined
    if (!ref) return undefined
    const snapshot = ref.getSnapshot() as AnyMachineSnapshot
    if (snapshot.status !== 'active' || !(snapshot.context as ContextContext).sessions.includes(session)) return undefined
    const device = (snapshot.children as Record<string, AnyActorRef | undefined>).device?.getSnapshot() as unknown
    const cached = this.#status.get(ref)
    if (cached?.context === snapshot && cached.device === device) return cached.response
    const response = statusOf(snapshot)
    this.#status.set(ref, { context: snapshot, device, response })
    return response
  }
}
