/**
 * The live view of the state machines: every inspection event (already sanitized by the
 * runtime, src/bridge/sanitize.ts) updates its actor's view and, for events, goes into a bounded
 * log; both are streamed to the devtools page (the inspector).
 */
import { EventEmitter } from 'node:events'
import type { InspectRecord } from '../../bridge/runtime-base.js'
import { systemClock, type Clock } from '../../clock.js'

export type { InspectRecord }

/** An actor as the inspector draws it: its machine's diagram with `state` highlighted. */
export interface ActorView {
  actor: string
  machine?: string
  /** The bridge context it belongs to (a context, its device), when it belongs to one. */
  contextName?: string
  /** The machine's state value. */
  state?: unknown
  /** The machine's own context (sanitized). */
  context?: unknown
  lastEvent?: unknown
  updatedAt: number
}

/** One event received by one actor, and the state it left the actor in. */
export interface LogEntry {
  seq: number
  /** Epoch milliseconds on the bridge's clock. */
  at: number
  actor: string
  machine?: string
  /** The bridge context it concerns, when known (filterable). */
  contextName?: string
  /** Who sent it, when another actor did. */
  source?: string
  type: string
  event: unknown
  /** The actor's state value after the event (machines only). */
  state?: unknown
}

/** How many events the hub keeps for a page that opens later. */
export const LOG_LIMIT = 2000

type HubEvents = { update: [ActorView]; log: [LogEntry]; gone: [string] }

/** Events of one actor still waiting for their snapshot: beyond this, the oldest go out without a state. */
const PENDING_LIMIT = 32

export class DevtoolsHub extends EventEmitter<HubEvents> {
  readonly #actors = new Map<string, ActorView>()
  readonly #log: LogEntry[] = []
  /**
   * Per machine actor, its events in the order they were sent: XState reports an event when it is
   * sent and the snapshot once it is processed, one snapshot per event, so each snapshot says the
   * state the oldest pending event led to. The entry is streamed then.
   */
  readonly #pending = new Map<string, LogEntry[]>()
  #seq = 0
  /** Past this many actors, the ended ones are forgotten (every connection leaves a session behind). */
  #pruneAt = 64

  /**
   * `clock`: what `updatedAt` and `at` are read from (default: the real one). `isLive`: whether an
   * actor (by systemId) still runs — the bridge's actor system knows it (default: all do).
   */
  constructor(
    readonly clock: Clock = systemClock,
    readonly isLive: (actor: string) => boolean = () => true,
  ) {
    super()
  }

  record(e: InspectRecord): void {
    const now = this.clock.now()
    // Promise and callback actors (readCard, watchLink…) have no diagram: their events go to the log only.
    const view = e.machine ? (this.#actors.get(e.actor) ?? { actor: e.actor, machine: e.machine, updatedAt: 0 }) : undefined
    if (view) {
      if (!this.#actors.has(e.actor) && this.#actors.size >= this.#pruneAt) {
        this.prune()
        this.#pruneAt = Math.max(64, this.#actors.size * 2)
      }
      this.#actors.set(e.actor, view)
      view.updatedAt = now
      if (e.context !== undefined && (e.machine === 'context' || e.machine === 'device')) view.contextName = e.context
    }
    if (e.type === '@xstate.event') {
      if (view) view.lastEvent = e.event
      const type = (e.event as { type?: unknown } | undefined)?.type
      const entry: LogEntry = {
        seq: ++this.#seq,
        at: now,
        actor: e.actor,
        ...(e.machine ? { machine: e.machine } : {}),
        ...(e.context !== undefined ? { contextName: e.context } : {}),
        ...(e.source !== undefined ? { source: e.source } : {}),
        type: typeof type === 'string' ? type : 'unknown',
        event: e.event,
      }
      this.#log.push(entry)
      if (this.#log.length > LOG_LIMIT) this.#log.shift()
      if (!view) return void this.emit('log', entry)
      const queue = this.#pending.get(e.actor) ?? []
      queue.push(entry)
      this.#pending.set(e.actor, queue)
      while (queue.length > PENDING_LIMIT) this.emit('log', queue.shift()!)
      return
    }
    if (!view || !e.snapshot) return
    view.state = e.snapshot.value
    view.context = e.snapshot.context
    const entry = this.#pending.get(e.actor)?.shift()
    if (entry) {
      entry.state = e.snapshot.value
      this.emit('log', entry)
    }
    this.emit('update', view)
  }

  /** The live machine actors with a state (those that ended are forgotten first). */
  actors(): ActorView[] {
    this.prune()
    return [...this.#actors.values()].filter((a) => a.state !== undefined)
  }

  /** Forgets the actors that ended (`gone` for each): their diagrams leave the page. */
  prune(): void {
    for (const name of [...this.#actors.keys()]) {
      if (this.isLive(name)) continue
      this.#actors.delete(name)
      for (const entry of this.#pending.get(name) ?? []) this.emit('log', entry)
      this.#pending.delete(name)
      this.emit('gone', name)
    }
  }

  /** The log, oldest first (at most LOG_LIMIT entries). */
  log(): LogEntry[] {
    return [...this.#log]
  }
}
